"""The default ``-j``: what the free cores hold, each notebook at the cores it keeps busy."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.batch import job_count as job_count_module
from grader.batch import workers
from grader.batch.job_count import BESIDE_KERNEL, busy_cores, host_share, job_count, others_load
from grader.cli import main
from tests.conftest import EXAMPLES


@pytest.mark.parametrize("budget", [*BESIDE_KERNEL, "a budget of a newer rubric"])
def test_two_cores_grade_one_notebook_at_a_time(budget: str) -> None:
    # One notebook already keeps more than one of two cores busy: a second would only slow
    # both (issue 27: -j 2 was 0.91x -j 1 under load).
    assert job_count(2, budget=budget) == 1
    assert job_count(2, load=1.5, budget=budget) == 1


def test_eight_cores_grade_several_at_once() -> None:
    assert job_count(8, budget="smoke") == 4  # 8 / 1.8
    assert job_count(8, budget="standard") == 4  # 8 / 1.7
    assert job_count(8, budget="full") == 6  # 8 / 1.2


def test_sixty_four_cores_are_held_back_by_memory_only() -> None:
    assert job_count(64, budget="standard") == 37
    assert job_count(64, budget="standard", memory_jobs=20) == 20


def test_load_takes_cores_away() -> None:
    assert job_count(8, load=4.0, budget="standard") == 2
    # A machine busier than it has cores still grades, one notebook at a time.
    assert job_count(8, load=30.0, budget="standard") == 1
    assert job_count(64, load=-1.0, budget="standard") == 37  # no load average: none assumed


def test_more_threads_per_kernel_mean_fewer_jobs() -> None:
    assert busy_cores(2, "standard") == busy_cores(1, "standard") + 1
    assert job_count(8, threads_per_kernel=2, budget="standard") == 2  # 8 / 2.7
    assert job_count(8, threads_per_kernel=2, budget="standard") < job_count(8, budget="standard")


def test_never_none_and_never_more_than_cores() -> None:
    assert job_count(1, budget="full") == 1
    assert job_count(1, budget="full", memory_jobs=0) == 1
    for cores in range(1, 129):
        for load in (0.0, 0.5, 3.0, 200.0):
            assert 1 <= job_count(cores, load=load, budget="full") <= cores


def test_a_budget_not_in_the_table_gets_no_more_jobs_than_the_costliest() -> None:
    assert job_count(32, budget="huge") == job_count(32, budget="smoke")


def test_default_jobs_reads_this_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(workers, "cores", lambda: 8)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("4.00 3.00 2.00 5/300 1234\n")  # 4 running besides this process
    monkeypatch.setattr(job_count_module, "LOADAVG", loadavg)
    monkeypatch.setattr(job_count_module, "READING_GAP_S", 0.0)
    assert workers.default_jobs("standard") == 2


def _loadavg(tmp_path: Path, average: float, running: int) -> Path:
    path = tmp_path / "loadavg"
    path.write_text(f"{average:.2f} 1.00 1.00 {running + 1}/400 4242\n")  # + this process
    return path


def test_a_stale_load_average_takes_no_cores_from_an_idle_machine(tmp_path: Path) -> None:
    # A batch just ended on 8 cores: the 1-minute average still says 7, nothing runs now.
    # Counting the average alone would grade the whole next batch at -j 1.
    loadavg = _loadavg(tmp_path, 7.0, running=0)
    assert others_load(8, host_cores=8, loadavg=loadavg, readings=1) == 0.0
    assert job_count(8, load=0.0, budget="standard") == 4


def test_work_that_runs_now_and_ran_all_minute_is_counted(tmp_path: Path) -> None:
    assert others_load(8, host_cores=8, loadavg=_loadavg(tmp_path, 4.0, 6), readings=1) == 4.0
    assert others_load(8, host_cores=8, loadavg=_loadavg(tmp_path, 6.0, 3), readings=1) == 3.0


def test_a_containers_cores_carry_their_share_of_the_hosts_load(tmp_path: Path) -> None:
    # 8 of a 96-core host's cores at load 60: about 5 of them busy, not all 8 and more.
    loadavg = _loadavg(tmp_path, 60.0, running=60)
    assert others_load(8, host_cores=96, loadavg=loadavg, readings=1) == pytest.approx(5.0)
    assert job_count(8, load=5.0, budget="standard") == 1
    assert host_share(3.0, 2, 2) == 3.0  # every core of the host: all of its load
    assert host_share(-1.0, 2, 8) == 0.0


def test_the_median_reading_of_what_runs_now_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "loadavg"
    readings = iter([1, 9, 5, 5, 7])

    class Changing(type(path)):  # type: ignore[misc]
        def read_text(self, *args: t.Any, **kwargs: t.Any) -> str:
            return f"9.00 1.00 1.00 {next(readings) + 1}/400 4242\n"

    assert others_load(16, host_cores=16, loadavg=Changing(path), readings=5) == 5.0


def test_without_the_load_file_the_load_average_is_counted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Not Linux: the system's load average, as before, scaled to this process's cores.
    monkeypatch.setattr(os, "getloadavg", lambda: (6.0, 0.0, 0.0))
    assert others_load(8, host_cores=16, loadavg=tmp_path / "absent", readings=1) == 3.0
    (tmp_path / "odd").write_text("nonsense\n")
    assert others_load(8, host_cores=8, loadavg=tmp_path / "odd", readings=1) == 6.0

    def none() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", none)
    assert others_load(8, host_cores=8, loadavg=tmp_path / "absent", readings=1) == 0.0


def _record_jobs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Stop ``grade`` at grade_batch, keeping the ``jobs`` it was given."""
    import grader.batch.run

    seen: list[int] = []

    class Stop(Exception):
        pass

    def fake(*args: t.Any, jobs: int, **kwargs: t.Any) -> t.NoReturn:
        seen.append(jobs)
        raise Stop

    monkeypatch.setattr(grader.batch.run, "grade_batch", fake)
    return seen


@pytest.mark.parametrize(("given", "expected"), [([], 3), (["-j", "7"], 7), (["-j", "1"], 1)])
def test_grade_uses_the_default_unless_j_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: list[str], expected: int
) -> None:
    seen = _record_jobs(monkeypatch)
    budgets: list[str] = []

    def default_jobs(budget: str) -> int:
        budgets.append(budget)
        return 3

    monkeypatch.setattr(workers, "default_jobs", default_jobs)
    args = ["grade", str(EXAMPLES / "full_marks.ipynb"), "-a", "cifar10_transfer"]
    args += ["--budget", "smoke", "--out", str(tmp_path / "out"), *given]
    CliRunner().invoke(main, args)
    assert seen == [expected]
    assert budgets == ([] if given else ["smoke"])
