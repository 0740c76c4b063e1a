"""Where a grade's time goes: one notebook graded through the CLI, its phases from result.json.

Every grade records its phases in ``result.json``'s ``timings`` (see
:attr:`grader.results.GradeResult.timings`); this script grades a notebook with the CLI (the
process start and imports count, as they do for a user), then prints the breakdown: the CLI's
own start-up (wall time minus the pipeline's total), loading the rubric, data, calibration
lookup, sandbox set-up, kernel start, the grader's setup cell (the kernel's Keras import and
data), each student cell (cells that call ``fit`` marked), evidence taken after the cells,
saving the models, judging (the judge's wait for its own start-up included), the reports.

    python benchmarks/profile_grade.py [--notebook PATH] [--budget standard] [--runs 1]
        [--assignment cifar10_transfer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "assignments" / "cifar10_transfer" / "submissions" / "full_marks.ipynb"
PIPELINE = ("rubric", "data", "calibrate", "sandbox")
KERNEL = ("kernel_start", "setup_cell", "cells", "evidence", "finish_cell", "kernel_stop")
AFTER = ("checks", "reports")


def profile(notebook: Path, assignment: str, budget: str) -> tuple[float, dict[str, float], list]:  # type: ignore[type-arg]
    """Grade ``notebook`` once with the CLI; its wall seconds, timings and cells."""
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grader",
                "grade",
                str(notebook),
                "--assignment",
                assignment,
                "--budget",
                budget,
                "--force",
                "--out",
                tmp,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.monotonic() - started
        result = json.loads((Path(tmp) / notebook.stem / "result.json").read_text())
    return wall, result["timings"], result["cells"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--assignment", default="cifar10_transfer")
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    for run in range(args.runs):
        wall, timings, cells = profile(args.notebook, args.assignment, args.budget)
        print(f"\nrun {run + 1}: {args.budget}, wall {wall:.2f} s")
        print(f"  {'CLI start-up and imports':<28} {wall - timings['total']:6.2f}")
        for name in (*PIPELINE, *KERNEL[:2]):
            print(f"  {name:<28} {timings.get(name, 0.0):6.2f}")
        for cell in cells:
            fit = " (fit)" if ".fit(" in cell["source"] else ""
            print(f"    cell {cell['index']:<3}{fit:<19} {cell['duration_s']:6.2f}")
        for name in (*KERNEL[2:], *AFTER):
            print(f"  {name:<28} {timings.get(name, 0.0):6.2f}")
        print(f"  {'total (pipeline)':<28} {timings['total']:6.2f}")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
