"""``grader validate`` on every shipped assignment: its solution scores full marks, its template 0.

A file of its own so that the parallel test run can give these long runs to another worker than
the example submissions' (tests/test_course_notebooks.py).
"""

from __future__ import annotations

import pytest

from grader.authoring.validate import validate
from grader.rubric import available
from tests.conftest import SMOKE

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("name", available())
def test_every_assignment_validates(name: str) -> None:
    found = validate(name, options=SMOKE)
    assert found.problems == []
    assert found.solution is not None and found.template is not None
    # A check the smoke budget cannot judge (vgg19's accuracy, near chance with random
    # weights) withholds its points from both, as its rubric says.
    withheld = sum(c.max_score - c.score for c in found.solution.checks if c.status == "not_judged")
    assert found.solution.score == found.solution.max_score - withheld
    assert found.template.score == 0
