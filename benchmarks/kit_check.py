"""Student kit speed: the in-notebook check's latency, and `grader check` with a kit vs without.

    python benchmarks/kit_check.py [--kit DIR] [--assignment cifar10_transfer] [--runs 5]

1. The example ``full_marks`` of the assignment runs in this process under the grader's
   kernel runtime (the kit's data served, the smoke budget), then ``kit.check()`` is timed:
   the first call (which also loads the kit's data and indexes its training images) and the
   next ``--runs`` calls.
2. ``grader check`` of the same notebook: inside the kit (thresholds from the kit), then in
   the course checkout with its calibration already cached (a second run, as a student's
   every run after the first was before kits), then in the checkout with an empty cache
   (calibrating the reference: a student's first run before kits).

Prints the figures and ``uptime``'s load averages before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADER = str(Path(sys.executable).parent / "grader")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def live_latency(kit: Path, assignment: str, runs: int) -> tuple[float, list[float]]:
    import nbformat

    from grader.course import use_course
    from grader.kit import live
    from grader.rubric.load import load_assignment

    use_course(kit)
    spec = load_assignment(assignment)
    assert spec.kit is not None
    live.run_in_process(
        spec,
        {"name": "smoke", "max_epochs": 1, "max_train_samples": 256},
        Path(tempfile.mkdtemp()),
    )
    namespace: dict[str, object] = {"__name__": "__main__"}
    source = ROOT / "assignments" / assignment / "submissions" / "full_marks.ipynb"
    for cell in nbformat.read(source, as_version=4).cells:  # type: ignore[no-untyped-call]
        if cell.cell_type == "code":
            exec(compile(cell.source, str(source), "exec"), namespace)
    t0 = time.perf_counter()
    first = live.check(namespace, assignment=assignment)
    first_s = time.perf_counter() - t0
    print(first)
    warm = []
    for _ in range(runs):
        t0 = time.perf_counter()
        live.check(namespace, assignment=assignment)
        warm.append(time.perf_counter() - t0)
    return first_s, warm


def timed_check(notebook: Path, env: dict[str, str]) -> float:
    t0 = time.monotonic()
    done = subprocess.run([GRADER, "check", str(notebook)], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout.splitlines()[-1])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kit", type=Path, default=None)
    parser.add_argument("--assignment", default="cifar10_transfer")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true", help="Skip the empty-cache run.")
    args = parser.parse_args()
    print("before:", uptime())
    tmp = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    kit = args.kit
    if kit is None:
        from grader.kit.build import build_kit

        kit = build_kit([args.assignment], out=tmp, budgets=("smoke",)).folder
    example = ROOT / "assignments" / args.assignment / "submissions" / "full_marks.ipynb"
    in_kit = kit / "assignments" / args.assignment / "bench.ipynb"
    shutil.copy(example, in_kit)
    in_course = tmp / "bench.ipynb"
    shutil.copy(example, in_course)
    env = {k: v for k, v in os.environ.items() if k != "GRADER_COURSE"}
    kit_s = timed_check(in_kit, env)
    timed_check(in_course, env)  # fills the calibration cache if it was empty
    warm_s = timed_check(in_course, env)
    cold_s = (
        math.nan
        if args.skip_cold
        else timed_check(in_course, {**env, "GRADER_CACHE_DIR": str(tmp / "empty-cache")})
    )
    first, warm = live_latency(kit, args.assignment, args.runs)
    print("after:", uptime())
    print(f"kit.check(): first call {first:.3f} s; then median {statistics.median(warm):.3f} s")
    print(f"  (min {min(warm):.3f}, max {max(warm):.3f}, {len(warm)} calls)")
    print(f"grader check in the kit: {kit_s:.1f} s")
    print(f"grader check in the checkout, calibration cached: {warm_s:.1f} s")
    print(f"grader check in the checkout, empty cache (calibrates): {cold_s:.1f} s")


if __name__ == "__main__":
    main()
