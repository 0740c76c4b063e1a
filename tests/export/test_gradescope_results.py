"""Gradescope's results.json: visibility from the rubric, Markdown output, the leaderboard."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from grader.exceptions import RubricError
from grader.export.gradescope_results import gradescope_results
from grader.results import GradeResult
from grader.rubric.load import load_assignment
from tests.export.test_exports import FROZEN_FAILS, result

VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def graded(**changes: object) -> GradeResult:
    base = result("s", FROZEN_FAILS)
    checks = list(base.checks)
    checks[1] = dataclasses.replace(checks[1], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(base, checks=checks)


def test_hidden_check_gets_the_rubrics_visibility_and_its_full_message() -> None:
    secret_message = "transfer.frozen <b>went wrong</b>"
    hidden = graded(hidden=True)
    for visibility in ("after_due_date", "after_published", "hidden"):
        data = gradescope_results(hidden, reveals={"transfer.frozen": visibility})
        first, second = data["tests"]
        assert first["visibility"] == "visible" and second["visibility"] == visibility
        # Gradescope holds the test back, so it may carry what the student view hides.
        assert "went wrong" in second["output"] and secret_message not in second["output"]
        # The top-level report, shown at once, keeps the student view.
        assert "went wrong" not in data["output"]
    # Not held back by the rubric: a visible test with status and points only.
    default = gradescope_results(hidden)
    assert default["tests"][1]["visibility"] == "visible"
    assert "went wrong" not in json.dumps(default)
    assert "went wrong" in gradescope_results(graded())["output"]


def test_output_is_escaped_markdown_with_the_students_report() -> None:
    data = gradescope_results(
        graded(message="[click](http://evil) <img src=x> # heading"), notes=["Memory: 768 MB"]
    )
    assert data["output_format"] == "md" and data["test_output_format"] == "md"
    assert all(t["output_format"] in FORMATS for t in data["tests"])
    assert all(t["visibility"] in VISIBILITIES for t in data["tests"])
    output = data["tests"][1]["output"]
    assert "[click](http://evil)" not in output and "<img" not in output
    assert "Memory: 768 MB" in data["output"]
    assert "# " in data["output"]  # the Markdown report follows the summary
    json.dumps(data)


def test_leaderboard_lists_visible_accuracies_only() -> None:
    with_accuracy = graded(details={"accuracy": 0.91234})
    board = gradescope_results(with_accuracy)["leaderboard"]
    assert board == [{"name": "title of transfer.frozen", "value": 0.9123, "order": "desc"}]
    hidden = graded(details={"accuracy": 0.9}, hidden=True)
    assert "leaderboard" not in gradescope_results(hidden)
    assert "leaderboard" not in gradescope_results(graded(details={"accuracy": True}))


def test_rubric_visibility_is_validated_and_listed(tmp_path: Path) -> None:
    spec = load_assignment("cifar10_transfer")
    assert spec.reveals() == {}
    folder = tmp_path / "hw"
    shutil.copytree(spec.folder, folder, ignore=shutil.ignore_patterns("submissions"))
    toml = folder / "assignment.toml"
    text = toml.read_text()
    at = text.index("[[checks]]") + len("[[checks]]\n")

    def with_keys(keys: str) -> Path:
        toml.write_text(text[:at] + keys + text[at:])
        return folder

    held = load_assignment(with_keys('hidden = true\nvisibility = "after_published"\n'))
    assert list(held.reveals().values()) == ["after_published"]
    # Hidden without a visibility: shown at once, as status and points only.
    assert load_assignment(with_keys("hidden = true\n")).reveals() == {}
    with pytest.raises(RubricError, match="only a hidden check"):
        load_assignment(with_keys('visibility = "hidden"\n'))
    with pytest.raises(RubricError, match="must be one of"):
        load_assignment(with_keys('hidden = true\nvisibility = "later"\n'))


def test_a_check_the_budget_could_not_judge_is_neither_passed_nor_failed() -> None:
    awarded = graded(status="not_judged", score=15.0, message="reference 12%, chance 10%")
    test = gradescope_results(awarded)["tests"][1]
    assert "status" not in test  # Gradescope colours it by its points
    assert test["score"] == 15.0 and test["output"].startswith("**Not judged at this budget.**")
    failed = gradescope_results(graded(status="fail", score=0.0))["tests"][1]
    assert failed["status"] == "failed"
