"""What the trust boundary costs: this grader against an earlier one, side by side in one run.

Grades the same notebook (``full_marks`` of ``cifar10_transfer`` at the ``smoke`` budget) with
this checkout's grader and with a baseline revision's (default ``9d54e74``, before the judge
process, the allow-listed sandbox and per-kernel identities), alternating, each from a fresh
``grader grade`` process with a warm calibration cache of its own. For each run it reports the
wall time, the result's own timings (``execute``: the notebook in its sandbox; ``checks``:
judging, in the grader's process before and in the judge process now), and the peak resident
memory of the grader process alone (sampled every 0.1 s; kernels and judges are children, not
counted).

    python benchmarks/trust_overhead.py [--runs 3] [--baseline 9d54e74]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "assignments" / "cifar10_transfer" / "submissions" / "full_marks.ipynb"


def grade_once(source: Path, cache: Path, out: Path) -> dict[str, float]:
    """One ``grader grade`` of the notebook with the grader found in ``source``."""
    env = {**os.environ, "PYTHONPATH": str(source), "GRADER_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "grader", "grade", str(NOTEBOOK), "-a", "cifar10_transfer",
               "--out", str(out), "--budget", "smoke", "-j", "1", "--force"]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=source, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, psutil.Process(process.pid).memory_info().rss)
        time.sleep(0.1)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"grading with {source} failed: {process.stderr.read().decode()[-2000:]}")
    result = json.loads((out / "full_marks" / "result.json").read_text())
    if result["score"] != result["max_score"]:
        raise SystemExit(f"{source}: full_marks scored {result['score']}")
    timings = result["timings"]
    return {
        "wall": wall,
        "execute": timings["execute"],
        "checks": timings["checks"],
        "rss_mb": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", default="9d54e74")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trust-bench-") as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            sources = {"baseline": base, "now": ROOT}
            caches = {name: Path(tmp) / f"cache-{name}" for name in sources}
            for name, source in sources.items():  # warm each calibration cache, untimed
                grade_once(source, caches[name], Path(tmp) / f"warm-{name}")
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
            for i in range(args.runs):
                for name, source in sources.items():
                    out = Path(tmp) / f"out-{name}-{i}"
                    runs[name].append(grade_once(source, caches[name], out))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                check=False,
                capture_output=True,
            )
    load = os.getloadavg()
    print(f"runs: {args.runs} each, alternating; load average {load[0]:.2f} {load[1]:.2f}")
    print(f"{'grader':<22}{'wall s':>8}{'execute s':>11}{'checks s':>10}{'grader RSS MB':>15}")
    for name, label in (("baseline", f"baseline {args.baseline}"), ("now", "this checkout")):
        med = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
        print(
            f"{label:<22}{med['wall']:>8.1f}{med['execute']:>11.1f}{med['checks']:>10.1f}"
            f"{med['rss_mb']:>15.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
