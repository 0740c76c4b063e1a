"""The files of one submission's folder rendered from its result: the reports, Gradescope's
``results.json`` and PrairieLearn's ``prairielearn.json``.

``grader grade`` writes them for each graded submission and ``grader review --export`` writes
them again from the merged result, with this one function, so that no file a student or an
LMS reads keeps a score the review changed.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from grader.export.gradescope_results import gradescope_json
from grader.export.prairielearn import prairielearn_json
from grader.report.render import render_reports
from grader.results import GradeResult

if t.TYPE_CHECKING:
    from grader.options import View

RENDERED_FILES = ("report.html", "report.md", "results.json", "prairielearn.json")
"""The files of a submission's folder rendered from its result."""


def render_submission(
    result: GradeResult,
    *,
    view: View,
    reveals: Mapping[str, str] | None,
    failure: str = "",
) -> dict[str, str]:
    """Every file of :data:`RENDERED_FILES`, by name.

    Args:
        result: the submission's result (merged with the review's decisions).
        view: whom ``report.html``/``report.md`` are for; the platforms' files always use the
            student view.
        reveals: hidden checks' Gradescope visibility (``Assignment.reveals``).
        failure: why the notebook has no grade (see ``BatchEntry.not_graded``); "" when it has.
    """
    return {
        **render_reports(result, view),
        "results.json": gradescope_json(result, failure=failure, reveals=reveals),
        "prairielearn.json": prairielearn_json(result, failure=failure),
    }
