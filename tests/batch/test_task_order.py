"""Which batch tasks let their worker start a kernel ahead for a next notebook; local worker
processes without Dask: their outcomes, a worker that dies, an error that crosses back."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from grader.batch import workers
from grader.batch.workers import DaskExecutor, InProcessExecutor, PoolExecutor, Task, TaskResult
from grader.exceptions import SchedulerError
from grader.options import GradeOptions


def tasks(count: int) -> list[Task]:
    return [Task(f"s{i}", b"{}", "cifar10_transfer", GradeOptions()) for i in range(count)]


def told_more(task: Task) -> TaskResult:
    """Stands in for grading: reports whether the task said another would follow."""
    return TaskResult(task.student_id, failure=str(task.more), worker=str(os.getpid()))


def dies_on_s1(task: Task) -> TaskResult:
    """Stands in for grading: the worker process given ``s1`` dies as the OOM killer would."""
    if task.student_id == "s1":
        os._exit(9)
    return told_more(task)


def cannot_reach() -> None:
    # An error whose class takes arguments of its own (not the message): pickled whole.
    raise SchedulerError("tcp://10.0.0.1:8786", "connection refused")


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_on_two_workers_a_task_starts_a_kernel_ahead_only_if_its_worker_gets_another(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    monkeypatch.setattr(workers, "grade_task", told_more)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        outcomes = list(DaskExecutor(client, "test").run(tasks(count)))
    more = {o.student_id: o.failure for o in outcomes}
    # The worker that finishes task i takes task i + 2, if there is one.
    assert more == {f"s{i}": str(i + 2 < count) for i in range(count)}


def test_local_worker_processes_grade_without_dask_and_start_kernels_ahead_as_dask_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No Dask in this process: importing it fails here.
    monkeypatch.setitem(sys.modules, "distributed", None)
    executor = PoolExecutor(2, grade=told_more)
    try:
        outcomes = list(executor.run(tasks(5)))
    finally:
        executor.close()
    more = {o.student_id: o.failure for o in outcomes}
    assert more == {f"s{i}": str(i + 2 < 5) for i in range(5)}
    # Two worker processes, neither of them this one, and both used.
    pids = {o.worker for o in outcomes}
    assert len(pids) == 2 and str(os.getpid()) not in pids
    assert executor.pool.workers == []


def test_a_worker_that_dies_costs_its_own_notebook_only() -> None:
    executor = PoolExecutor(2, grade=dies_on_s1)
    try:
        first = {w.process.pid for w in executor.pool.workers}
        outcomes = {o.student_id: o for o in executor.run(tasks(6))}
        now = {w.process.pid for w in executor.pool.workers}
    finally:
        executor.close()
    assert sorted(outcomes) == [f"s{i}" for i in range(6)]
    assert outcomes["s1"].failure == "the grading worker process died (exit code 9)"
    assert {outcomes[f"s{i}"].failure for i in (0, 2, 3, 4, 5)} <= {"True", "False"}
    # The dead worker was replaced: two workers still, one of them new.
    assert len(now) == 2 and len(now - first) == 1


def test_an_error_raised_in_a_worker_reaches_the_grader_whole() -> None:
    executor = PoolExecutor(1, grade=told_more)
    try:
        with pytest.raises(SchedulerError) as raised:
            executor.pool.call(cannot_reach)
    finally:
        executor.close()
    assert raised.value.address == "tcp://10.0.0.1:8786"
    want = SchedulerError("tcp://10.0.0.1:8786", "connection refused")
    assert raised.value.message == want.message


def test_in_this_process_only_the_last_task_starts_no_kernel_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "grade_task", told_more)
    outcomes = list(InProcessExecutor().run(tasks(3)))
    assert [o.failure for o in outcomes] == ["True", "True", "False"]


def test_a_worker_that_died_while_idle_is_replaced_before_its_next_notebook() -> None:
    executor = PoolExecutor(1, grade=told_more)
    try:
        idle = executor.pool.workers[0].process
        idle.kill()
        idle.wait()
        outcomes = list(executor.run(tasks(2)))
    finally:
        executor.close()
    assert [(o.student_id, o.failure) for o in outcomes] == [("s0", "True"), ("s1", "False")]


def test_a_local_worker_names_itself_without_importing_dask() -> None:
    """Outside a Dask worker the name is this process's, and Dask (0.4 CPU-s to import) is
    not imported to learn it."""
    probe = (
        "import sys; from grader.batch.workers import _worker_name; "
        "print(_worker_name(), 'distributed' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    name, imported = done.stdout.split()
    assert name.startswith("local:")
    assert imported == "False"
