"""``grader check`` against its floor: the notebook's own cells (issue 27's goal: cells + ~2 s).

Runs ``grader check`` of one example notebook (a fresh copy each time, calibration cached) with
one or more grader commands, alternated RUNS times so that the machine's load falls on each
alike, and prints per run: the wall time, the notebook's own cells (``cells`` in the report's
timings), what lies above them (wall minus cells: start-up, kernel start and Keras import,
judging, reports), the kernel start and judging phases, and the load average before and after.

    python benchmarks/check_floor.py [--grader NAME=PATH ...] [--runs 2] [--notebook PATH]

Each ``--grader`` is a ``grader`` executable (another checkout's ``.venv/bin/grader`` is the
"before"); the default is this interpreter's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "assignments" / "cifar10_transfer" / "submissions" / "full_marks.ipynb"
PHASES = ("cells", "kernel_start", "checks")


def check_once(grader: str, notebook: Path, assignment: str) -> dict[str, float]:
    """One ``grader check`` of a copy of ``notebook``: wall seconds, phases, load before/after."""
    with tempfile.TemporaryDirectory(prefix="check-floor-") as tmp:
        copy = Path(tmp) / notebook.name
        shutil.copy(notebook, copy)
        load = os.getloadavg()[0]
        started = time.monotonic()
        done = subprocess.run(
            [grader, "check", str(copy), "-a", assignment],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
        report = copy.with_name(f"{copy.stem}.report.md")
        if not report.is_file():
            raise SystemExit(f"{grader} check wrote no report:\n{done.stderr[-2000:]}")
        text = report.read_text(encoding="utf-8")
    timings = {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", _timings_line(text))}
    return {
        "wall": wall,
        **{name: timings.get(name, 0.0) for name in PHASES},
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def _timings_line(report: str) -> str:
    for line in report.splitlines():
        if "**Timings:**" in line:
            return line
    raise SystemExit("the report has no timings line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grader", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--assignment", default="cifar10_transfer")
    args = parser.parse_args()
    graders = dict(g.split("=", 1) for g in args.grader) or {
        "this": str(Path(sys.executable).parent / "grader")
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in graders}
    print(f"{'grader':<8} {'wall':>7} {'cells':>7} {'above':>7} {'kernel':>7} {'judge':>7}  load")
    for _ in range(args.runs):
        for name, grader in graders.items():
            r = check_once(grader, args.notebook, args.assignment)
            rows[name].append(r)
            print(
                f"{name:<8} {r['wall']:7.1f} {r['cells']:7.1f} {r['wall'] - r['cells']:7.1f} "
                f"{r['kernel_start']:7.1f} {r['checks']:7.1f}  "
                f"{r['load_before']:.2f} -> {r['load_after']:.2f}",
                flush=True,
            )
    print("\nmedians (seconds): wall, cells, wall above the cells")
    for name, runs in rows.items():
        wall = statistics.median(r["wall"] for r in runs)
        cells = statistics.median(r["cells"] for r in runs)
        above = statistics.median(r["wall"] - r["cells"] for r in runs)
        print(f"{name:<8} {wall:7.1f} {cells:7.1f} {above:7.1f}")


if __name__ == "__main__":
    main()
