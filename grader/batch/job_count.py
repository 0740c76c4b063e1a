"""How many notebooks a batch grades at once when ``-j`` is not given.

One notebook keeps more than its kernel's arithmetic threads busy: while it runs, its judge
imports Keras and loads the data, its worker imports the next notebook's kernel, and the grader
takes evidence and writes reports. Two notebooks at once on two cores then share cores that
one already kept mostly busy, and each runs slower than it would alone: measured on 2 cores,
``-j 2`` was within noise of ``-j 1`` on a quiet machine and 0.91x under load (issue 27). So
the default is the number of notebooks the cores free to the grader hold, each counted at what
it really keeps busy, never more than memory allows; ``-j N`` given by the user is used as it
is.

Other work on the machine takes cores away, counted by :func:`others_load`: the load average
alone misleads in two ways that cost most on many cores. It is the host's, not this process's:
in a container limited to 8 of a 96-core host's cores at load 60, every core of its quota may
be free, and the raw figure would grade one notebook at a time. And it lags by about a minute:
just after a batch (the grader's own, the previous one) has ended on 8 cores, it still says
7, and the next batch would run at ``-j 1`` from start to end on an idle machine, a loss of up
to 4x that the default must never make. So the load counted is the smaller of the average and
what runs at this moment (the median of a few readings), scaled to the share of the host's
cores this process may use.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

BESIDE_KERNEL = {"smoke": 0.8, "standard": 0.7, "full": 0.2}
"""Cores one notebook keeps busy besides its kernel's arithmetic threads, by budget.

Measured at ``smoke`` (``benchmarks/parallel_default.py``, 2026-12-06, one arithmetic thread
per kernel): a notebook costs about 31 CPU-seconds, 17 in its kernel (start, ``import keras``
and cells), 9 in its judge (its own ``import keras``, the data, the judging) and 5 in the
grader; the same notebooks take 14-20 s of wall time each at ``-j 1`` on a quiet machine
(issue 27: 82 s for six), so one keeps 1.5-2.2 cores busy, and 1 + 0.8 is taken. Larger
budgets train for longer against the same fixed costs (the imports, the judge's start), so the
share beside the kernel shrinks with them, but less than it seemed: at ``standard`` the same
notebook's cells cost 13.4 CPU-seconds against 10.5 at ``smoke``, and the notebook 33.7
against 30.1 (``benchmarks/cpu_per_notebook.py``, 2026-12-07), so its fixed costs are spread
over about 3 s more of a 14-20 s notebook, and 0.8 x 14 / 17 = 0.7 is taken (0.4 before this
measurement, which put 5 notebooks on 8 cores where 4 hold). ``full`` trains minutes longer:
estimated from the same fixed costs over its longer cells, not measured.

Since the fork-servers (kernels and judges forked from a process that imported Keras once) a
notebook costs less beside its kernel (17.5-22.1 CPU-seconds in all at ``standard`` over
16-20 s of wall time at ``-j 1``, about 1.1 cores: ``cpu_per_notebook.py``, 2026-12-07), so
these values now count too many cores per notebook: they give fewer jobs than fit, never more.
They are kept until the default can be measured on a machine of more than two cores, where it
would change (on two it stays 1)."""

UNKNOWN_BUDGET = BESIDE_KERNEL["smoke"]
"""A budget not in the table is counted as the costliest per notebook (never more jobs)."""


LOADAVG = Path("/proc/loadavg")
READINGS = 3
"""How many times :func:`others_load` reads what runs now, :data:`READING_GAP_S` apart."""
READING_GAP_S = 0.02


def others_load(
    cores: int,
    *,
    host_cores: int | None = None,
    loadavg: Path | None = None,
    readings: int = READINGS,
) -> float:
    """The load other work puts on the cores this process may use (see the module's text).

    Args:
        cores: the cores this process may use (:func:`grader.machine.cores`).
        host_cores: the host's cores (``os.cpu_count()`` when None).
        loadavg: where the kernel says its load (:data:`LOADAVG` when None: the 1-minute average
            first, then ``running/threads``, the running count including this process).
        readings: how many readings of what runs now to take the median of.

    Without that file (not Linux), the load average alone, where the system gives one; else 0.
    """
    averages: list[float] = []
    running: list[int] = []
    for n in range(max(1, readings)):
        if n:
            time.sleep(READING_GAP_S)
        try:
            fields = (loadavg or LOADAVG).read_text(encoding="ascii").split()
            averages.append(float(fields[0]))
            running.append(int(fields[3].partition("/")[0]) - 1)  # less this process
        except (OSError, ValueError, IndexError):
            return host_share(_load_average(), cores, host_cores or os.cpu_count() or 1)
    return host_share(
        min(averages[-1], statistics.median(running)), cores, host_cores or os.cpu_count() or 1
    )


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has none
        return 0.0


def host_share(load: float, cores: int, host_cores: int) -> float:
    """The part of the host's ``load`` that falls on ``cores`` of its ``host_cores``, spread
    evenly over them (all of it when this process may use every core)."""
    return max(0.0, load) * min(1.0, cores / max(1, host_cores))


def busy_cores(threads_per_kernel: int, budget: str) -> float:
    """Cores one notebook keeps busy while it is graded: its kernel's threads and the rest."""
    return max(1, threads_per_kernel) + BESIDE_KERNEL.get(budget, UNKNOWN_BUDGET)


def job_count(
    cores: int,
    *,
    load: float = 0.0,
    threads_per_kernel: int = 1,
    budget: str = "standard",
    memory_jobs: int | None = None,
) -> int:
    """The default ``-j``: as many notebooks as the free cores hold, at least one.

    Args:
        cores: the cores this process may use (affinity and cgroup quota, see
            :func:`grader.machine.cores`).
        load: the machine's load average when the batch starts (other work): cores it keeps
            busy are not free.
        threads_per_kernel: each kernel's arithmetic threads
            (:data:`grader.sandbox.limits.ARITHMETIC_THREADS`).
        budget: the training budget the batch grades at.
        memory_jobs: how many notebooks the available memory holds; None for no limit.

    Example:
        >>> job_count(2), job_count(8), job_count(8, load=4.0)
        (1, 4, 2)
    """
    free = max(0.0, cores - max(0.0, load))
    jobs = math.floor(free / busy_cores(threads_per_kernel, budget))
    if memory_jobs is not None:
        jobs = min(jobs, memory_jobs)
    return max(1, min(jobs, cores))
