"""``grader grade`` with written questions, end to end: a real notebook, graded twice."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import nbformat
import pytest

from grader.batch.run import grade_batch
from grader.results import GradeResult
from grader.review.db import ReviewDB
from grader.review.merge import ManualDecision
from tests.conftest import SMOKE
from tests.review.fixtures import SEED_001_TRANSFER, STUDENTS, make_assignment, notebook

pytestmark = pytest.mark.notebook


def test_answers_are_collected_pending_and_decisions_survive_grading_again(tmp_path: Path) -> None:
    spec = make_assignment(tmp_path)
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    nbformat.write(notebook(STUDENTS[0]), hand_in / "alice.ipynb")
    out = tmp_path / "out"

    first = grade_batch([hand_in], assignment=spec.folder, out=out, options=SMOKE, jobs=1)
    [entry] = first.entries
    assert entry.status == "graded"
    result = GradeResult.from_json((out / "alice" / "result.json").read_text("utf-8"))
    transfer, why = result.manual
    assert transfer.answer == SEED_001_TRANSFER and transfer.status == "pending"
    assert why.answer.startswith("Transfer learning, is a research problem")
    book = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text("utf-8"))))
    assert book[0]["total"] == "pending" and book[0]["written.transfer"] == "pending"

    db = ReviewDB.in_folder(out)
    db.save_manual(
        "alice",
        "written.transfer",
        transfer.answer_digest,
        ManualDecision(8, (), ""),
        expected_version=0,
    )
    db.save_manual(
        "alice", "written.why", why.answer_digest, ManualDecision(5, (), ""), expected_version=0
    )

    again = grade_batch([hand_in], assignment=spec.folder, out=out, options=SMOKE, jobs=1)
    assert again.entries[0].status == "done"  # not executed again
    merged = GradeResult.from_json((out / "alice" / "result.json").read_text("utf-8"))
    assert [(m.status, m.score) for m in merged.manual] == [("graded", 8), ("graded", 5)]
    book = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text("utf-8"))))
    assert book[0]["total"] == f"{merged.score + 13:g}"
