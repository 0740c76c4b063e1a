"""The default ``-j`` against ``-j 1`` and ``-j 2``, alternated, with CPU per notebook (issue 27).

Builds COUNT notebooks from the ``cifar10_transfer`` example submissions (each with a unique
token, so none is served from another's cache entry), calibrates the reference once (untimed),
then runs ``grader grade --force`` at ``-j 1``, ``-j 2`` and without ``-j`` (the default), one
after the other, ROUNDS times, so that the load other work puts on the machine falls on each
alike. For each it prints the median over the rounds of:

* wall time and notebooks per minute;
* CPU-seconds per notebook of the grader's whole process tree (kernels and judges included),
  sampled with psutil every 0.2 s: kernels are reaped inside PID namespaces of their own, out of
  reach of ``rusage``, whose figure (``RUSAGE_CHILDREN``, the grader and what it waited for) is
  printed beside it;
* the cores that tree kept busy (its CPU-seconds over the wall time): at ``-j 1``, what one
  notebook really keeps busy, the figure :mod:`grader.batch.job_count` counts with;
* that CPU split by process (kernels, judges, the grader and its workers), the notebook's own
  CPU (its cells', ``cells_cpu`` in each ``result.json``'s ``timings``) against the rest, and
  the wall seconds per phase of a notebook from the same ``timings``;

with the load average before and after every run and which ``-j`` the default chose.

    python benchmarks/parallel_default.py [--count 6] [--rounds 3] [--budget smoke]

Measured 2026-12-06 with ``--count 4 --rounds 3 --shared-cache`` on 2 CPUs shared with other
sessions (load average 8-17 throughout, the machine 100% busy): medians -j 1 433.8 s (0.55
notebooks/min), -j 2 265.0 s (0.91), default 379.6 s (0.63; the default is -j 1 on 2 cores,
so -j 1 and the default are the same command and differ by the load alone: 269-480 s for it);
31-32 CPU-seconds per notebook at every -j (kernels 17, judges 9, grader 5). On a machine that
others keep saturated, -j 2 gets a larger share of it (more processes to schedule), not more
work done per CPU-second. A fourth round after the judge's fast exit (``--rounds 1``, load 4.3
to 7.3): -j 1 202.1 s, -j 2 128.6 s, default 206.5 s; 25-26 CPU-seconds per notebook (kernels
15, judges 7, grader 3-4). See docs/benchmarks.md, "Default -j".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from batch_throughput import calibrate, make_hand_in

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assignments" / "cifar10_transfer" / "submissions"
GRADER = str(Path(sys.executable).parent / "grader")
CONFIGS = {"-j 1": ["-j", "1"], "-j 2": ["-j", "2"], "default": []}
PHASES = ("kernel_start", "setup_cell", "cells", "evidence", "finish_cell", "checks", "reports")
KERNEL_CPU = ("cells_cpu", "kernel_cpu")
"""CPU-seconds a result's timings give: the student's cells' (the notebook's own) and the
kernel's in all (see grader.execute.run.CPU_PHASES)."""
ROLES = ("kernels", "judges", "grader")
SAMPLE_S = 0.2


def role(process: psutil.Process) -> str:
    """Which part of grading a process is, from its command line (launcher included)."""
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "grader"
    # A kernel or a judge forked from a fork-server (grader.sandbox.zygote) shows the server's
    # command line, its program named; the launcher that asked for it (--via) its arguments.
    if "ipykernel" in command or "grader.kernel.forked" in command:
        return "kernels"
    if "grader.judge" in command or "grader-judge." in command:  # (its sandbox's folder)
        return "judges"
    return "grader"


@dataclass
class TreeCpu:
    """CPU-seconds of a process and its descendants, by role, from periodic samples.

    Each process's own user and system time is kept at its largest sample: what it spent in
    its last ``SAMPLE_S`` before exiting is missed, nothing is counted twice.
    """

    seen: dict[tuple[int, float], tuple[str, float]] = field(default_factory=dict)

    def sample(self, root: psutil.Process) -> None:
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        for process in processes:
            try:
                key = (process.pid, process.create_time())
                times = process.cpu_times()
            except psutil.Error:
                continue
            known = self.seen.get(key)
            name = known[0] if known else role(process)
            self.seen[key] = (name, max(known[1] if known else 0.0, times.user + times.system))

    def by_role(self) -> dict[str, float]:
        out = dict.fromkeys(ROLES, 0.0)
        for name, cpu in self.seen.values():
            out[name] += cpu
        return out


@dataclass(frozen=True)
class Run:
    config: str
    seconds: float
    chosen: str
    """Where the notebooks were graded, as the grader said it ("this process", "2 local ...")."""
    tree: dict[str, float]
    rusage: float
    machine_busy: float
    load: tuple[float, float]
    phases: dict[str, float]
    """Mean wall seconds per notebook of each phase."""

    @property
    def tree_cpu(self) -> float:
        return sum(self.tree.values())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy(before: t.Any) -> float:
    after = psutil.cpu_times()
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0) - getattr(before, "iowait", 0))
    return float(sum(after) - sum(before) - idle)


def sampled(command: list[str]) -> tuple[TreeCpu, float, str]:
    """Run ``command`` to its end, sampling its process tree's CPU: the tree's CPU, the wall
    seconds and what it printed (a failed command ends the benchmark)."""
    tree = TreeCpu()
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        tree.sample(root)
        time.sleep(SAMPLE_S)
    seconds = time.monotonic() - started
    stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {proc.returncode}")
    return tree, seconds, stdout


def timed(config: str, hand_in: Path, out: Path, budget: str, count: int) -> Run:
    load_before = os.getloadavg()[0]
    rusage_before, cpu_before = children_cpu(), psutil.cpu_times()
    command = [GRADER, "grade", str(hand_in), "-a", "cifar10_transfer", "--budget", budget]
    command += ["--out", str(out), "--force", *CONFIGS[config]]
    tree, seconds, stdout = sampled(command)
    found = re.search(r"(\d+) graded \(([^)]*)\)", stdout)
    if not found or int(found.group(1)) != count:
        raise SystemExit(f"{' '.join(command)} did not grade {count} notebooks:\n{stdout}")
    phases: dict[str, list[float]] = defaultdict(list)
    for result in out.glob("*/result.json"):
        timings = json.loads(result.read_text())["timings"]
        for name in PHASES + KERNEL_CPU:
            phases[name].append(timings.get(name, 0.0))
    return Run(
        config,
        seconds,
        found.group(2),
        tree.by_role(),
        children_cpu() - rusage_before,
        machine_busy(cpu_before),
        (load_before, os.getloadavg()[0]),
        {name: statistics.mean(values) for name, values in phases.items()},
    )


def median(runs: list[Run], value: t.Callable[[Run], float]) -> float:
    return statistics.median(value(run) for run in runs)


def report(runs: list[Run], count: int, budget: str, load: tuple[float, float]) -> None:
    cpus = psutil.cpu_count()
    print(f"\n{count} notebooks per run, budget {budget}, {cpus} CPUs, medians over the rounds")
    print(f"load average (1 min): {load[0]:.2f} before the first run, {load[1]:.2f} after the last")
    header = (
        f"{'run':<8} {'where':<24} {'wall s':>7} {'nb/min':>7} {'CPU s/nb':>9} "
        f"{'rusage s/nb':>12} {'busy (tree)':>12} {'busy (machine)':>15}"
    )
    print(header)
    by_config = {c: [r for r in runs if r.config == c] for c in CONFIGS}
    for config, mine in by_config.items():
        where = ", ".join(sorted({r.chosen for r in mine}))
        wall = median(mine, lambda r: r.seconds)
        print(
            f"{config:<8} {where:<24} {wall:7.1f} {60 * count / wall:7.2f} "
            f"{median(mine, lambda r: r.tree_cpu / count):9.1f} "
            f"{median(mine, lambda r: r.rusage / count):12.1f} "
            f"{median(mine, lambda r: r.tree_cpu / r.seconds):12.2f} "
            f"{median(mine, lambda r: r.machine_busy / r.seconds):15.2f}"
        )
    base = median(by_config["-j 1"], lambda r: r.seconds)
    for config in ("-j 2", "default"):
        ratio = base / median(by_config[config], lambda r: r.seconds)
        print(f"throughput {config} / -j 1: {ratio:.2f}x")
    print("\nCPU-seconds per notebook by process (median over the rounds)")
    print(f"{'run':<8}" + "".join(f" {name:>9}" for name in ROLES))
    for config, mine in by_config.items():
        cells = "".join(
            f" {statistics.median(r.tree[n] / count for r in mine):9.1f}" for n in ROLES
        )
        print(f"{config:<8}{cells}")
    print("\nCPU-seconds per notebook: the notebook's own (its cells') against the rest")
    heads = ("own", "kernel else", "judges", "grader", "all / own")
    print(f"{'run':<8}" + "".join(f" {h:>11}" for h in heads))
    for config, mine in by_config.items():
        own = statistics.median(r.phases.get("cells_cpu", 0.0) for r in mine)
        kernels = statistics.median(r.tree["kernels"] / count for r in mine)
        judges = statistics.median(r.tree["judges"] / count for r in mine)
        grader = statistics.median(r.tree["grader"] / count for r in mine)
        ratio = (kernels + judges + grader) / own if own else float("nan")
        print(
            f"{config:<8} {own:11.1f} {kernels - own:11.1f} {judges:11.1f} {grader:11.1f} "
            f"{ratio:11.2f}"
        )
    print("\nwall seconds per notebook by phase (from result.json timings, median of the means)")
    print(f"{'run':<8}" + "".join(f" {name[:11]:>11}" for name in PHASES))
    for config, mine in by_config.items():
        cells = "".join(
            f" {statistics.median(r.phases.get(n, 0.0) for r in mine):11.2f}" for n in PHASES
        )
        print(f"{config:<8}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6, help="notebooks per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", default="smoke")
    parser.add_argument(
        "--shared-cache",
        action="store_true",
        help="keep $GRADER_CACHE_DIR (its data and calibration) instead of an empty one",
    )
    args = parser.parse_args()
    start_load = os.getloadavg()[0]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        tmp_path = Path(tmp)
        if not args.shared_cache:
            os.environ["GRADER_CACHE_DIR"] = str(tmp_path / "cache")
        hand_in = tmp_path / "hand-in"
        make_hand_in(hand_in, args.count)
        calibrate(args.budget)
        for n in range(args.rounds):
            for config in CONFIGS:
                run = timed(config, hand_in, tmp_path / f"{n}-{config}", args.budget, args.count)
                runs.append(run)
                # As it goes, so that a run cut short still says what it measured.
                print(
                    f"round {n + 1} {config:<8} ({run.chosen}): {run.seconds:.1f} s, "
                    f"{run.tree_cpu / args.count:.1f} CPU-s/notebook, "
                    f"{run.tree_cpu / run.seconds:.2f} cores busy, "
                    f"load {run.load[0]:.2f} -> {run.load[1]:.2f}",
                    flush=True,
                )
    report(runs, args.count, args.budget, (start_load, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
