"""The merge rule: automatic checks (overrides applied) plus manual points; pending is never 0."""

from __future__ import annotations

import dataclasses
import json

from grader.results import GradeResult, ManualAnswer, json_schema
from grader.review.merge import ManualDecision, OverrideDecision, automatic_part, merged
from grader.score import final_score
from tests.review.fixtures import RESULTS

BASE = GradeResult.from_json((RESULTS / "not_frozen.json").read_text("utf-8"))  # 75/100
ANSWERS = [
    ManualAnswer("w1", "q1", 10, "my answer", "d1", [3]),
    ManualAnswer("w2", "q2", 6, "other", "d2", [5]),
]
RESULT = dataclasses.replace(BASE, manual=ANSWERS)
FROZEN = next(c for c in BASE.checks if c.id == "transfer.frozen")


def test_pending_items_make_the_final_score_unknown_not_zero() -> None:
    final = final_score(RESULT)
    assert final.score is None and final.text == "pending"
    assert final.pending == ("w1", "w2") and final.max_score == 116 and final.automatic == 75


def test_final_is_checks_with_overrides_plus_manual_points() -> None:
    result, stale = merged(
        RESULT,
        manual={
            ("w1", "d1"): ManualDecision(7, ("a",), "good"),
            ("w2", "d2"): ManualDecision(6, (), ""),
        },
        overrides={
            "transfer.frozen": OverrideDecision(10, "froze them after compiling", "fail", 0.0)
        },
    )
    assert stale == []
    final = final_score(result)
    assert (final.score, final.automatic, final.manual, final.max_score) == (98, 85, 13, 116)
    # The automatic verdict is kept beside the override, never replaced.
    assert next(c for c in result.checks if c.id == "transfer.frozen") == FROZEN
    assert result.score == 75
    [override] = result.overrides
    assert (override.automatic_status, override.automatic_score, override.score) == ("fail", 0, 10)
    assert [m.status for m in result.manual] == ["graded", "graded"]


def test_a_decision_applies_only_to_the_answer_it_was_made_on() -> None:
    changed = dataclasses.replace(
        RESULT,
        manual=[
            dataclasses.replace(ANSWERS[0], answer="rewritten", answer_digest="d9"),
            ANSWERS[1],
        ],
    )
    result, _ = merged(
        changed,
        manual={("w1", "d1"): ManualDecision(7, (), "")},
        earlier_answers={"w1"},
        overrides={},
    )
    assert result.manual[0].status == "pending" and result.manual[0].answer_changed
    assert result.manual[1].answer_changed is False


def test_an_override_of_a_verdict_that_changed_no_longer_applies() -> None:
    result, stale = merged(
        RESULT, manual={}, overrides={"transfer.frozen": OverrideDecision(10, "r", "pass", 15.0)}
    )
    assert stale == ["transfer.frozen"] and result.overrides == []


def test_points_are_bounded_by_what_is_available() -> None:
    result, _ = merged(
        RESULT,
        manual={("w1", "d1"): ManualDecision(99, (), "")},
        overrides={"transfer.frozen": OverrideDecision(99, "r", "fail", 0.0)},
    )
    assert result.manual[0].score == 10 and result.overrides[0].score == FROZEN.max_score


def test_merging_again_gives_the_same_bytes_and_stripping_gives_the_graded_result() -> None:
    decisions = {
        "manual": {("w1", "d1"): ManualDecision(7, ("a",), "good")},
        "overrides": {"transfer.frozen": OverrideDecision(10, "r", "fail", 0.0)},
    }
    once, _ = merged(RESULT, **decisions)  # type: ignore[arg-type]
    twice, _ = merged(once, **decisions)  # type: ignore[arg-type]
    assert once.to_json() == twice.to_json()
    assert automatic_part(once).to_json() == RESULT.to_json()
    assert GradeResult.from_json(once.to_json()) == once


def test_the_schema_describes_manual_items_and_overrides() -> None:
    schema = json.loads(json.dumps(json_schema()))
    manual = schema["properties"]["manual"]["items"]["properties"]
    assert manual["score"]["anyOf"] == [{"type": "number"}, {"type": "null"}]
    assert "pending" in manual["status"]["enum"] and manual["answer_digest"]["description"]
    assert "automatic_status" in schema["properties"]["overrides"]["items"]["properties"]
