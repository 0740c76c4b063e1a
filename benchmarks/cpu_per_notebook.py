"""CPU per graded notebook against the notebook's own CPU, per phase, in a batch (issue 27).

Builds COUNT copies of one ``cifar10_transfer`` example submission (``full_marks`` unless
``--example`` names another: an honest notebook whose kernel lives to its end; each copy with a
unique token, none served from another's cache entry), calibrates the reference once (untimed), then
runs ``grader grade --force -j 1`` with each grader given (``--grader NAME=PATH``, alternated,
ROUNDS times, so that the load other work puts on the machine falls on each alike) at each
budget, sampling the CPU of the grader's whole process tree by role every 0.2 s (see
``parallel_default.py``). Per notebook it prints:

* **own**: the CPU the kernel's processes used while the student's cells ran (``cells_cpu`` in
  each ``result.json``'s timings: what the notebook costs, whoever runs it);
* **kernel else**: the rest of the kernel's CPU: its start, ``import keras`` (the grader's
  preload, done before the notebook's first cell), the grader's setup and closing cells;
* **judges**: the judge processes (their own Keras import, the data, the judging);
* **grader**: the grader's process (its start and data load shared by the batch, the kernel
  client and relay, evidence, reports and bookkeeping) and its sandbox launchers;
* the whole against **own** (goal: at most 1.25), and the overhead's share of the whole;

with the load average before and after every run. A grader from before ``cells_cpu`` was
recorded has its own CPU taken as the median of the runs that record it.

    python benchmarks/cpu_per_notebook.py [--count 4] [--rounds 1] [--budget smoke --budget
        standard] [--grader before=/path/to/grader --grader after=.venv/bin/grader]

Measured 2026-12-07 with ``--count 4 --shared-cache --budget smoke --budget standard`` on 2
CPUs shared with other sessions (load 8.5-11.6): per notebook at ``smoke`` own 10.5, kernel
else 6.5, judges 8.1, grader 5.0, all 30.1 CPU-s (2.88x own); at ``standard`` 13.4, 6.6, 8.1,
5.6, all 33.7 (2.51x). With the fork-servers, ``--count 4 --rounds 2 --budget standard --grader
'fresh=env GRADER_FORK_SERVERS=0 .venv/bin/grader' --grader forked=.venv/bin/grader`` (load
0.6-2.2): fresh 32.6 and 30.2 CPU-s (2.43x, 2.49x), forked 22.1 and 17.5 (1.63x, 1.64x). After
the watchdog's and the judge's profiled costs, ``--count 12 --budget standard`` (load 1.0-1.4):
16.8 CPU-s (1.48x) before, 14.8 (1.34x) after. After the judge's eager scoring, the image index
and the checkpoints' reused ranges, ``--count 12 --budget standard`` (load 0.5-1.1): 15.8 CPU-s
(1.27x) before, 13.5 (1.26x) after. See docs/benchmarks.md, "CPU per graded notebook".
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
from batch_throughput import EXAMPLES, calibrate
from parallel_default import GRADER, sampled

WALL = ("kernel_start", "setup_cell", "cells", "evidence", "finish_cell", "checks", "reports")


@dataclass(frozen=True)
class Run:
    grader: str
    budget: str
    seconds: float
    tree: dict[str, float]
    """CPU-seconds by role (kernels, judges, grader) for the whole batch."""
    own: float | None
    """Mean ``cells_cpu`` per notebook; None when the grader did not record it."""
    kernel_cpu: float | None
    wall: dict[str, float]
    load: tuple[float, float]


def make_hand_in(folder: Path, example: str, count: int) -> None:
    nb = json.loads((EXAMPLES / f"{example}.ipynb").read_text())
    folder.mkdir(parents=True)
    for i in range(count):
        nb["metadata"]["benchmark_token"] = uuid.uuid4().hex
        (folder / f"student{i:03d}.ipynb").write_text(json.dumps(nb))


def grade(name: str, grader: str, hand_in: Path, out: Path, budget: str, count: int) -> Run:
    load_before = os.getloadavg()[0]
    command = [*shlex.split(grader), "grade", str(hand_in), "-a", "cifar10_transfer"]
    command += ["--budget", budget]
    command += ["--out", str(out), "--force", "-j", "1"]
    tree, seconds, _ = sampled(command)
    timings = [json.loads(p.read_text())["timings"] for p in out.glob("*/result.json")]
    if len(timings) != count:
        raise SystemExit(f"{' '.join(command)} wrote {len(timings)} results, not {count}")
    own = [t_["cells_cpu"] for t_ in timings if "cells_cpu" in t_]
    kernel = [t_["kernel_cpu"] for t_ in timings if "kernel_cpu" in t_]
    return Run(
        name,
        budget,
        seconds,
        tree.by_role(),
        statistics.mean(own) if own else None,
        statistics.mean(kernel) if kernel else None,
        {p: statistics.mean(t_.get(p, 0.0) for t_ in timings) for p in WALL},
        (load_before, os.getloadavg()[0]),
    )


def split(run: Run, count: int, own: float) -> dict[str, float]:
    """CPU-seconds per notebook: own, kernel else, judges, grader, all."""
    kernels = run.tree["kernels"] / count
    out = {
        "own": own,
        "kernel else": kernels - own,
        "judges": run.tree["judges"] / count,
        "grader": run.tree["grader"] / count,
    }
    out["all"] = kernels + out["judges"] + out["grader"]
    return out


def report(runs: list[Run], count: int) -> None:
    columns = ("own", "kernel else", "judges", "grader", "all")
    print(f"\n{count} notebooks per run at -j 1, {psutil.cpu_count()} CPUs; CPU-s per notebook")
    header = f"{'grader':<10} {'budget':<9} {'wall s':>7}" + "".join(f" {c:>11}" for c in columns)
    print(header + f" {'all / own':>10} {'overhead':>9}  load")
    for budget in dict.fromkeys(r.budget for r in runs):
        known = [r.own for r in runs if r.budget == budget and r.own is not None]
        fallback = statistics.median(known) if known else float("nan")
        for run in (r for r in runs if r.budget == budget):
            own = run.own if run.own is not None else fallback
            cpu = split(run, count, own)
            cells = "".join(f" {cpu[c]:11.1f}" for c in columns)
            print(
                f"{run.grader:<10} {budget:<9} {run.seconds:7.1f}{cells} "
                f"{cpu['all'] / own:10.2f} {1 - own / cpu['all']:8.0%}  "
                f"{run.load[0]:.2f} -> {run.load[1]:.2f}"
            )
    print("\nwall seconds per notebook by phase (result.json timings, mean over the notebooks)")
    print(f"{'grader':<10} {'budget':<9}" + "".join(f" {p[:11]:>11}" for p in WALL))
    for run in runs:
        print(f"{run.grader:<10} {run.budget:<9}" + "".join(f" {run.wall[p]:11.2f}" for p in WALL))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4, help="notebooks per run")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--example", default="full_marks", help="the submission copied")
    parser.add_argument("--budget", action="append", help="smoke (default), standard, ...")
    parser.add_argument(
        "--grader",
        action="append",
        metavar="NAME=COMMAND",
        help="a grader to measure, e.g. 'fresh=env GRADER_FORK_SERVERS=0 .venv/bin/grader' "
        "(default: this environment's)",
    )
    parser.add_argument(
        "--shared-cache",
        action="store_true",
        help="keep $GRADER_CACHE_DIR (its data and calibration) instead of an empty one",
    )
    args = parser.parse_args()
    graders = dict(g.split("=", 1) for g in args.grader or [f"this={GRADER}"])
    budgets = args.budget or ["smoke"]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        tmp_path = Path(tmp)
        if not args.shared_cache:
            os.environ["GRADER_CACHE_DIR"] = str(tmp_path / "cache")
        hand_in = tmp_path / "hand-in"
        make_hand_in(hand_in, args.example, args.count)
        for budget in budgets:
            calibrate(budget)
        for n in range(args.rounds):
            for budget in budgets:
                for name, path in graders.items():
                    out = tmp_path / f"{n}-{budget}-{name}"
                    run = grade(name, path, hand_in, out, budget, args.count)
                    runs.append(run)
                    # As it goes, so that a run cut short still says what it measured.
                    cpu = split(run, args.count, run.own if run.own is not None else 1.0)
                    print(
                        f"round {n + 1} {name} {budget}: {run.seconds:.1f} s, "
                        + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
                        + f" CPU-s/notebook, load {run.load[0]:.2f} -> {run.load[1]:.2f}",
                        flush=True,
                    )
    report(runs, args.count)


if __name__ == "__main__":
    main()
