"""Which batch tasks let their worker start a kernel ahead for a next notebook."""

from __future__ import annotations

import logging

import pytest
from distributed import Client, LocalCluster

from grader.batch import workers
from grader.batch.workers import DaskExecutor, InProcessExecutor, Task, TaskResult
from grader.options import GradeOptions


def tasks(count: int) -> list[Task]:
    return [Task(f"s{i}", b"{}", "cifar10_transfer", GradeOptions()) for i in range(count)]


def told_more(task: Task) -> TaskResult:
    """Stands in for grading: reports whether the task said another would follow."""
    return TaskResult(task.student_id, failure=str(task.more))


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_on_two_workers_a_task_starts_a_kernel_ahead_only_if_its_worker_gets_another(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
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


def test_in_this_process_only_the_last_task_starts_no_kernel_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "grade_task", told_more)
    outcomes = list(InProcessExecutor().run(tasks(3)))
    assert [o.failure for o in outcomes] == ["True", "True", "False"]
