"""The cost of one arithmetic thread per kernel (issue 24.6), side by side with the grader as
it was, on this machine in one run.

Before, a kernel's TensorFlow and BLAS pools followed ``-j`` (all cores at ``-j 1``, ``cores /
N`` at ``-j N``), so the same notebook measured another accuracy at another ``-j``. Now every
kernel, judge and calibration computes with one thread. This script times, with each checkout's
own interpreter and a shared calibration cache per checkout (warmed first, untimed):

* ``grader check`` of one notebook (the student's self-check, a kernel alone on the machine);
* ``grader grade -j 2`` of a hand-in of four notebooks (every notebook graded again).

    python benchmarks/thread_cost.py --before /work/main --after . [--repeats 2]

Each checkout is a folder with ``.venv/bin/python`` and its ``grader`` package. Prints seconds
per command (median of the repeats), the accuracies each measured (same at every ``-j`` only
after the change), and the load average before and after each command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assignments" / "cifar10_transfer" / "submissions"
NOTEBOOKS = ("full_marks", "wrong_kernel_size", "not_frozen", "wrong_dense_width")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(checkout: Path, cache: Path, *args: str) -> float:
    python = checkout / ".venv" / "bin" / "python"
    env = {**os.environ, "GRADER_CACHE_DIR": str(cache)}
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        env.pop(name, None)
    started = time.monotonic()
    subprocess.run(
        [str(python), "-m", "grader", *args],
        cwd=checkout,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def fresh_copy(example: str, dest: Path) -> Path:
    """The example with a new token: a new cache key, so a batch grades it again."""
    nb = json.loads((EXAMPLES / f"{example}.ipynb").read_text())
    nb["metadata"]["bench_token"] = uuid.uuid4().hex
    dest.write_text(json.dumps(nb))
    return dest


def accuracies(out: Path, student: str) -> str:
    result = json.loads((out / student / "result.json").read_text())
    return " / ".join(
        f"{c['details'].get('accuracy', float('nan')):.3f}"
        for c in result["checks"]
        if c["id"].endswith("accuracy")
    )


def checked_accuracies(notebook: Path) -> str:
    """The accuracies ``grader check`` wrote in the report beside the notebook."""
    report = notebook.with_suffix(".report.md").read_text()
    return " / ".join(
        f"{float(x) / 100:.3f}" for x in re.findall(r"accuracy ([0-9.]+)% on", report)
    )


def measure(name: str, checkout: Path, repeats: int, tmp: Path) -> dict[str, str]:
    cache = tmp / f"cache-{name}"
    notebook = fresh_copy("wrong_kernel_size", tmp / f"{name}-check.ipynb")
    run(checkout, cache, "check", str(notebook), "-a", "cifar10_transfer")  # calibrates
    checks, batches, seen, alone = [], [], [], []
    for i in range(repeats):
        before = load()
        checks.append(run(checkout, cache, "check", str(notebook), "-a", "cifar10_transfer"))
        print(f"{name} check #{i}: {checks[-1]:.1f} s (load {before} -> {load()})", flush=True)
        alone.append(checked_accuracies(notebook))
        hand_in = tmp / f"{name}-hand-in-{i}"
        hand_in.mkdir()
        for j, example in enumerate(NOTEBOOKS):
            fresh_copy(example, hand_in / f"s{j}_{example}.ipynb")
        out = tmp / f"{name}-out-{i}"
        before = load()
        batches.append(
            run(
                checkout,
                cache,
                "grade",
                str(hand_in),
                "-a",
                "cifar10_transfer",
                "--budget",
                "smoke",
                "-j",
                "2",
                "--out",
                str(out),
            )
        )
        print(f"{name} -j 2 #{i}: {batches[-1]:.1f} s (load {before} -> {load()})", flush=True)
        seen.append(accuracies(out, "s1_wrong_kernel_size"))
    shutil.rmtree(cache, ignore_errors=True)
    return {
        "check_s": f"{statistics.median(checks):.1f}",
        "batch_s": f"{statistics.median(batches):.1f}",
        "check": ", ".join(alone),
        "-j 2": ", ".join(seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thread-cost-") as tmp:
        rows = {
            "before (threads follow -j)": measure(
                "before", args.before.resolve(), args.repeats, Path(tmp)
            ),
            "after (1 thread)": measure("after", args.after.resolve(), args.repeats, Path(tmp)),
        }
    print(f"\n{'':28} {'grader check':>13} {'-j 2, 4 notebooks':>18}  wrong_kernel_size accuracies")
    for label, row in rows.items():
        print(
            f"{label:28} {row['check_s']:>11} s {row['batch_s']:>16} s  "
            f"check {row['check']}; -j 2 {row['-j 2']}"
        )
    print(f"load average now: {load()} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
