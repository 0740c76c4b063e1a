"""Where submissions are graded: in this process, in local worker processes, or on Dask.

One task function, :func:`grade_task`, grades one notebook wherever it runs, writing nothing. It
receives the notebook's bytes (workers need not share a file system with the submitting
process) and sends back the result and the executed notebook's text; the submitting process
renders and writes every output file, once (:mod:`grader.export.submission_files`). ``-j N``
starts N worker processes of this Python (:mod:`grader.batch.process_pool`, the standard
library only); ``--scheduler ADDRESS`` connects to a Dask cluster started elsewhere (``dask
scheduler`` and ``dask worker``, by hand, under dask-jobqueue or on Kubernetes), which needs
the ``[dask]`` extra.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import functools
import importlib.util
import itertools
import os
import platform
import sys
import time
import typing as t
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from grader.batch.job_count import job_count, others_load
from grader.batch.process_pool import ProcessPool, WorkerDied
from grader.exceptions import GraderError, MissingExtraError, SchedulerError
from grader.machine import cores
from grader.options import GradeOptions
from grader.results import GradeResult
from grader.sandbox.limits import ARITHMETIC_THREADS, thread_env
from grader.scratch import scratch_folder

if t.TYPE_CHECKING:
    from grader.execute.warm import WarmPool

MEMORY_PER_JOB = 3 * 2**30
"""Bytes one parallel job needs: a kernel training a small CNN plus the worker judging it."""


@dataclass(frozen=True)
class Task:
    """One notebook to grade, with everything a remote worker needs to grade it."""

    student_id: str
    notebook: bytes
    assignment: str
    """Assignment id, or a folder path that exists on the worker."""
    options: GradeOptions
    """How to grade it; paths in it (``data_dir``, ``weights_dir``) are the worker's. Its
    ``secret`` is the submitting grader's, so that every worker draws the same data and
    held-back images."""
    source: str = ""
    """The notebook's path where it was handed in; names it in failure messages."""
    more: bool = True
    """Whether the worker may get another task after this one: it then starts the next
    kernel while this notebook runs (see :mod:`grader.execute.warm`)."""


@dataclass(frozen=True)
class TaskResult:
    """What grading one task produced: a result, or why there is none."""

    student_id: str
    result: GradeResult | None = None
    """The result, as grading returned it; None when the notebook could not be graded. It
    crosses a worker process's pipe or Dask's network pickled with this object, the one
    encoding between the worker and the process that writes it (``result.json``'s text is
    made there, once, with the reports)."""
    executed: str = ""
    """The executed notebook's JSON text: ``executed.ipynb`` as it will be written."""
    failure: str = ""
    """Why the notebook could not be graded (empty when it was)."""
    worker: str = ""
    duration_s: float = 0.0


def default_jobs(budget: str) -> int:
    """The ``-j`` a batch at ``budget`` gets when none is given: what this machine's free cores
    and memory hold, each notebook counted at the cores it keeps busy (see
    :func:`grader.batch.job_count.job_count`)."""
    import psutil

    return job_count(
        cores(),
        load=others_load(cores()),
        threads_per_kernel=ARITHMETIC_THREADS,
        budget=budget,
        memory_jobs=int(psutil.virtual_memory().available // MEMORY_PER_JOB),
    )


_WARM: list[WarmPool] = []
"""This process's warm kernel pool, made by the first task it grades (importing it needs
jupyter_client, which a batch served from the cache never imports)."""


def _warm_pool() -> WarmPool | None:
    from grader.execute.warm import WarmPool, warm_judges_enabled, warm_kernels_enabled

    if not warm_kernels_enabled():
        return None
    if not _WARM:
        _WARM.append(WarmPool(judges=warm_judges_enabled()))
        atexit.register(_WARM[0].close)
    return _WARM[0]


def close_warm_kernel() -> None:
    """Stop this process's warm kernel, if any (a batch ends, nothing more is coming)."""
    if _WARM:
        _WARM[0].close()


def grade_task(task: Task) -> TaskResult:
    """Grade one notebook in a fresh kernel; never raises for a bad submission.

    Runs in the submitting process or on a Dask worker. The notebook is written to a private
    temporary folder as ``<student_id>.ipynb``, so the result is named after the student.
    """
    from grader.pipeline import executed_text, grade_notebook

    started = time.monotonic()
    worker = _worker_name()
    # Grading writes nothing: only the notebook, which the pipeline reads from a file, goes
    # into a private temporary folder, as ``<student_id>.ipynb`` so the result is named after
    # the student.
    with scratch_folder("task") as tmp:
        path = tmp / f"{task.student_id}.ipynb"
        path.write_bytes(task.notebook)
        try:
            pool = _warm_pool()
            if pool is not None:
                pool.ahead = task.more
            graded = grade_notebook(
                path, assignment=task.assignment, options=task.options, warm=pool
            )
        except GraderError as exc:
            return TaskResult(
                task.student_id,
                failure=exc.message.splitlines()[0],
                worker=worker,
                duration_s=time.monotonic() - started,
            )
        except Exception as exc:  # a grader bug on one notebook must not end the class's batch
            return TaskResult(
                task.student_id,
                failure=f"the grader failed on this notebook ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''})",
                worker=worker,
                duration_s=time.monotonic() - started,
            )
    return TaskResult(
        task.student_id,
        result=graded.result,
        # A file refused as not a notebook has a result but was never executed: "".
        executed=executed_text(graded.executed),
        worker=worker,
        duration_s=time.monotonic() - started,
    )


def calibrate_task(assignment: str, options: GradeOptions) -> str:
    """Prepare the data and calibrate the reference once, before workers grade in parallel.

    Without it, every worker would find the calibration cache empty and train the reference
    at the same time.
    """
    from grader.pipeline import prepare_reference

    prepare_reference(assignment=assignment, options=options)
    return _worker_name()


def _worker_name() -> str:
    # A Dask worker has imported distributed; a local worker or `-j 1` has not, and importing
    # it only to learn that cost 0.4 CPU-s.
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        with contextlib.suppress(ValueError):  # imported, but this is no Dask worker
            return str(distributed.get_worker().address)
    return f"local:{platform.node()}:{os.getpid()}"


class Executor(t.Protocol):
    """Runs tasks and yields their outcomes as they finish."""

    description: str

    def calibrate(self, assignment: str, options: GradeOptions) -> None:
        """Calibrate the reference where the workers will find it, before they start."""

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskResult]: ...


class InProcessExecutor:
    """Grades one notebook after another in this process (``-j 1``)."""

    description = "this process"

    def calibrate(self, assignment: str, options: GradeOptions) -> None:
        # Grading the first notebook calibrates; nobody else is waiting for it.
        return None

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        try:
            pending = iter(tasks)
            task = next(pending, None)
            while task is not None:
                following = next(pending, None)
                # The last notebook starts no kernel for a next one that never comes.
                yield grade_task(dataclasses.replace(task, more=following is not None))
                task = following
        finally:
            close_warm_kernel()


class PoolExecutor:
    """Grades notebooks in ``jobs`` local worker processes, one notebook at a time each."""

    def __init__(self, jobs: int, grade: t.Callable[[Task], TaskResult] | None = None) -> None:
        self.jobs = jobs
        # What grades a task (a test gives its own): a module-level function, which the
        # workers import by name.
        self.grade = grade or grade_task
        self.description = f"{jobs} local worker processes"
        # Calibration in a worker computes with the kernels' thread count.
        self.pool = ProcessPool(jobs, env=thread_env(), finish=close_warm_kernel)

    def calibrate(self, assignment: str, options: GradeOptions) -> None:
        self.pool.call(functools.partial(calibrate_task, assignment, options))

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        calls = (
            (task, functools.partial(self.grade, dataclasses.replace(task, more=more)))
            for _, task, more in with_successors(tasks, self.jobs)
        )
        for task, outcome in self.pool.run(calls):
            if isinstance(outcome, TaskResult):
                yield outcome
            elif isinstance(outcome, WorkerDied):
                yield TaskResult(task.student_id, failure=str(outcome))
            else:  # grade_task catches what grading raises: this is the worker's own failure
                failure = f"the grading worker failed ({type(outcome).__name__}: {outcome})"
                yield TaskResult(task.student_id, failure=failure)

    def close(self) -> None:
        self.pool.close()


class DaskExecutor:
    """Grades notebooks on the workers of a Dask cluster, one task per worker thread."""

    def __init__(self, client: t.Any, description: str) -> None:
        self.client = client
        self.description = description

    def calibrate(self, assignment: str, options: GradeOptions) -> None:
        self.client.submit(calibrate_task, assignment, options, pure=False).result()

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        from distributed import as_completed

        # A bounded number of tasks in flight: notebooks are read and sent only as workers
        # free up, so the client's memory does not grow with the size of the class.
        slots = sum(self.client.nthreads().values()) or 1
        pending = with_successors(tasks, slots)
        futures: dict[t.Any, Task] = {}
        queue = as_completed()  # type: ignore[no-untyped-call]

        def submit_next() -> None:
            item = next(pending, None)
            if item is not None:
                i, task, more = item
                key = f"grade-{task.student_id}-{i}-{uuid.uuid4().hex[:8]}"
                future = self.client.submit(
                    grade_task, dataclasses.replace(task, more=more), pure=False, key=key
                )
                futures[future] = task
                queue.add(future)  # type: ignore[no-untyped-call]

        for _ in range(slots + 1):
            submit_next()
        for future in queue:
            task = futures.pop(future)
            try:
                outcome: TaskResult = future.result()
            except Exception as exc:  # the worker process died (KilledWorker) or was lost
                outcome = TaskResult(
                    task.student_id,
                    failure=f"the grading worker failed ({type(exc).__name__}: {exc})",
                )
            future.release()
            submit_next()
            yield outcome


def with_successors(tasks: Iterable[Task], slots: int) -> Iterator[tuple[int, Task, bool]]:
    """Each task with its index, and whether its worker is likely to be given another after it.

    With ``slots`` tasks running at once, in order, the worker that finishes task ``i`` takes
    task ``i + slots`` if there is one. A worker told there is none starts no kernel and judge
    ahead for it: at the end of a batch those would only take CPU from the last notebooks.
    """
    pending = iter(enumerate(tasks))
    window: collections.deque[tuple[int, Task]] = collections.deque(
        itertools.islice(pending, slots + 1)
    )
    while window:
        i, task = window.popleft()
        following = next(pending, None)
        if following is not None:
            window.append(following)
        yield i, task, len(window) >= slots


def require_dask(feature: str = "--scheduler") -> None:
    """Refuse, in one line, an option that needs Dask where the ``[dask]`` extra is missing.

    Raises:
        MissingExtraError: ``distributed`` is not installed.
    """
    if importlib.util.find_spec("distributed") is None:
        raise MissingExtraError(feature, "dask", "Dask (distributed)")


@contextlib.contextmanager
def open_executor(*, jobs: int, scheduler: str | None) -> Iterator[Executor]:
    """The executor for ``-j`` / ``--scheduler``, shut down on exit.

    Args:
        jobs: local worker processes; 1 grades in this process.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``); overrides ``jobs``.

    Raises:
        MissingExtraError: ``scheduler`` is given and Dask is not installed.
        SchedulerError: the scheduler could not be reached.
    """
    if scheduler is None:
        if jobs <= 1:
            yield InProcessExecutor()
            return
        executor = PoolExecutor(jobs)
        try:
            yield executor
        finally:
            executor.close()
        return
    require_dask()
    import dask
    from distributed import Client

    # A notebook that takes a worker process down must not take down others after it.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        try:
            client = Client(scheduler, timeout="20s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(scheduler, str(exc)) from exc
        with client:
            yield DaskExecutor(client, f"Dask scheduler {scheduler}")
