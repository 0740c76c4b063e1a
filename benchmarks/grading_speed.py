"""Grading time against full execution, measured side by side in one run on this machine.

Full execution is what nbgrader or otter do: run the notebook as written (here the seed-000
solution, 10 epochs per fit on the whole training set), with no budget. The only change is one
cell in front that makes ``cifar10.load_data`` read the grader's data set from a file (Keras
would otherwise try to download CIFAR-10), so both runs see the same images and neither
touches the network.

    python benchmarks/grading_speed.py [--skip-full] [--notebook PATH]
        [--course ASSIGNMENT ...] [--full-epochs N]

Prints seconds for each run, the standard/full ratio (target <= 1/8), the student self-check
time (target < 20 s), and peak memory. ``--course`` adds, for each named assignment, its
full-marks example graded at ``standard`` next to its full execution; ``--full-epochs`` caps the
epochs of those full runs (VGG19's 25 epochs on 50,000 images take hours on a CPU), and the
row says so.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "assignments" / "cifar10_transfer" / "submissions" / "full_marks.ipynb"


def measured(*command: str) -> tuple[float, float]:
    """Run a command; return its wall seconds and the peak memory (GB) of it or any descendant."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    return time.monotonic() - started, usage.ru_maxrss / 1024**2


OFFLINE_DATA = """\
import keras, numpy as np
def _load(path={path!r}):
    with np.load(path) as z:
        return (z["x_train"], z["y_train"]), (z["x_test"], z["y_test"])
keras.datasets.{dataset}.load_data = _load
"""

# VGG19's ImageNet weights cannot be downloaded here either: full runs start from random ones.
OFFLINE_WEIGHTS = """\
import functools, keras.applications, keras.applications.vgg19
_vgg19 = keras.applications.vgg19.VGG19
@functools.wraps(_vgg19)
def _offline_vgg19(*args, **kwargs):
    kwargs["weights"] = None
    return _vgg19(*args, **kwargs)
keras.applications.VGG19 = keras.applications.vgg19.VGG19 = _offline_vgg19
"""

# Caps every fit's epochs, for a full run that would otherwise take hours.
EPOCH_CAP = """\
import keras
_fit = keras.Model.fit
def _capped_fit(self, *args, epochs=1, **kwargs):
    return _fit(self, *args, epochs=min(epochs, {epochs}), **kwargs)
keras.Model.fit = _capped_fit
"""


def full_execution(
    notebook: Path, data_file: Path, dataset: str = "cifar10", epochs: int | None = None
) -> float:
    """Run the notebook with nbclient as a notebook-level grader would, data served offline."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    prelude = OFFLINE_DATA.format(path=str(data_file), dataset=dataset) + OFFLINE_WEIGHTS
    if epochs is not None:
        prelude += EPOCH_CAP.format(epochs=epochs)
    nb.cells.insert(0, nbformat.v4.new_code_cell(prelude))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        NotebookClient(
            nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": work}}
        ).execute(env=env)
    return time.monotonic() - started


def grader_cli(*args: str) -> tuple[float, float]:
    return measured(str(Path(sys.executable).parent / "grader"), *args)


def course_rows(
    name: str, tmp_path: Path, *, skip_full: bool, epochs: int | None
) -> list[tuple[str, float, float]]:
    """One assignment's full-marks example: standard grade (cold and warm) and full execution."""
    from grader.data import sets as data
    from grader.options import GradeOptions
    from grader.pipeline import grade
    from grader.rubric.load import load_assignment

    spec = load_assignment(name)
    standard = GradeOptions(budget="standard")
    notebook = spec.folder / "submissions" / "full_marks.ipynb"
    started = time.monotonic()
    grade(notebook, assignment=spec, out=tmp_path / f"{name}-cold", options=standard)
    rows = [(f"{name}: grade --budget standard, cold cache", time.monotonic() - started, math.nan)]
    out = str(tmp_path / f"{name}-warm")
    warm = grader_cli("grade", str(notebook), "-a", name, "--budget", "standard", "--out", out)
    rows.append((f"{name}: grade --budget standard, warm cache", *warm))
    if not skip_full:
        data_file = tmp_path / f"{spec.dataset}.npz"
        if not data_file.is_file():
            data.write_npz(data.load(spec.dataset, seed=spec.seed), data_file)
        command = [sys.executable, __file__, "--notebook", str(notebook), "--dataset", spec.dataset]
        command += ["--full-only", str(data_file)]
        if epochs is not None:
            command += ["--full-epochs", str(epochs)]
        label = "full execution" + (f", epochs capped at {epochs}" if epochs else ", no budget")
        rows.append((f"{name}: {label}", *measured(*command)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--skip-full", action="store_true", help="skip the ~2-minute full run")
    parser.add_argument("--full-only", type=Path, metavar="DATA_NPZ", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="cifar10", help=argparse.SUPPRESS)
    parser.add_argument(
        "--course",
        nargs="*",
        default=[],
        metavar="ASSIGNMENT",
        help="also time these assignments' full-marks examples (standard grade and full run)",
    )
    parser.add_argument(
        "--full-epochs", type=int, default=None, help="cap the epochs of --course full runs"
    )
    args = parser.parse_args()
    if args.full_only:
        full_execution(args.notebook, args.full_only, args.dataset, args.full_epochs)
        return

    from grader.data import sets as data
    from grader.options import GradeOptions
    from grader.pipeline import grade
    from grader.rubric.load import load_assignment

    spec = load_assignment("cifar10_transfer")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp_path = Path(tmp)
        os.environ["GRADER_CACHE_DIR"] = str(tmp_path / "cache")
        ds = data.load(spec.dataset, seed=spec.seed)
        data_file = tmp_path / "cifar10.npz"
        data.write_npz(ds, data_file)

        rows: list[tuple[str, float, float]] = []
        started = time.monotonic()
        grade(
            args.notebook,
            assignment=spec,
            out=tmp_path / "cold",
            options=GradeOptions(budget="standard"),
        )
        rows.append(
            (
                "grade --budget standard, cold cache (calibrates the reference)",
                time.monotonic() - started,
                math.nan,
            )
        )
        standard, standard_gb = grader_cli(
            "grade",
            str(args.notebook),
            "-a",
            spec.id,
            "--budget",
            "standard",
            "--out",
            str(tmp_path / "warm"),
        )
        rows.append(
            ("grade --budget standard (grader CLI, warm calibration cache)", standard, standard_gb)
        )
        # Warm the smoke calibration first, as any earlier submission of a class run would.
        grader_cli(
            "grade",
            str(args.notebook),
            "-a",
            spec.id,
            "--budget",
            "smoke",
            "--out",
            str(tmp_path / "smoke"),
        )
        copy = tmp_path / "student.ipynb"
        copy.write_bytes(args.notebook.read_bytes())
        rows.append(
            ("grader check (smoke budget, student self-check)", *grader_cli("check", str(copy)))
        )
        if not args.skip_full:
            full, full_gb = measured(
                sys.executable,
                __file__,
                "--notebook",
                str(args.notebook),
                "--full-only",
                str(data_file),
            )
            rows.append(("full execution, no budget (as nbgrader/otter run it)", full, full_gb))
        for name in args.course:
            rows += course_rows(name, tmp_path, skip_full=args.skip_full, epochs=args.full_epochs)

    width = max(len(name) for name, *_ in rows)
    print(f"\nnotebook: {args.notebook.relative_to(ROOT)}  data: {ds.description}")
    print(f"{'':<{width}}  {'seconds':>8}  {'peak GB':>8}")
    for name, seconds, gb in rows:
        print(f"{name:<{width}}  {seconds:8.1f}  {gb:8.2f}")
    if not args.skip_full:
        print(f"{'ratio standard / full':<{width}}  {standard / full:8.3f}  (target <= 0.125)")


if __name__ == "__main__":
    main()
