"""Batch grading: throughput of ``-j 1`` against ``-j 2``, cached re-runs, and grader memory.

Builds COUNT notebooks by cycling through the example submissions (each gets a unique token in
its metadata, so none is served from another's cache entry), calibrates the reference once,
then, side by side on this machine:

1. ``grader grade -j 1 --force`` and ``grader grade -j 2 --force``: every notebook executed;
2. the same command again with nothing changed (every submission already in the output folder);
3. the same hand-in into a new output folder (every result restored from the cache).

While 1 runs, the resident memory of the grader process and of its worker processes (kernels
excluded: they come and go with each notebook) is sampled against the number of finished
submissions.

    python benchmarks/batch_throughput.py [--count 20] [--budget smoke]

Targets (issue #4, 2-core machine, 20 notebooks): ``-j 2`` at least 1.7x the throughput of
``-j 1``; a re-run with nothing changed at most 0.2 s per submission; memory flat.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assignments" / "cifar10_transfer" / "submissions"
GRADER = str(Path(sys.executable).parent / "grader")


def make_hand_in(folder: Path, count: int) -> None:
    examples = sorted(EXAMPLES.glob("*.ipynb"))
    folder.mkdir(parents=True)
    for i in range(count):
        nb = json.loads(examples[i % len(examples)].read_text())
        nb["metadata"]["benchmark_token"] = uuid.uuid4().hex
        (folder / f"student{i:03d}.ipynb").write_text(json.dumps(nb))


def rss_mb(process: psutil.Process) -> tuple[float, float]:
    """Resident MB of the grader process, and of its non-kernel descendants (workers)."""
    try:
        main = process.memory_info().rss / 2**20
        workers = 0.0
        for child in process.children(recursive=True):
            try:
                if "ipykernel" not in " ".join(child.cmdline()):
                    workers += child.memory_info().rss / 2**20
            except psutil.Error:
                continue
    except psutil.Error:
        return 0.0, 0.0
    return main, workers


@dataclass(frozen=True)
class Run:
    """One measured ``grader grade`` run."""

    seconds: float
    cpu: float
    """CPU seconds of the grader and the processes it waited for. Kernels are reaped inside
    their own PID namespace, so most of their time is missing here: see ``busy``."""
    busy: float
    """Cores busy on the whole machine over the run (``/proc/stat``): every process, the
    kernels included, and whatever else runs here (say the load average beside it)."""
    memory: dict[int, tuple[float, float]]
    """Peak (grader MB, workers MB) per number of finished notebooks."""


def timed_grade(
    hand_in: Path, out: Path, *extra: str, budget: str, env: dict[str, str] | None = None
) -> Run:
    """Time one ``grader grade`` run, sampling memory against finished notebooks."""
    cpu_before = _children_cpu()
    machine_before = psutil.cpu_times()
    command = [GRADER, "grade", str(hand_in), "-a", "cifar10_transfer", "--budget", budget]
    command += ["--out", str(out), *extra]
    started = time.monotonic()
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env or None
    )
    watched = psutil.Process(proc.pid)
    memory: dict[int, tuple[float, float]] = {}
    while proc.poll() is None:
        done = len(list(out.glob("*/.grader-key"))) if out.is_dir() else 0
        main, workers = rss_mb(watched)
        old = memory.get(done, (0.0, 0.0))
        memory[done] = (max(old[0], main), max(old[1], workers))
        time.sleep(0.25)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {proc.returncode}")
    seconds = time.monotonic() - started
    busy = busy_seconds(machine_before) / seconds
    return Run(seconds, _children_cpu() - cpu_before, busy, memory)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_seconds(before: t.Any) -> float:
    """CPU seconds the whole machine spent on anything but idling or waiting for I/O since
    ``before`` (a :func:`psutil.cpu_times` sample)."""
    after = psutil.cpu_times()
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0) - getattr(before, "iowait", 0))
    return float(total - idle)


def calibrate(budget: str) -> None:
    """Calibrate once, so that no measured run pays for training the reference."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from grader.options import GradeOptions; "
            "from grader.pipeline import prepare_reference; "
            "prepare_reference(assignment='cifar10_transfer', "
            f"options=GradeOptions(budget={budget!r}))",
        ],
        check=True,
    )


WARM_MODES = {
    "cold": ({"GRADER_WARM_KERNELS": "0"}, "warm kernels and judges off"),
    "kernels": (
        {"GRADER_WARM_KERNELS": "1", "GRADER_WARM_JUDGES": "0"},
        "warm kernels on, judges off",
    ),
    "warm": (
        {"GRADER_WARM_KERNELS": "1", "GRADER_WARM_JUDGES": "1"},
        "warm kernels and judges on",
    ),
}
"""What ``--compare-warm`` can compare: its environment, and its name in the table."""


def compare_warm(
    count: int,
    budget: str,
    jobs_list: tuple[str, ...] = ("1", "2"),
    modes: tuple[str, ...] = ("cold", "warm"),
    shared_cache: bool = False,
) -> None:
    """``-j 1`` and ``-j 2`` in each of ``modes`` (:data:`WARM_MODES`), side by side in one run.

    ``shared_cache`` keeps ``$GRADER_CACHE_DIR`` (its calibration is reused; every notebook is
    graded with ``--force`` anyway) instead of an empty one that calibrates first.
    """
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        tmp_path = Path(tmp)
        if not shared_cache:
            os.environ["GRADER_CACHE_DIR"] = str(tmp_path / "cache")
        hand_in = tmp_path / "hand-in"
        make_hand_in(hand_in, count)
        calibrate(budget)
        for jobs in jobs_list:
            for mode in modes:
                env = {**os.environ, **WARM_MODES[mode][0]}
                out = tmp_path / f"j{jobs}-{mode}"
                run = timed_grade(hand_in, out, "-j", jobs, "--force", budget=budget, env=env)
                rows.append((jobs, mode, run))
                # As it goes, so that a run cut short still says what it measured.
                print(
                    f"-j {jobs} {mode}: {run.seconds:.1f} s, {run.busy:.2f} cores busy, "
                    f"load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    end = os.getloadavg()
    print(f"\n{count} notebooks, budget {budget}, {os.cpu_count()} CPUs")
    print(f"load average: {load[0]:.2f} before, {end[0]:.2f} after (other work on these CPUs)")
    print(f"{'run':<40} {'seconds':>8} {'s/notebook':>11} {'cores busy':>11}")
    for jobs, mode, run in rows:
        name = f"-j {jobs}, {WARM_MODES[mode][1]}"
        print(f"{name:<40} {run.seconds:8.1f} {run.seconds / count:11.2f} {run.busy:11.2f}")
    by = {(j, m): run.seconds for j, m, run in rows}
    for mode in modes if len(jobs_list) == 2 else ():
        print(f"-j 2 / -j 1 throughput, {mode}: {by['1', mode] / by['2', mode]:.2f}x")
    for jobs in jobs_list:
        for mode in modes[1:]:
            ratio = by[jobs, mode] / by[jobs, modes[0]]
            print(f"-j {jobs}: {mode} / {modes[0]} wall time {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="notebooks in the hand-in")
    parser.add_argument("--budget", default="smoke")
    parser.add_argument(
        "--compare-warm",
        action="store_true",
        help="only -j 1 and -j 2, each in the --warm-modes (GRADER_WARM_KERNELS/_JUDGES)",
    )
    parser.add_argument("--jobs", nargs="+", default=["1", "2"], help="with --compare-warm")
    parser.add_argument(
        "--warm-modes",
        nargs="+",
        choices=sorted(WARM_MODES),
        default=["cold", "warm"],
        help="with --compare-warm; the first is what the others are compared with",
    )
    parser.add_argument(
        "--shared-cache",
        action="store_true",
        help="with --compare-warm: keep $GRADER_CACHE_DIR's calibration (no calibration run)",
    )
    args = parser.parse_args()
    if args.compare_warm:
        compare_warm(
            args.count,
            args.budget,
            tuple(args.jobs),
            tuple(args.warm_modes),
            shared_cache=args.shared_cache,
        )
        return

    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp_path = Path(tmp)
        os.environ["GRADER_CACHE_DIR"] = str(tmp_path / "cache")
        hand_in = tmp_path / "hand-in"
        make_hand_in(hand_in, args.count)
        calibrate(args.budget)
        b = args.budget
        j1 = timed_grade(hand_in, tmp_path / "j1", "-j", "1", "--force", budget=b)
        j2 = timed_grade(hand_in, tmp_path / "j2", "-j", "2", "--force", budget=b)
        again = timed_grade(hand_in, tmp_path / "j2", "-j", "2", budget=b)
        cached = timed_grade(hand_in, tmp_path / "fresh", "-j", "2", budget=b)
    report(args.count, args.budget, load, j1, j2, again, cached)


def report(
    n: int, budget: str, load: tuple[float, ...], j1: Run, j2: Run, again: Run, cached: Run
) -> None:
    """The table, the ratios against their targets, and the memory samples."""
    cpus = os.cpu_count() or 1
    print(f"\n{n} notebooks (example submissions, cycled), budget {budget}, {cpus} CPUs")
    print(f"load average: {load[0]:.2f} before the runs, {os.getloadavg()[0]:.2f} after")
    print(
        f"{'run':<50} {'seconds':>8} {'s/notebook':>11} {'notebooks/min':>14} "
        f"{'CPU s':>7} {'cores busy':>11}"
    )
    for name, run in (
        ("grade -j 1 (every notebook executed)", j1),
        ("grade -j 2 (every notebook executed)", j2),
        ("same command again, nothing changed", again),
        ("same hand-in, new output folder (from the cache)", cached),
    ):
        print(
            f"{name:<50} {run.seconds:8.1f} {run.seconds / n:11.3f} "
            f"{60 * n / run.seconds:14.1f} {run.cpu:7.1f} {run.busy:11.2f}"
        )
    print(f"throughput -j 2 / -j 1: {j1.seconds / j2.seconds:.2f}x (target >= 1.7x)")
    # Work that already keeps B of the machine's cores busy at -j 1 can at best be spread
    # over all of them: no scheduling gets -j 2 past cpus / B.
    print(f"bound from -j 1's busy cores: {cpus / j1.busy:.2f}x at most on {cpus} cores")
    print(f"re-run, nothing changed: {again.seconds / n:.3f} s per submission (target <= 0.2 s)")
    for label, memory in (("-j 1", j1.memory), ("-j 2", j2.memory)):
        print(f"\nmemory during {label} (peak MB while that many notebooks were finished)")
        print(f"{'finished':>9} {'grader MB':>10} {'workers MB':>11}")
        marks = sorted({0, 1, n // 4, n // 2, 3 * n // 4, n - 1} & set(memory))
        for done in marks:
            main_mb, workers_mb = memory[done]
            print(f"{done:>9} {main_mb:10.0f} {workers_mb:11.0f}")


if __name__ == "__main__":
    main()
