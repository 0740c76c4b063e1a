"""Student hints teach: they say what is wrong and where to look, never the solution's code."""

from __future__ import annotations

import dataclasses

import pytest

from grader.authoring.hints import hint_leaks, solution_fragments
from grader.report.facts import for_view
from grader.results import DataInfo, GradeResult
from grader.rubric.load import available, load_assignment


@pytest.mark.parametrize("name", available())
def test_no_student_hint_contains_code_of_the_solution(name: str) -> None:
    spec = load_assignment(name)
    assert solution_fragments(spec), "nothing to compare the hints with"
    assert hint_leaks(spec) == []


@pytest.mark.parametrize("name", available())
def test_the_instructor_fix_would_be_caught_as_a_student_hint(name: str) -> None:
    """The detector finds the code the fixes hold (the old hints), so the test above can fail."""
    spec = load_assignment(name)
    as_hints = [dataclasses.replace(c, hint=c.fix) for c in spec.checks]
    assert hint_leaks(dataclasses.replace(spec, checks=as_hints))


def test_the_student_view_drops_the_fix_and_the_instructor_view_keeps_it() -> None:
    spec = load_assignment("cifar10_transfer")
    check = next(c for c in spec.checks if c.id == "transfer.architecture")
    failed = check.result("fail", "layer 6 differs")
    assert "Dense(128" in failed.fix and "Dense(128" not in failed.hint
    result = dataclasses.replace(_empty_result(), checks=[failed])
    assert for_view(result, "student").checks[0].fix == ""
    assert for_view(result, "student").checks[0].hint == failed.hint
    assert for_view(result, "instructor").checks[0].fix == failed.fix


def _empty_result() -> GradeResult:
    data = DataInfo("synthetic", "test", 0, 0, 0)
    return GradeResult("cifar10_transfer", "s", 0, 15, [], [], [], "smoke", {}, data, 0, {}, {})
