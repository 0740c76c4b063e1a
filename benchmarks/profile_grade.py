"""Where a grade's time goes: one notebook graded through the CLI, its phases from result.json.

Every grade records its phases in ``result.json``'s ``timings`` (see
:attr:`grader.results.GradeResult.timings`); this script grades a notebook with the CLI (the
process start and imports count, as they do for a user), then prints the breakdown: the CLI's
own start-up (wall time minus the pipeline's total), loading the rubric, data, calibration
lookup, sandbox set-up, kernel start, the grader's setup cell (the kernel's Keras import and
data), each student cell (cells that call ``fit`` marked), evidence taken after the cells,
saving the models, judging (the judge's wait for its own start-up included), the reports.

``--compare-warm`` runs each grade twice, side by side: with ``GRADER_WARM_KERNELS=0`` (every
kernel started when the notebook is about to run, the "before") and with warm kernels (the
kernel started first thing); it also times ``grader check`` both ways.

    python benchmarks/profile_grade.py [--notebook PATH] [--budget standard] [--runs 1]
        [--assignment cifar10_transfer] [--compare-warm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "assignments" / "cifar10_transfer" / "submissions" / "full_marks.ipynb"
PIPELINE = ("rubric", "data", "calibrate", "sandbox")
KERNEL = ("kernel_start", "setup_cell", "cells", "evidence", "finish_cell", "kernel_stop")
AFTER = ("checks", "reports")


def profile(
    notebook: Path, assignment: str, budget: str, env: dict[str, str]
) -> tuple[float, dict[str, float], list[dict[str, t.Any]]]:
    """Grade ``notebook`` once with the CLI; its wall seconds, timings and cells."""
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        command = [sys.executable, "-m", "grader", "grade", str(notebook), "-a", assignment]
        command += ["--budget", budget, "--force", "--out", tmp]
        started = time.monotonic()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        wall = time.monotonic() - started
        result = json.loads((Path(tmp) / notebook.stem / "result.json").read_text())
    return wall, result["timings"], result["cells"]


def check_wall(notebook: Path, assignment: str, env: dict[str, str]) -> float:
    """Wall seconds of ``grader check`` on a copy of ``notebook``."""
    with tempfile.TemporaryDirectory(prefix="profile-check-") as tmp:
        copy = Path(tmp) / notebook.name
        shutil.copy(notebook, copy)
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "grader", "check", str(copy), "-a", assignment],
            stdout=subprocess.DEVNULL,
            env=env,
            check=False,  # a check that finds failures exits non-zero
        )
        return time.monotonic() - started


def rows(wall: float, timings: dict[str, float], cells: list[dict[str, t.Any]]) -> dict[str, float]:
    """The breakdown, phase name -> seconds, in the order of a grade."""
    out = {"CLI start-up and imports": wall - timings["total"]}
    out.update({name: timings.get(name, 0.0) for name in (*PIPELINE, *KERNEL[:2])})
    for cell in cells:
        fit = " (fit)" if ".fit(" in cell["source"] else ""
        out[f"  cell {cell['index']}{fit}"] = cell["duration_s"]
    out.update({name: timings.get(name, 0.0) for name in (*KERNEL[2:], *AFTER)})
    out["total (pipeline)"] = timings["total"]
    out["wall"] = wall
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--assignment", default="cifar10_transfer")
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--compare-warm", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    modes = ("0", "1") if args.compare_warm else (os.environ.get("GRADER_WARM_KERNELS", "1"),)
    for run in range(args.runs):
        table = {}
        for warm in modes:
            env = {**os.environ, "GRADER_WARM_KERNELS": warm}
            table[warm] = rows(*profile(args.notebook, args.assignment, args.budget, env))
        print(f"\nrun {run + 1}: {args.budget}")
        print(
            f"  {'phase':<28}"
            + "".join(f" {'warm ' + ('on' if m == '1' else 'off'):>9}" for m in modes)
        )
        for name in table[modes[0]]:
            print(f"  {name:<28}" + "".join(f" {table[m].get(name, 0.0):9.2f}" for m in modes))
        if args.compare_warm:
            checks = {
                m: check_wall(
                    args.notebook, args.assignment, {**os.environ, "GRADER_WARM_KERNELS": m}
                )
                for m in modes
            }
            print(f"  {'grader check (wall)':<28}" + "".join(f" {checks[m]:9.2f}" for m in modes))
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
