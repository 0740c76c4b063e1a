"""Decide, then write once: grading writes nothing, and each submission's files are rendered
and written once, by one writer, in the process that keeps the class's folder.

The counters wrap the functions every render, write and rubric parse goes through
(``render_html``/``render_markdown``, the writer's ``write_atomic``, ``parse_tables``), so a
second render or parse anywhere in a batch makes these tests fail.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import typing as t
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from grader import pipeline
from grader.batch import state
from grader.batch.run import grade_batch
from grader.batch.workers import Task, TaskResult
from grader.execute.kernel_setup import kernel_key
from grader.export import submission_files
from grader.export.submission_files import MARKER, RENDERED_FILES
from grader.options import GradeOptions
from grader.report import render
from grader.results import GradeResult, write_atomic
from grader.rubric import load, parse
from tests.conftest import EXAMPLES, ROOT, SMOKE

EXECUTED = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
REAL = GradeResult.from_json((ROOT / "tests" / "files" / "results" / "full_marks.json").read_text())
"""A real grade's result (see tools/refresh_report_fixtures.sh)."""
STUDENTS = ("ada", "alan", "grace")
SUBMISSION_FILES = {*RENDERED_FILES, "executed.ipynb", "result.json", MARKER}


@dataclasses.dataclass
class Counts:
    """How often each counted function ran, by what it ran for."""

    renders: collections.Counter[tuple[str, str, str]] = dataclasses.field(
        default_factory=collections.Counter
    )
    """``(submission, "html" | "markdown", view)``: a report rendered for that submission."""
    writes: collections.Counter[Path] = dataclasses.field(default_factory=collections.Counter)
    """A file the submission writer wrote."""
    encodings: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    """A result encoded as JSON text, by submission."""
    decodings: int = 0
    """A result parsed back from JSON text."""
    parses: int = 0
    """A rubric parsed."""
    kernel_keys: int = 0
    """A kernel's sandbox key computed."""


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Counts:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    found = Counts()

    def counted_render(kind: str, real: t.Callable[..., str]) -> t.Callable[..., str]:
        def call(result: GradeResult, view: str = "instructor") -> str:
            found.renders[result.submission, kind, view] += 1
            return real(result, view)

        return call

    html = counted_render("html", render.render_html)
    markdown = counted_render("markdown", render.render_markdown)
    for module in (render, submission_files):
        monkeypatch.setattr(module, "render_html", html, raising=False)
        monkeypatch.setattr(module, "render_markdown", markdown, raising=False)

    def counted_write(path: Path, text: str) -> None:
        found.writes[path] += 1
        write_atomic(path, text)

    monkeypatch.setattr("grader.export.submission_files.write_atomic", counted_write)
    to_json, from_json = GradeResult.to_json, GradeResult.from_json.__func__  # type: ignore[attr-defined]

    def counted_to_json(self: GradeResult) -> str:
        found.encodings[self.submission] += 1
        return to_json(self)

    def counted_from_json(cls: type[GradeResult], text: str) -> GradeResult:
        found.decodings += 1
        return t.cast(GradeResult, from_json(cls, text))

    monkeypatch.setattr(GradeResult, "to_json", counted_to_json)
    monkeypatch.setattr(GradeResult, "from_json", classmethod(counted_from_json))
    parse_tables = parse.parse_tables

    def counted_parse(*args: t.Any, **kwargs: t.Any) -> t.Any:
        found.parses += 1
        return parse_tables(*args, **kwargs)

    monkeypatch.setattr(load, "parse_tables", counted_parse)

    def counted_key(*args: t.Any, **kwargs: t.Any) -> t.Any:
        found.kernel_keys += 1
        return kernel_key(*args, **kwargs)

    monkeypatch.setattr("grader.pipeline.kernel_key", counted_key)
    # A rubric parsed by an earlier test in this process would not be parsed again here.
    load._parsed.cache_clear()
    return found


def assert_each_written_once(
    counts: Counts, out: Path, students: Iterable[str], *, encodings: int = 1, decodings: int = 0
) -> None:
    for sid in students:
        # The instructor's reports, and the student's Markdown that Gradescope's and
        # PrairieLearn's files both show: each rendered once.
        mine = {key[1:]: n for key, n in counts.renders.items() if key[0] == sid}
        assert mine == {
            ("html", "instructor"): 1,
            ("markdown", "instructor"): 1,
            ("markdown", "student"): 1,
        }, sid
        assert counts.encodings[sid] == encodings, (sid, counts.encodings)
        written = {p.name: n for p, n in counts.writes.items() if p.parent == out / sid}
        assert written == dict.fromkeys(SUBMISSION_FILES, 1), sid
    # No result went through JSON text and back on its way from grading to its files.
    assert counts.decodings == decodings


class CannedExecutor:
    """Grades instantly with a real grade's result, named after each student."""

    description = "this process"

    def calibrate(self, assignment: str, options: GradeOptions) -> None:
        return None

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        for task in tasks:
            result = dataclasses.replace(REAL, submission=task.student_id)
            yield TaskResult(task.student_id, result, EXECUTED, duration_s=1.0)


def canned_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A hand-in of three copies of ``full_marks``, graded by :class:`CannedExecutor`."""

    @contextlib.contextmanager
    def open_executor(*, jobs: int, scheduler: str | None) -> Iterator[CannedExecutor]:
        yield CannedExecutor()

    monkeypatch.setattr(state, "open_executor", open_executor)
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    for sid in STUDENTS:
        (hand_in / f"{sid}.ipynb").write_bytes((EXAMPLES / "full_marks.ipynb").read_bytes())
    return hand_in


def test_a_batch_renders_and_writes_each_submission_once(
    tmp_path: Path, counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_in = canned_batch(tmp_path, monkeypatch)
    out = tmp_path / "out"
    summary = grade_batch([hand_in], assignment="cifar10_transfer", out=out, options=SMOKE)
    assert [e.status for e in summary.entries] == ["graded"] * 3
    assert_each_written_once(counts, out, STUDENTS)
    assert counts.parses == 1  # the batch's rubric, once in this process


@pytest.mark.notebook
def test_a_batch_of_real_notebooks_parses_renders_and_writes_once(
    tmp_path: Path, counts: Counts
) -> None:
    """Two notebooks graded in this process (``-j 1``), as a worker grades them: the rubric is
    parsed once, each kernel's key computed once, each report rendered once."""
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    for sid, example in (("ada", "full_marks"), ("alan", "name_error")):
        nb = json.loads((EXAMPLES / f"{example}.ipynb").read_text())
        nb["metadata"]["test_token"] = uuid.uuid4().hex  # graded, not served from a cache
        (hand_in / f"{sid}.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "out"
    summary = grade_batch([hand_in], assignment="cifar10_transfer", out=out, options=SMOKE)
    assert [(e.student_id, e.status) for e in summary.entries] == [
        ("ada", "graded"),
        ("alan", "graded"),
    ]
    assert_each_written_once(counts, out, ("ada", "alan"))
    assert counts.parses == 1
    assert counts.kernel_keys == 2
    result = GradeResult.from_json((out / "ada" / "result.json").read_text())
    assert result.timings["reports"] >= 0 and result.score == result.max_score


def test_grading_a_notebook_writes_nothing(tmp_path: Path, counts: Counts) -> None:
    """A file that is no notebook is graded as far as it goes (rubric, data, refusal) and
    nothing is written: not beside it, not by the writer."""
    folder = tmp_path / "hand-in"
    folder.mkdir()
    (folder / "ada.ipynb").write_text("not a notebook")
    graded = pipeline.grade_notebook(
        folder / "ada.ipynb", assignment="cifar10_transfer", options=SMOKE
    )
    assert graded.result.outcome == "not_a_notebook" and graded.executed is None
    assert [p.name for p in folder.iterdir()] == ["ada.ipynb"]
    assert not counts.writes and not counts.renders and not counts.encodings
    # grade() is grade_notebook() and the writer: the same result, its folder written once.
    result = pipeline.grade(
        folder / "ada.ipynb", assignment="cifar10_transfer", out=tmp_path / "out", options=SMOKE
    )
    assert result.outcome == "not_a_notebook"
    written = {p.name: n for p, n in counts.writes.items()}
    assert written == dict.fromkeys([*RENDERED_FILES, "result.json"], 1)
    assert not (tmp_path / "out" / "ada" / "executed.ipynb").exists()


def test_a_reviewed_class_is_written_once_with_its_decisions(
    tmp_path: Path, counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graded again into a folder with review decisions, a submission is written reviewed, once;
    the cache keeps its automatic grade, which another folder gets without them."""
    from grader.review.db import ReviewDB
    from grader.review.merge import OverrideDecision

    hand_in = canned_batch(tmp_path, monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    check = REAL.checks[0]
    decision = OverrideDecision(0.0, "copied", check.status, check.score)
    ReviewDB.in_folder(out).save_override("alan", check.id, decision, expected_version=0)
    grade_batch([hand_in], assignment="cifar10_transfer", out=out, options=SMOKE)
    # Besides the writer's, one encoding of each result for the cache's automatic grade and
    # one by the review step, which reads each result.json back to merge what was not
    # graded now (it finds these merged already, and rewrites nothing).
    assert_each_written_once(counts, out, STUDENTS, encodings=3, decodings=3)
    reviewed = json.loads((out / "alan" / "result.json").read_text())
    assert [o["check"] for o in reviewed["overrides"]] == [check.id]
    assert json.loads((out / "ada" / "result.json").read_text())["overrides"] == []
    summary = grade_batch(
        [hand_in], assignment="cifar10_transfer", out=tmp_path / "other", options=SMOKE
    )
    assert [e.status for e in summary.entries] == ["cached"] * 3
    assert json.loads((tmp_path / "other" / "alan" / "result.json").read_text())["overrides"] == []
