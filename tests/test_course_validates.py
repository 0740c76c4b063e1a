"""``grader validate`` on every shipped assignment: its solution scores full marks, its template 0.

A file of its own so that the parallel test run can give these long runs to another worker than
the example submissions' (tests/test_course_notebooks.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from grader.authoring.validate import Validation, validate
from grader.rubric.load import available
from tests.conftest import SMOKE

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def validated() -> Callable[[str], Validation]:
    """``validate(name)`` at the smoke budget, once per assignment for this file's tests."""
    done: dict[str, Validation] = {}

    def get(name: str) -> Validation:
        if name not in done:
            done[name] = validate(name, options=SMOKE)
        return done[name]

    return get


@pytest.mark.parametrize("name", available())
def test_every_assignment_validates(name: str, validated: Callable[[str], Validation]) -> None:
    found = validated(name)
    assert found.problems == []
    assert found.solution is not None and found.template is not None
    # A check the smoke budget cannot judge (vgg19's accuracy, near chance with random
    # weights) withholds its points from both, as its rubric says.
    withheld = sum(c.max_score - c.score for c in found.solution.checks if c.status == "not_judged")
    assert found.solution.score == found.solution.max_score - withheld
    assert found.template.score == 0


def test_student_template_scores_zero_with_a_reason_per_check(
    validated: Callable[[str], Validation],
) -> None:
    # The template validate graded (student.ipynb, smoke): graded once for both tests.
    result = validated("cifar10_transfer").template
    assert result is not None
    assert result.score == 0
    for check in result.checks:
        assert check.status == "fail", (check.id, check.message)
        assert check.message and check.hint
    assert any(c.status == "error" for c in result.cells)
