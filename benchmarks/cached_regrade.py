"""An unchanged re-grade of many submissions: every result from the cache, Keras never imported.

Copies one example submission COUNT times into a hand-in (same bytes, so one cache entry
serves them all), grades one copy so that the cache holds its result (executed once if it
does not yet), then times ``grader grade`` of the whole hand-in into a new output folder under
``python -X importtime``, and says whether Keras, TensorFlow, nbclient or jupyter_client was
imported. Each copy is restored under its own name there for the first time: its reports are
rendered for it and kept in the cache entry. Then it times the hand-in into another new
output folder, every copy restored with the files kept (what re-grading a class into a new
folder costs, each notebook's entry made when that notebook was graded), and the same command
again into that folder (every result already there).

    python benchmarks/cached_regrade.py [--count 300] [--budget standard] [--notebook PATH]

Target (issue 15): at most 0.05 s per submission, and the cache path never imports Keras.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "assignments" / "cifar10_transfer" / "submissions" / "full_marks.ipynb"
HEAVY = ("keras", "tensorflow", "nbclient", "jupyter_client")


def grade(hand_in: Path, out: Path, budget: str, *python_flags: str) -> tuple[float, str]:
    """Wall seconds of one ``grader grade`` run of ``hand_in``, and its stderr."""
    started = time.monotonic()
    command = [sys.executable, *python_flags, "-m", "grader", "grade", str(hand_in)]
    command += ["-a", "cifar10_transfer", "--budget", budget, "--out", str(out)]
    done = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return time.monotonic() - started, done.stderr


def imported(importtime: str) -> list[str]:
    """Top-level packages among ``HEAVY`` that ``-X importtime`` output shows imported."""
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in importtime.splitlines()}
    return [name for name in HEAVY if name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-cached-") as tmp:
        one, many = Path(tmp) / "one", Path(tmp) / "many"
        one.mkdir()
        many.mkdir()
        shutil.copy(args.notebook, one / "student.ipynb")
        for i in range(args.count):
            shutil.copy(args.notebook, many / f"student{i:04d}.ipynb")
        first, _ = grade(one, Path(tmp) / "out-one", args.budget)
        checks = json.loads((Path(tmp) / "out-one" / "student" / "result.json").read_text())
        if any(c["status"] == "error" for c in checks["checks"]):
            # Not cached (the next run grades it again): the copies would all be executed.
            sys.exit(f"the first grade broke, nothing to restore: {checks['notices'][:1]}")
        # Each copy restored under its own name for the first time: its reports are rendered.
        named, stderr = grade(many, Path(tmp) / "out-many", args.budget, "-X", "importtime")
        # Into a new folder again: every copy's files are in the cache entry.
        plain, _ = grade(many, Path(tmp) / "out-plain", args.budget)
        # The same command again into the same folder: every result already there.
        again, _ = grade(many, Path(tmp) / "out-plain", args.budget)
    print(f"one copy graded (fills the cache if empty): {first:.2f} s")
    print(
        f"{args.count} copies from the cache, each under a new name (reports rendered, under "
        f"-X importtime): {named:.2f} s, {named / args.count:.4f} s each"
    )
    print(
        f"{args.count} copies from the cache into a new output folder (files kept in the "
        f"cache): {plain:.2f} s, {plain / args.count:.4f} s each"
    )
    print(
        f"{args.count} copies, same command again (results already in the output folder): "
        f"{again:.2f} s, {again / args.count:.4f} s each"
    )
    print(f"imported on the cache path: {imported(stderr) or 'none of ' + ', '.join(HEAVY)}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
