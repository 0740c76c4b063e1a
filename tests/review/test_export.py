"""Decisions flow into result.json, the reports, gradebook.csv, canvas.csv and Gradescope, and
compose with grading again."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.results import GradeResult
from grader.review.db import ReviewDB
from grader.review.export import export_review, read_class, review_batch
from grader.review.merge import ManualDecision, OverrideDecision
from tests.review.fixtures import (
    STUDENTS,
    GradedClass,
    build_class,
    notebook,
    read_json,
    write_submission,
)


@pytest.fixture
def graded(tmp_path: Path) -> GradedClass:
    return build_class(tmp_path)


def result(graded: GradedClass, sid: str) -> GradeResult:
    return GradeResult.from_json((graded.out / sid / "result.json").read_text("utf-8"))


def decide(graded: GradedClass) -> None:
    db = ReviewDB.in_folder(graded.out)
    alice = {m.id: m.answer_digest for m in result(graded, "alice").manual}
    bob = {m.id: m.answer_digest for m in result(graded, "bob").manual}
    db.save_manual(
        "alice",
        "written.transfer",
        alice["written.transfer"],
        ManualDecision(9, ("Says the reused layers were frozen, and why",), "Good."),
        expected_version=0,
    )
    db.save_manual(
        "alice", "written.why", alice["written.why"], ManualDecision(5, (), ""), expected_version=0
    )
    db.save_manual(
        "bob",
        "written.transfer",
        bob["written.transfer"],
        ManualDecision(6, (), "=1+1"),
        expected_version=0,
    )
    db.save_override(
        "bob",
        "transfer.frozen",
        OverrideDecision(12, "froze them after compiling: half marks", "fail", 0.0),
        expected_version=0,
    )


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_pending_is_said_everywhere_before_any_decision(graded: GradedClass) -> None:
    book = rows(graded.out / "gradebook.csv")
    assert [(r["written.transfer"], r["written.why"], r["total"]) for r in book] == [
        ("pending", "pending", "pending")
    ] * 3
    assert [r["automatic"] for r in book] == ["100", "75", "75"]
    canvas = list(csv.reader(io.StringIO((graded.out / "canvas.csv").read_text("utf-8"))))
    assert canvas[1][-1] == "116"  # points possible: 100 automatic + 16 written
    assert [row[-1] for row in canvas[2:]] == ["", "", ""]  # ungraded in Canvas, never 0
    gradescope = read_json(graded.out / "alice" / "results.json")
    assert "pending" in gradescope["output"]  # type: ignore[index]
    manual_tests = [t for t in gradescope["tests"] if t["tags"] == ["manual"]]  # type: ignore[index]
    assert [("score" in t, t["max_score"]) for t in manual_tests] == [(False, 10), (False, 6)]


def test_export_writes_every_decision_into_every_file(graded: GradedClass) -> None:
    decide(graded)
    state = export_review(graded.out)
    assert sorted(state.updated) == ["alice", "bob"] and state.pending == 3

    alice, bob = result(graded, "alice"), result(graded, "bob")
    assert [(m.status, m.score) for m in alice.manual] == [("graded", 9), ("graded", 5)]
    assert alice.manual[0].criteria == ["Says the reused layers were frozen, and why"]
    assert bob.score == 75 and next(c for c in bob.checks if c.id == "transfer.frozen").score == 0
    assert [(o.check, o.score, o.automatic_score) for o in bob.overrides] == [
        ("transfer.frozen", 12, 0)
    ]

    book = {r["student_id"]: r for r in rows(graded.out / "gradebook.csv")}
    assert (
        book["alice"]["total"],
        book["alice"]["written.transfer"],
        book["alice"]["max_score"],
    ) == ("114", "9", "116")
    assert (book["bob"]["transfer.frozen"], book["bob"]["automatic"], book["bob"]["total"]) == (
        "12",
        "75",
        "pending",
    )
    assert (
        book["bob"]["overrides"]
        == "transfer.frozen: 0 -> 12 (froze them after compiling: half marks)"
    )
    canvas = list(csv.reader(io.StringIO((graded.out / "canvas.csv").read_text("utf-8"))))
    assert canvas[0][-1] == "HW 3 (1234)"
    assert [(row[1], row[-1]) for row in canvas[2:]] == [
        ("alice", "114"),
        ("bob", ""),
        ("carol", ""),
    ]

    gradescope = read_json(graded.out / "bob" / "results.json")
    frozen = next(t for t in gradescope["tests"] if "transfer.frozen" in t["name"])  # type: ignore[index]
    assert frozen["score"] == 12 and "Adjusted by your instructor" in frozen["output"]
    graded_item = next(t for t in gradescope["tests"] if "written.transfer" in t["name"])  # type: ignore[index]
    assert graded_item["score"] == 6 and graded_item["output"].startswith("\\=1+1")
    assert read_json(graded.out / "alice" / "results.json")["score"] == 114  # type: ignore[index]
    # PrairieLearn's results.json is the final score too (issue 25.3: it kept the automatic one).
    prairielearn = read_json(graded.out / "alice" / "prairielearn.json")
    assert prairielearn["message"].startswith("Score 114/116.")  # type: ignore[index]
    assert prairielearn["score"] == round(114 / 116, 6)  # type: ignore[index]

    report = (graded.out / "alice" / "report.html").read_text("utf-8")
    assert "Graded by your instructor" in report and "114" in report
    markdown = (graded.out / "bob" / "report.md").read_text("utf-8")
    assert "12 points instead of 0" in markdown
    index = (graded.out / "index.html").read_text("utf-8")
    assert "Waiting for a person" in index and "Look-alike submissions" in index


def test_exporting_again_changes_nothing(graded: GradedClass) -> None:
    decide(graded)
    export_review(graded.out)
    names = (
        "gradebook.csv",
        "canvas.csv",
        "index.html",
        "alice/result.json",
        "bob/results.json",
        "bob/report.md",
    )
    before = {n: (graded.out / n).read_bytes() for n in names}
    assert export_review(graded.out).updated == []
    assert {n: (graded.out / n).read_bytes() for n in names} == before


def test_grading_again_keeps_what_still_applies_and_flags_what_changed(graded: GradedClass) -> None:
    decide(graded)
    export_review(graded.out)
    # Alice rewrites one answer and hands in again; `grader grade` writes the automatic result.
    alice = dataclasses.replace(
        STUDENTS[0], answers=(STUDENTS[0].answers[0], "Rewritten: it reuses a model.")
    )
    write_submission(graded.out, graded.assignment, alice, notebook(alice))
    # Bob's notebook is graded again and now passes transfer.frozen: his override was made
    # against a failing verdict, so it no longer applies.
    bob = result(graded, "bob")
    fixed = [
        dataclasses.replace(c, status="pass", score=15) if c.id == "transfer.frozen" else c
        for c in bob.checks
    ]
    dataclasses.replace(
        bob,
        checks=fixed,
        score=90,
        overrides=[],
        manual=[
            dataclasses.replace(m, status="pending", score=None, criteria=[], comment="")
            for m in bob.manual
        ],
    ).write(graded.out / "bob" / "result.json")

    info = read_class(graded.out)
    state = review_batch(graded.out, info.entries)  # as grade_batch does

    alice_now = result(graded, "alice")
    assert [(m.id, m.status, m.answer_changed) for m in alice_now.manual] == [
        ("written.transfer", "graded", False),
        ("written.why", "pending", True),
    ]
    assert state.changed_answers == [("alice", "written.why")]
    assert state.stale_overrides == [("bob", "transfer.frozen")]
    bob_now = result(graded, "bob")
    assert (
        bob_now.overrides == [] and bob_now.manual[0].status == "graded"
    )  # his answer did not change


def test_canvas_identities_survive_an_export(tmp_path: Path) -> None:
    graded = build_class(tmp_path)
    canvas = graded.out / "canvas.csv"
    text = canvas.read_text("utf-8").replace("alice,,,,", "alice,SIS-1,=login,Section A,")
    canvas.write_text(text, encoding="utf-8")
    export_review(graded.out)
    again = canvas.read_text("utf-8")
    assert "alice,SIS-1,'=login,Section A," in again  # neutralised once, not twice
    export_review(graded.out)
    assert canvas.read_text("utf-8") == again


def test_the_cli_exports_and_refuses_a_folder_that_is_not_a_class(
    graded: GradedClass, tmp_path: Path
) -> None:
    decide(graded)
    runner = CliRunner()
    done = runner.invoke(main, ["review", str(graded.out), "--export"])
    assert done.exit_code == 0, done.output
    assert "2 result(s) rewritten" in done.output and "3 answer(s) pending" in done.output
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = runner.invoke(main, ["review", str(empty), "--export"])
    assert (
        refused.exit_code == 9
        and refused.output.startswith("error: ")
        and "grader grade" in refused.output
    )
    assert len(refused.output.strip().splitlines()) == 1


def test_without_flask_the_desk_is_one_line_and_export_still_works(
    graded: GradedClass, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)  # the [review] extra is not installed
    runner = CliRunner()
    refused = runner.invoke(main, ["review", str(graded.out), "--no-browser"])
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "error: grader review needs Flask, which is not installed: "
        "pip install 'keras-notebook-grader[review]'"
    ]
    done = runner.invoke(main, ["review", str(graded.out), "--export"])
    assert done.exit_code == 0, done.output


def test_a_notebook_without_answers_is_pending_not_missing(graded: GradedClass) -> None:
    carol = result(graded, "carol")
    why = next(m for m in carol.manual if m.id == "written.why")
    assert why.cells == [] and why.status == "pending"
    transfer = next(m for m in carol.manual if m.id == "written.transfer")
    nb = nbformat.read(graded.out / "carol" / "executed.ipynb", as_version=4)
    # result.json keeps the answer as the student wrote it; every view escapes it.
    assert transfer.answer == nb.cells[transfer.cells[0]].source
    assert transfer.answer.startswith("<script>")
    assert json.loads((graded.out / "batch.json").read_text())["canvas_column"] == "HW 3 (1234)"


def _hostile_code(graded: GradedClass) -> str:
    """Put markup into a code cell that the look-alike finder will show side by side."""
    path = graded.out / "carol" / "executed.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(
        c for c in nb.cells if c.cell_type == "code" and "new_model = Sequential()" in c.source
    )
    attack = "# </pre></div><script>alert(1)</script><img src=x onerror=alert(2)>\n"
    cell.source = attack + cell.source
    nbformat.write(nb, path)
    return attack.strip()


def test_code_shown_side_by_side_in_the_class_report_stays_text(graded: GradedClass) -> None:
    from html.parser import HTMLParser

    attack = _hostile_code(graded)
    export_review(graded.out)
    index = (graded.out / "index.html").read_text("utf-8")

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.text = ""

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags.append(tag)

        def handle_data(self, data: str) -> None:
            self.text += data

    parsed = Tags()
    parsed.feed(index)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert attack in parsed.text  # shown, literally, in the matching part


def test_a_review_keeps_the_gradescope_visibility_the_rubric_gives_a_hidden_check(
    graded: GradedClass,
) -> None:
    bob = result(graded, "bob")
    checks = [dataclasses.replace(c, hidden=c.id == "transfer.frozen") for c in bob.checks]
    dataclasses.replace(bob, checks=checks).write(graded.out / "bob" / "result.json")
    decide(graded)  # bob's results.json is written again, with the override
    info = read_class(graded.out)
    review_batch(
        graded.out,
        info.entries,
        reveals={"transfer.frozen": "after_due_date"},
    )
    tests = read_json(graded.out / "bob" / "results.json")["tests"]  # type: ignore[index]
    frozen = next(t for t in tests if "transfer.frozen" in t["name"])
    assert frozen["visibility"] == "after_due_date"
