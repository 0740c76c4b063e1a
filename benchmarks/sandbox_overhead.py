"""What the sandbox costs per notebook: a small notebook run with and without it, side by side.

Runs alternate (sandboxed, plain, sandboxed, ...) so that the machine's load affects both
alike. The notebook imports nothing heavy, so the figures are the kernel's start, the
sandbox's set-up (folders, namespaces, mounts, limits) and shut-down.

    python benchmarks/sandbox_overhead.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from nbformat.v4 import new_code_cell, new_notebook

from grader.execute.run import run_notebook
from grader.sandbox.confine import SandboxOptions, namespaces_available
from grader.sandbox.kernel import kernel_sandbox


def one_run(sandboxed: bool, folder: Path) -> float:
    nb = new_notebook(cells=[new_code_cell("import os\nx = sum(range(10**6))"), new_code_cell("x")])
    submission = folder / "small.ipynb"
    submission.write_text("{}")
    data = folder / "data.npz"
    if not data.exists():
        np.savez(data, x=np.zeros(1))
    started = time.monotonic()
    with kernel_sandbox(SandboxOptions(enabled=sandboxed), submission=submission, data=data) as box:
        run = run_notebook(
            nb,
            workdir=box.work,
            setup="pass",
            finish="pass",
            cell_timeout=60,
            total_timeout=120,
            env=box.env(),
            sandbox=box,
        )
    if [c.status for c in run.cells] != ["ok", "ok"]:
        raise SystemExit(f"the notebook failed: {run.cells}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            for sandboxed in (True, False):
                times[sandboxed].append(one_run(sandboxed, Path(tmp)))
    print(f"namespaces available: {namespaces_available()}; runs: {args.runs}")
    print(f"{'run':<12}{'median s':>10}{'min s':>8}{'max s':>8}")
    for sandboxed, label in ((False, "plain"), (True, "sandboxed")):
        values = times[sandboxed]
        median = statistics.median(values)
        print(f"{label:<12}{median:>10.2f}{min(values):>8.2f}{max(values):>8.2f}")
    overhead = statistics.median(times[True]) - statistics.median(times[False])
    print(f"overhead per notebook (median): {overhead:+.2f} s")


if __name__ == "__main__":
    sys.exit(main())
