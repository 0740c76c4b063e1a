"""The PyTorch assignments: grading time against full execution, and the reference's accuracy
at each budget, measured side by side in one run on this machine.

Full execution is what nbgrader or otter do: run the solution notebook as written (30 epochs per
model for CIFAR-10, 10 for MNIST, on all the training images), with no budget. The only change
is one cell in front that serves ``torchvision.datasets`` from the grader's data file (torchvision
would otherwise download them), with no cap, so both runs see the same images and neither
touches the network. ``--full-epochs N`` caps the full run's training passes per model (CIFAR-10's
30 epochs of two CNNs take hours on a CPU) and the row says so.

    python benchmarks/torch_grading_speed.py [--assignment NAME ...] [--full-epochs N]
        [--skip-grade] [--skip-full] [--reference-budgets smoke standard [full]]

Prints seconds and peak memory for each run, the standard/full ratio, and the reference's
held-out accuracy at each budget (with the time its calibration took); ``uptime``'s load
average before and after, since the machine may be shared, and the device PyTorch trains on
(the reference and a notebook as written use the GPU when there is one; a graded kernel is
confined to the CPU).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

from grading_speed import measured

ROOT = Path(__file__).resolve().parent.parent

OFFLINE_DATA = """\
from grader.framework.pytorch.kernel.runtime import Runtime
_runtime = Runtime({{"dataset": {dataset!r}, "data_path": {path!r}, "data_note": "benchmark",
    "budget": {{"name": "full", "max_epochs": {epochs!r}}},
    "torch": {{"input_shape": [], "quiet": True}}}})
_runtime.install()
"""


def full_execution(notebook: Path, data_file: Path, dataset: str, epochs: int | None) -> None:
    """Run the notebook with nbclient as a notebook-level grader would, data served offline."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    prelude = OFFLINE_DATA.format(dataset=dataset, path=str(data_file), epochs=epochs)
    nb.cells.insert(0, nbformat.v4.new_code_cell(prelude))
    with tempfile.TemporaryDirectory() as work:
        NotebookClient(
            nb, timeout=6 * 3600, kernel_name="python3", resources={"metadata": {"path": work}}
        ).execute()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def grade_rows(name: str, notebook: Path, tmp: Path) -> list[tuple[str, float, float, str]]:
    """A ``standard`` grade with a cold calibration cache (in this process), then the CLI's with
    the cache warm."""
    from grader.options import GradeOptions
    from grader.pipeline import grade
    from grader.rubric.load import load_assignment

    started = time.monotonic()
    result = grade(
        notebook,
        assignment=load_assignment(name),
        out=tmp / f"{name}-cold",
        options=GradeOptions(budget="standard"),
    )
    cold = time.monotonic() - started
    grader = str(Path(sys.executable).parent / "grader")
    out = str(tmp / f"{name}-warm")
    warm = measured(
        grader, "grade", str(notebook), "-a", name, "--budget", "standard", "--out", out
    )
    return [
        (f"{name}: grade --budget standard, cold cache", cold, math.nan, f"score {result.score:g}"),
        (f"{name}: grade --budget standard, warm cache", *warm, ""),
    ]


def rows_for(
    name: str,
    tmp: Path,
    *,
    skip_grade: bool = False,
    skip_full: bool,
    epochs: int | None,
    budgets: list[str],
    report: t.Callable[[tuple[str, float, float, str]], None] = lambda row: None,
) -> list[tuple[str, float, float, str]]:
    """One assignment's rows, each also given to ``report`` as soon as it is measured."""
    from grader.calibrate import train_and_measure
    from grader.data.prepare import prepare_data
    from grader.rubric.load import load_assignment

    spec = load_assignment(name)
    notebook = spec.folder / "submissions" / "full_marks.ipynb"
    rows: list[tuple[str, float, float, str]] = []

    def add(row: tuple[str, float, float, str]) -> None:
        rows.append(row)
        report(row)

    prepared = prepare_data(
        spec.dataset, data_dir=None, seed=spec.seed, held_back=spec.held_back, secret=None
    )
    warm_seconds = math.nan
    if not skip_grade:
        for row in grade_rows(name, notebook, tmp):
            add(row)
        warm_seconds = rows[-1][1]
    if not skip_full:
        data_file = prepared.kernel_file  # what the kernel is served: no held-back images
        command = [sys.executable, __file__, "--full-only", str(data_file)]
        command += ["--notebook", str(notebook), "--dataset", spec.dataset]
        if epochs is not None:
            command += ["--full-epochs", str(epochs)]
        label = "full execution" + (f", {epochs} epoch(s) per model" if epochs else ", no budget")
        full = measured(*command)
        add((f"{name}: {label}", *full, f"standard / full {warm_seconds / full[0]:.2f}"))
    for budget in budgets:
        started = time.monotonic()
        accuracy = train_and_measure(spec, spec.plan(budget), prepared.visible, prepared.held_out)
        shown = ", ".join(f"{check} {value:.1%}" for check, value in accuracy.items())
        add((f"{name}: reference at '{budget}'", time.monotonic() - started, math.nan, shown))
    return rows


def training_device() -> str:
    """Where the reference and a notebook as written train: the GPU when PyTorch sees one."""
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)}), torch {torch.__version__}"
    return f"cpu ({os.cpu_count()} cores), torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", nargs="*", default=["mnist_cnn_torch", "cifar10_cnn_torch"])
    parser.add_argument("--full-epochs", type=int, default=None)
    parser.add_argument("--skip-grade", action="store_true")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--reference-budgets", nargs="*", default=["smoke", "standard"])
    parser.add_argument("--full-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--notebook", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full_only:
        full_execution(args.notebook, args.full_only, args.dataset, args.full_epochs)
        return
    print("before:", uptime(), "|", training_device(), flush=True)
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-torch-") as tmp:
        os.environ.setdefault("GRADER_CACHE_DIR", str(Path(tmp) / "cache"))
        for name in args.assignment:
            rows += rows_for(
                name,
                Path(tmp),
                skip_grade=args.skip_grade,
                skip_full=args.skip_full,
                epochs=args.full_epochs,
                budgets=args.reference_budgets,
                report=lambda row: print("row:", *row, "|", uptime(), flush=True),
            )
    print("after: ", uptime())
    width = max(len(name) for name, *_ in rows)
    print(f"{'':<{width}}  {'seconds':>8}  {'peak GB':>8}")
    for name, seconds, gb, note in rows:
        print(f"{name:<{width}}  {seconds:8.1f}  {gb:8.2f}  {note}")


if __name__ == "__main__":
    main()
