"""Batch orchestration without kernels: resume, cache, failures and outputs.

The executor is replaced by one that returns canned results, so these tests exercise what the
batch does around grading (which submissions it sends, what it writes, in which order). Real
kernels, local workers and a Dask cluster are exercised in ``test_batch_notebooks.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import types
import typing as t
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from grader.batch import class_files
from grader.batch import run as batch_module
from grader.batch import state as batch_state
from grader.batch.cache import (
    ResultCache,
    grading_context,
    render_key,
    rendering_context,
    result_key,
)
from grader.batch.run import grade_batch
from grader.batch.workers import Task, TaskResult
from grader.exceptions import InputError
from grader.export import submission_files
from grader.export.submission_files import MARKER
from grader.lookalikes.finder import Findings
from grader.options import GradeOptions
from grader.results import GradeResult, Outcome
from grader.rubric.load import load_assignment
from grader.scratch import prefix
from grader.versions import versions
from tests.conftest import EXAMPLES, ROOT, SMOKE
from tests.export.test_exports import result as canned_result

EXECUTED = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
REAL = GradeResult.from_json((ROOT / "tests" / "files" / "results" / "full_marks.json").read_text())
"""A real grade's result (see tools/refresh_report_fixtures.sh)."""


class FakeExecutor:
    """Grades instantly; optionally 'dies' (like a SIGKILL) after a number of notebooks."""

    description = "fake"

    def __init__(
        self,
        log: list[str],
        die_after: int | None = None,
        fail: str = "",
        outcome: Outcome = "ok",
        real: bool = False,
    ) -> None:
        self.log, self.die_after, self.fail, self.outcome = log, die_after, fail, outcome
        self.real = real
        """Answer with a real grade's result (fits, floats, confusion matrices) for everyone."""

    def calibrate(self, assignment: str, options: GradeOptions) -> None:
        return None

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        for task in tasks:
            if self.die_after is not None and len(self.log) >= self.die_after:
                raise KeyboardInterrupt  # the grader was killed mid-batch
            self.log.append(task.student_id)
            if task.student_id == self.fail:
                yield TaskResult(task.student_id, failure="the kernel could not be started")
                continue
            if self.real:
                result = dataclasses.replace(REAL, submission=task.student_id)
            else:
                result = dataclasses.replace(
                    canned_result(
                        task.student_id, {"data.split": "pass", "transfer.frozen": "fail"}
                    ),
                    timings={"total": 3.0},
                    outcome=self.outcome,
                )
            yield TaskResult(task.student_id, result, EXECUTED, duration_s=3.0)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, object]]:
    # The fake grades must never reach the session's cache, where a real grade of the same
    # notebook (tests/test_cli_inputs.py) would be served them.
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    state: dict[str, object] = {
        "log": [],
        "die_after": None,
        "fail": "",
        "outcome": "ok",
        "real": False,
    }

    @contextlib.contextmanager
    def open_executor(*, jobs: int, scheduler: str | None) -> Iterator[FakeExecutor]:
        state["jobs"] = jobs
        yield FakeExecutor(
            state["log"],  # type: ignore[arg-type]
            state["die_after"],  # type: ignore[arg-type]
            state["fail"],  # type: ignore[arg-type]
            state["outcome"],  # type: ignore[arg-type]
            state["real"],  # type: ignore[arg-type]
        )

    monkeypatch.setattr(batch_state, "open_executor", open_executor)
    yield state


@pytest.fixture
def hand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "hand-in"
    folder.mkdir()
    for name, example in (("ada", "full_marks"), ("alan", "not_frozen"), ("grace", "name_error")):
        shutil.copy(EXAMPLES / f"{example}.ipynb", folder / f"{name}.ipynb")
    return folder


def run(hand_in: Path, out: Path, **kwargs: object) -> batch_module.BatchSummary:
    return grade_batch([hand_in], assignment="cifar10_transfer", out=out, options=SMOKE, **kwargs)  # type: ignore[arg-type]


def test_batch_writes_every_output_and_marks_each_submission_last(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    summary = run(hand_in, tmp_path / "out", jobs=4)
    assert fake["log"] == ["ada", "alan", "grace"]
    assert fake["jobs"] == 3  # never more workers than notebooks
    for sid in ("ada", "alan", "grace"):
        folder = tmp_path / "out" / sid
        names = {p.name for p in folder.iterdir()}
        assert names == {
            "result.json",
            "report.html",
            "report.md",
            "executed.ipynb",
            "results.json",
            "prairielearn.json",
            MARKER,
        }
        assert GradeResult.from_json((folder / "result.json").read_text()).submission == sid
    assert [e.status for e in summary.entries] == ["graded"] * 3
    for name in ("gradebook.csv", "canvas.csv", "index.html", "batch.json"):
        assert (tmp_path / "out" / name).is_file()
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_the_gradebooks_are_written_before_the_look_alike_finder_runs(
    hand_in: Path, tmp_path: Path, fake: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A finder that never ends (a class of repetition bombs) must not keep a grade from the
    # gradebooks: when it starts, they are already written, with every student's score.
    out = tmp_path / "out"
    seen: dict[str, str] = {}

    def finder(folder: Path, students: list[str], **kwargs: object) -> Findings:
        seen.update({name: (out / name).read_text() for name in ("gradebook.csv", "canvas.csv")})
        assert not (out / "index.html").exists()
        return Findings(pairs=[], submissions=len(students), threshold=0.6, common_limit=0)

    monkeypatch.setattr(class_files, "find_in_folder", finder)
    run(hand_in, out)
    assert all(sid in seen["gradebook.csv"] for sid in ("ada", "alan", "grace"))
    assert (out / "index.html").is_file() and (out / "batch.json").is_file()


def test_killed_batch_resumes_without_regrading_finished_work(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    fake["die_after"] = 1
    with pytest.raises(KeyboardInterrupt):
        run(hand_in, tmp_path / "out")
    assert (tmp_path / "out" / "ada" / MARKER).is_file()
    assert not (tmp_path / "out" / "alan").exists()
    fake["die_after"] = None
    summary = run(hand_in, tmp_path / "out")
    assert fake["log"] == ["ada", "alan", "grace"]  # ada was not executed a second time
    assert {e.student_id: e.status for e in summary.entries} == {
        "ada": "done",
        "alan": "graded",
        "grace": "graded",
    }


def test_cache_serves_unchanged_notebooks_in_a_new_output_folder(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    run(hand_in, tmp_path / "first")
    (hand_in / "grace.ipynb").write_bytes(
        (hand_in / "grace.ipynb").read_bytes().replace(b'"cells"', b'"cells" ', 1)
    )
    summary = run(hand_in, tmp_path / "second")
    # Only the changed notebook runs again; the others come from the cache, with every file.
    assert fake["log"] == ["ada", "alan", "grace", "grace"]
    assert [e.status for e in summary.entries] == ["cached", "cached", "graded"]
    assert (tmp_path / "second" / "ada" / "executed.ipynb").read_text() == EXECUTED
    assert (tmp_path / "second" / "ada" / "report.html").is_file()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_restored_files_are_the_first_grades_byte_for_byte_and_not_rendered_again(
    hand_in: Path, tmp_path: Path, fake: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake["real"] = True
    run(hand_in, tmp_path / "first")

    def render_reports(*args: object, **kwargs: object) -> t.NoReturn:
        raise AssertionError("a restored submission's reports were rendered again")

    monkeypatch.setattr(batch_state, "render_submission", render_reports)
    summary = run(hand_in, tmp_path / "second")
    assert [e.status for e in summary.entries] == ["cached"] * 3
    for sid in ("ada", "alan", "grace"):
        first, second = _files(tmp_path / "first" / sid), _files(tmp_path / "second" / sid)
        assert set(first) == {
            "result.json",
            "report.html",
            "report.md",
            "results.json",
            "prairielearn.json",
            "executed.ipynb",
            MARKER,
        }
        assert first == second, sid


def test_a_notebook_restored_under_another_name_is_that_students_own_grade(
    hand_in: Path, tmp_path: Path, fake: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two students hand in the same bytes: each result and report names its own student."""
    fake["real"] = True
    # The time the writer takes to render the reports goes into result.json: a clock that
    # stands still makes two grades of the same notebook the same bytes, as their canned
    # results are.
    monkeypatch.setattr(submission_files, "time", types.SimpleNamespace(monotonic=lambda: 0.0))
    run(hand_in, tmp_path / "first")
    shutil.copy(hand_in / "ada.ipynb", hand_in / "bob.ipynb")
    summary = run(hand_in, tmp_path / "second")
    assert {e.student_id: e.status for e in summary.entries}["bob"] == "cached"
    assert fake["log"] == ["ada", "alan", "grace"]  # bob came from ada's entry, not executed
    restored = _files(tmp_path / "second" / "bob")
    assert b"feedback for bob" in restored["report.md"]
    assert b"ada" not in restored["report.md"] + restored["report.html"]
    # Byte for byte what a grade of bob's notebook writes (the canned grade differs from
    # ada's only in its name, as a real one would besides its timings).
    run(hand_in, tmp_path / "fresh", force=True)
    assert restored == _files(tmp_path / "fresh" / "bob")
    # Restored a second time, bob's files are copied from the entry, not rendered again.
    run(hand_in, tmp_path / "third")
    assert _files(tmp_path / "third" / "bob") == restored


@pytest.mark.parametrize("name", ["bob", 'ü "x"\n  "submission": "y",', ""])
def test_a_renamed_result_is_written_as_to_json_writes_it(name: str) -> None:
    from grader.batch.state import _renamed

    text = REAL.to_json()
    assert _renamed(text, REAL.submission, name) == (
        dataclasses.replace(REAL, submission=name).to_json()
    )


def test_rendered_files_are_kept_per_view_template_and_grader_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.batch import cache as cache_module
    from grader.report.render import templates_dir

    spec = load_assignment("cifar10_transfer")
    context = rendering_context(spec, "instructor")
    assert rendering_context(spec, "instructor") == context
    assert rendering_context(spec, "student") != context
    assert render_key("ada", context) != render_key("bob", context)
    templates = tmp_path / "templates"
    shutil.copytree(templates_dir(), templates)
    monkeypatch.setattr(cache_module, "templates_dir", lambda: templates)
    cache_module.grader_source_digest.cache_clear()  # read once per process: read them again
    assert rendering_context(spec, "instructor") == context  # the same templates, copied
    md = templates / "report.md.j2"
    md.write_text(md.read_text() + "\n")
    cache_module.grader_source_digest.cache_clear()
    try:
        assert rendering_context(spec, "instructor") != context
    finally:
        cache_module.grader_source_digest.cache_clear()


def test_a_change_to_the_graders_source_grades_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same version number, another source (a fix in a checkout): no cached result fits."""
    from grader.batch import cache as cache_module

    package = tmp_path / "grader"
    (package / "checks").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "checks" / "__init__.py").write_text("")
    before = cache_module.source_digest({"grader": (package, "*.py")})
    (package / "checks" / "__init__.py").write_text("THRESHOLD = 0.5\n")
    after = cache_module.source_digest({"grader": (package, "*.py")})
    assert before != after
    spec = load_assignment("cifar10_transfer")
    options = GradeOptions(budget="smoke")
    monkeypatch.setattr(cache_module, "grader_source_digest", lambda: before)
    old = grading_context(spec, options)
    monkeypatch.setattr(cache_module, "grader_source_digest", lambda: after)
    assert grading_context(spec, options) != old


def test_a_view_change_renders_the_reports_again(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    run(hand_in, tmp_path / "first")
    summary = grade_batch(
        [hand_in],
        assignment="cifar10_transfer",
        out=tmp_path / "student",
        options=SMOKE.replace(view="student"),
    )
    assert [e.status for e in summary.entries] == ["cached"] * 3
    instructor = (tmp_path / "first" / "ada" / "report.html").read_text()
    student = (tmp_path / "student" / "ada" / "report.html").read_text()
    result = GradeResult.from_json((tmp_path / "student" / "ada" / "result.json").read_text())
    rendered = submission_files.render_submission(result, view="student", reveals=None)
    assert student == rendered["report.html"] != instructor


def test_force_grades_everything_again(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    run(hand_in, tmp_path / "out")
    summary = run(hand_in, tmp_path / "out", force=True)
    assert fake["log"] == ["ada", "alan", "grace"] * 2
    assert [e.status for e in summary.entries] == ["graded"] * 3


def test_failed_submission_gets_a_result_and_is_tried_again_next_run(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    fake["fail"] = "alan"
    summary = run(hand_in, tmp_path / "out")
    alan = next(e for e in summary.entries if e.student_id == "alan")
    assert alan.status == "failed" and alan.reason == "the kernel could not be started"
    result = GradeResult.from_json((tmp_path / "out" / "alan" / "result.json").read_text())
    assert result.score == 0 and {c.status for c in result.checks} == {"error"}
    assert result.notices[0] == "Not graded: the kernel could not be started"
    gradescope = json.loads((tmp_path / "out" / "alan" / "results.json").read_text())
    assert gradescope["output"].startswith("**Not graded:** the kernel could not be started")
    assert not (tmp_path / "out" / "alan" / MARKER).exists()
    fake["fail"] = ""
    run(hand_in, tmp_path / "out")
    assert fake["log"] == ["ada", "alan", "grace", "alan"]


@pytest.mark.parametrize("outcome", ["judge_failed", "judge_timeout", "missing_module"])
def test_a_broken_or_late_judge_is_written_but_judged_again_next_run(
    hand_in: Path, tmp_path: Path, fake: dict[str, object], outcome: str
) -> None:
    fake["outcome"] = outcome
    summary = run(hand_in, tmp_path / "out")
    assert {e.status for e in summary.entries} == {"graded"}
    result = GradeResult.from_json((tmp_path / "out" / "ada" / "result.json").read_text())
    assert result.outcome == outcome
    assert not (tmp_path / "out" / "ada" / MARKER).exists()
    # Neither the output folder nor the result cache keeps the accident: all three run again,
    # also into a new output folder, and a good run is then kept.
    fake["outcome"] = "ok"
    run(hand_in, tmp_path / "out")
    run(hand_in, tmp_path / "elsewhere")
    assert fake["log"] == ["ada", "alan", "grace"] * 2
    assert (tmp_path / "out" / "ada" / MARKER).exists()


def test_roster_names_reach_the_gradebooks(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\nada,Ada Lovelace\n")
    run(hand_in, tmp_path / "out", roster=roster, canvas_column="HW (7)")
    gradebook = (tmp_path / "out" / "gradebook.csv").read_text()
    assert "ada,Ada Lovelace,graded" in gradebook
    canvas = (tmp_path / "out" / "canvas.csv").read_text().splitlines()
    assert canvas[0].endswith(",HW (7)") and canvas[2].startswith("Ada Lovelace,ada,")


def test_unknown_budget_is_refused_before_anything_runs(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    with pytest.raises(InputError, match="unknown budget 'huge'"):
        grade_batch(
            [hand_in],
            assignment="cifar10_transfer",
            out=tmp_path / "o",
            options=GradeOptions(budget="huge"),
        )
    assert fake["log"] == []


def test_cache_key_changes_with_notebook_budget_timeouts_limits_and_grader_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_assignment("cifar10_transfer")
    base = GradeOptions(budget="smoke")
    context = grading_context(spec, base)
    assert grading_context(spec, base) == context
    assert grading_context(spec, base.replace(view="student")) == context  # reports only
    key = result_key("a" * 64, context)
    assert result_key("b" * 64, context) != key
    smaller = dataclasses.replace(spec.limits, memory_mb=spec.limits.memory_mb // 2)
    for change in (
        {"budget": "standard"},
        {"cell_timeout": 5.0},
        {"total_timeout": 9.0},
        {"limits": smaller},
        {"sandboxed": False},
        {"secret": "another"},
    ):
        assert grading_context(spec, base.replace(**change)) != context, change
    real = tmp_path / "cifar-10-batches-py"
    real.mkdir()
    (real / "test_batch").write_bytes(b"x")
    assert grading_context(spec, base.replace(data_dir=real)) != context
    from importlib import metadata

    version = metadata.version
    monkeypatch.setattr(
        metadata,
        "version",
        lambda d: "9.9.9" if d == "keras-notebook-grader" else version(d),
    )
    versions.cache_clear()
    try:
        assert grading_context(spec, base) != context
    finally:
        monkeypatch.undo()
        versions.cache_clear()


def test_rubric_change_changes_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10_transfer"
    shutil.copytree(load_assignment("cifar10_transfer").folder, folder)
    before = grading_context(load_assignment(folder), SMOKE)
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text().replace("points = 10", "points = 11", 1))
    assert grading_context(load_assignment(folder), SMOKE) != before


def test_cache_entry_is_stored_whole(tmp_path: Path) -> None:
    from grader.batch.cache import CachedResult

    cache = ResultCache(tmp_path / "results")
    assert cache.get("k") is None
    cache.put("k", CachedResult("{}", EXECUTED))
    cache.put("k", CachedResult("{}", EXECUTED))  # a second writer of the same key is harmless
    assert cache.get("k") == CachedResult("{}", EXECUTED)
    assert os.listdir(tmp_path / "results") == ["k"]


CACHED_RUN = """
import sys
from pathlib import Path
from grader.batch.run import grade_batch
from grader.options import GradeOptions
summary = grade_batch([Path(sys.argv[1])], assignment="cifar10_transfer", out=Path(sys.argv[2]),
                      options=GradeOptions(budget="smoke"))
print([e.status for e in summary.entries],
      sorted(m for m in ("keras", "tensorflow", "nbclient") if m in sys.modules))
"""


def test_cached_results_come_back_without_importing_keras(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    run(hand_in, tmp_path / "first")  # fills the cache (GRADER_CACHE_DIR is the test's)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CACHED_RUN, str(hand_in), str(tmp_path / "second")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "['cached', 'cached', 'cached'] []"
    assert (tmp_path / "second" / "grace" / "report.html").is_file()


def imported_packages(importtime: str) -> set[str]:
    """Top-level package of every module ``python -X importtime`` reports imported."""
    return {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in importtime.splitlines()
        if line.startswith("import time:")
    }


def test_cached_regrade_through_the_cli_never_imports_keras(
    hand_in: Path, tmp_path: Path, fake: dict[str, object]
) -> None:
    """The command an instructor re-runs: the whole CLI start-up counts, not only the batch."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    run(hand_in, tmp_path / "first")  # fills the cache (GRADER_CACHE_DIR is the test's)
    command = [sys.executable, "-X", "importtime", "-m", "grader", "grade", str(hand_in)]
    command += ["-a", "cifar10_transfer", "--budget", "smoke", "--out", str(tmp_path / "second")]
    done = subprocess.run(
        command,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    packages = imported_packages(done.stderr)
    assert "grader" in packages  # the listing is read right: the CLI's own package is in it
    assert not packages & {"keras", "tensorflow", "nbclient", "jupyter_client"}
    statuses = json.loads((tmp_path / "second" / "batch.json").read_text())["submissions"]
    assert [s["status"] for s in statuses] == ["cached"] * 3


def test_a_batch_first_removes_what_a_killed_grader_left(
    hand_in: Path, tmp_path: Path, fake: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryDirectory(prefix="t-", dir="/tmp") as scratch:  # short: sockets
        monkeypatch.setattr(tempfile, "tempdir", scratch)
        stale = Path(tempfile.mkdtemp(prefix=prefix("judge")))
        os.utime(stale, (0, 0))
        run(hand_in, tmp_path / "out")
        assert list(Path(scratch).iterdir()) == []


def test_output_folder_inside_the_hand_in_is_not_graded(
    hand_in: Path, fake: dict[str, object]
) -> None:
    run(hand_in, hand_in / "out")
    summary = run(hand_in, hand_in / "out")
    # out/<id>/executed.ipynb copies are the grader's, never new submissions.
    assert [e.student_id for e in summary.entries] == ["ada", "alan", "grace"]
    assert [e.status for e in summary.entries] == ["done"] * 3
