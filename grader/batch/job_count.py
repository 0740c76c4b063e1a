"""How many notebooks a batch grades at once when ``-j`` is not given.

One notebook keeps more than its kernel's arithmetic threads busy: while it runs, its judge
imports Keras and loads the data, its worker imports the next notebook's kernel, and the grader
takes evidence and writes reports. Two notebooks at once on two cores then share cores that
one already kept mostly busy, and each runs slower than it would alone: measured on 2 cores,
``-j 2`` was within noise of ``-j 1`` on a quiet machine and 0.91x under load (issue 27). So
the default is the number of notebooks the cores free to the grader hold, each counted at what
it really keeps busy, never more than memory allows; ``-j N`` given by the user is used as it
is.
"""

from __future__ import annotations

import math

BESIDE_KERNEL = {"smoke": 0.8, "standard": 0.4, "full": 0.2}
"""Cores one notebook keeps busy besides its kernel's arithmetic threads, by budget.

Measured at ``smoke`` (``benchmarks/parallel_default.py``, 2026-12-06, one arithmetic thread
per kernel): a notebook costs about 31 CPU-seconds, 17 in its kernel (start, ``import keras``
and cells), 9 in its judge (its own ``import keras``, the data, the judging) and 5 in the
grader; the same notebooks take 14-20 s of wall time each at ``-j 1`` on a quiet machine
(issue 27: 82 s for six), so one keeps 1.5-2.2 cores busy, and 1 + 0.8 is taken. Larger
budgets train for longer against the same fixed costs (the imports, the judge's start), so the
share beside the kernel shrinks with them: estimated from those fixed costs over longer cells,
not measured."""

UNKNOWN_BUDGET = BESIDE_KERNEL["smoke"]
"""A budget not in the table is counted as the costliest per notebook (never more jobs)."""


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
        (1, 5, 2)
    """
    free = max(0.0, cores - max(0.0, load))
    jobs = math.floor(free / busy_cores(threads_per_kernel, budget))
    if memory_jobs is not None:
        jobs = min(jobs, memory_jobs)
    return max(1, min(jobs, cores))
