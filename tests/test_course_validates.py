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
    assert found.solution.score == found.solution.max_score
    assert found.template.score == 0
