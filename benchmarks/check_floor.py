"""``grader check`` against its floor: the notebook's own cells (issue 27's goal: cells + ~2 s).

Runs ``grader check`` of one example notebook (a fresh copy each time, calibration cached) with
one or more grader commands, alternated RUNS times so that the machine's load falls on each
alike, and prints per run: the wall time, the notebook's own cells (``cells`` in the report's
timings), what lies above them (wall minus cells: start-up, kernel start and Keras import,
judging, reports), the kernel start and judging phases, and the load average before and after.

    python benchmarks/check_floor.py [--grader NAME=COMMAND ...] [--runs 2] [--notebook PATH]

Each ``--grader`` is a ``grader`` command (another checkout's ``.venv/bin/grader`` is the
"before"; ``'fresh=env GRADER_FORK_SERVERS=0 .venv/bin/grader'`` this one without its
fork-servers); the default is this interpreter's.

    python benchmarks/check_floor.py --keep-warm [--runs 2] [--settle 20]

times a student's repeated check instead: per run, a check with ``--keep-warm`` (``cold``: it
starts its own kernel, then leaves the next one prepared), a wait until the holder is ready
plus SETTLE seconds (a student reading the report), and the next check of the same notebook
(``prepared``: it runs in the prepared kernel; ``prepared`` is ``no`` when it did not). It
prints the memory the waiting holder, kernel and judge hold (RSS and PSS), and uses a runtime
folder of its own, so a holder of the user's is never taken.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
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
        return _timed_check(grader, notebook, Path(tmp), assignment)


def _timed_check(
    grader: str,
    notebook: Path,
    folder: Path,
    assignment: str,
    *extra: str,
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    """``grader check`` of a fresh copy of ``notebook`` in ``folder``, timed."""
    copy = folder / notebook.name
    shutil.copy(notebook, copy)
    load = os.getloadavg()[0]
    started = time.monotonic()
    done = subprocess.run(
        [*shlex.split(grader), "check", str(copy), "-a", assignment, *extra],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    wall = time.monotonic() - started
    report = copy.with_name(f"{copy.stem}.report.md")
    if done.returncode != 0 or not report.is_file():
        raise SystemExit(f"{grader} check failed or wrote no report:\n{done.stderr[-2000:]}")
    text = report.read_text(encoding="utf-8")
    timings = {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", _timings_line(text))}
    return {
        "wall": wall,
        **{name: timings.get(name, 0.0) for name in PHASES},
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "prepared": float("kernel prepared after the last check" in done.stderr),
    }


def repeated_check(
    grader: str, notebook: Path, assignment: str, settle: float
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """A check with ``--keep-warm``, then the next one: both timed, and the holder's memory."""
    import psutil

    with tempfile.TemporaryDirectory(prefix="check-floor-") as tmp:
        folder = Path(tmp) / "hw"
        run = Path(tmp) / "run"
        folder.mkdir()
        run.mkdir(mode=0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(run)}
        cold = _timed_check(grader, notebook, folder, assignment, "--keep-warm", "10", env=env)
        state = run / "keras-notebook-grader" / "prepared-check.json"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                record = json.loads(state.read_text())
                if record["state"] == "ready":
                    break
            time.sleep(0.5)
        else:
            raise SystemExit("the holder never became ready")
        time.sleep(settle)
        holder = psutil.Process(record["pid"])
        tree = [holder, *holder.children(recursive=True)]
        memory = {"rss": 0.0, "pss": 0.0}
        for process in tree:
            with contextlib.suppress(psutil.Error):
                info = process.memory_full_info()
                memory["rss"] += info.rss / 2**20
                memory["pss"] += info.pss / 2**20
        prepared = _timed_check(grader, notebook, folder, assignment, env=env)
    return cold, prepared, memory


def _timings_line(report: str) -> str:
    for line in report.splitlines():
        if "**Timings:**" in line:
            return line
    raise SystemExit("the report has no timings line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grader", action="append", default=[], metavar="NAME=COMMAND")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--assignment", default="cifar10_transfer")
    parser.add_argument("--keep-warm", action="store_true", help="time a repeated check")
    parser.add_argument("--settle", type=float, default=20.0)
    args = parser.parse_args()
    graders = dict(g.split("=", 1) for g in args.grader) or {
        "this": str(Path(sys.executable).parent / "grader")
    }
    if args.keep_warm:
        graders = {"cold": graders[next(iter(graders))], "prepared": ""}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in graders}
    print(f"{'grader':<8} {'wall':>7} {'cells':>7} {'above':>7} {'kernel':>7} {'judge':>7}  load")
    for _ in range(args.runs):
        if args.keep_warm:
            cold, prepared, memory = repeated_check(
                graders["cold"], args.notebook, args.assignment, args.settle
            )
            runs = {"cold": cold, "prepared": prepared}
        else:
            runs = {
                name: check_once(grader, args.notebook, args.assignment)
                for name, grader in graders.items()
            }
        for name, r in runs.items():
            rows[name].append(r)
            print(
                f"{name:<8} {r['wall']:7.1f} {r['cells']:7.1f} {r['wall'] - r['cells']:7.1f} "
                f"{r['kernel_start']:7.1f} {r['checks']:7.1f}  "
                f"{r['load_before']:.2f} -> {r['load_after']:.2f}"
                + (f"  prepared: {'yes' if r['prepared'] else 'no'}" if args.keep_warm else ""),
                flush=True,
            )
        if args.keep_warm:
            print(
                f"  waiting holder, kernel, judge: RSS {memory['rss']:.0f} MiB, "
                f"PSS {memory['pss']:.0f} MiB",
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
