"""Gradescope's ``results.json``: one test per check and per ``[[manual]]`` item, the
student's Markdown report as the output, and the leaderboard.

It follows Gradescope's autograder specification; :mod:`grader.export.gradescope` builds the
bundle whose run writes it (see :mod:`grader.export.gradescope_run`).
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from collections.abc import Mapping, Sequence

from grader.report.escape import markdown_text
from grader.report.facts import for_view
from grader.report.formats import format_number
from grader.results import GradeResult
from grader.score import FinalScore, final_score


def gradescope_results(
    result: GradeResult,
    *,
    failure: str = "",
    reveals: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    report: str | None = None,
) -> dict[str, t.Any]:
    """``results.json`` in Gradescope's autograder format, one test per check.

    Gradescope's specification (gradescope-autograder docs, "Autograder Specifications"): the
    top level holds ``score``, ``execution_time``, ``output`` with its ``output_format``,
    ``tests`` and an optional ``leaderboard``; each test ``name``, ``number``, ``score``,
    ``max_score``, ``status``, ``output``, ``visibility`` (``visible``, ``hidden``,
    ``after_due_date``, ``after_published``) and ``tags``. Output is Markdown (``md``): the
    top-level output is the student's Markdown report (the layer diffs included), and every
    test's output is escaped Markdown, since messages quote student text.

    Args:
        result: the graded submission; Gradescope shows it to the student, so it is rendered
            in the student view, except that a hidden check held back by the rubric's
            ``visibility`` carries its full message: Gradescope shows it only then.
        failure: why the notebook could not be graded, shown at the top.
        reveals: hidden check id -> its Gradescope visibility (the rubric's ``visibility``);
            a hidden check not named is a ``visible`` test with status and points only.
        notes: lines for the top of the output (the autograder's limits, its sandbox).
        report: the student's Markdown report of ``result``, when the caller has rendered it
            already (a submission's writer renders it once for every platform's file); None
            renders it here.
    """
    from grader.report.render import render_markdown

    shown = for_view(result, "student")
    final = final_score(shown)
    tests = _check_tests(result, shown, reveals or {})
    tests += _manual_tests(shown, first=len(tests) + 1)
    data: dict[str, t.Any] = {
        "score": final.automatic + final.manual if final.pending else final.score,
        "execution_time": round(result.timings.get("total", 0.0)),
        "output": "\n\n".join(_summary(final, failure, notes))
        + "\n\n"
        + (render_markdown(result, "student") if report is None else report),
        "output_format": "md",
        "test_output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    board = leaderboard(shown)
    if board:
        data["leaderboard"] = board
    return data


def _check_tests(
    result: GradeResult, shown: GradeResult, reveals: Mapping[str, str]
) -> list[dict[str, t.Any]]:
    """One test per check, as the student view shows it but for the hidden checks revealed."""
    full = {c.id: c for c in result.checks}
    overrides = {o.check: o for o in shown.overrides}
    tests = []
    for number, check in enumerate(shown.checks, start=1):
        visibility = reveals.get(check.id, "visible") if check.hidden else "visible"
        if visibility != "visible":
            check = dataclasses.replace(full[check.id], details={})
        output = markdown_text(check.message)
        if check.status != "pass" and check.hint:
            output = f"{output}\n\nHint: {markdown_text(check.hint)}".strip()
        score = check.score
        if check.id in overrides:
            score = overrides[check.id].score
            output = (
                f"{output}\n\nAdjusted by your instructor from {format_number(check.score)} to "
                f"{format_number(score)} points: {markdown_text(overrides[check.id].reason)}"
            ).strip()
        test: dict[str, t.Any] = {
            "name": f"{check.title} ({check.id})",
            "number": str(number),
            "score": score,
            "max_score": check.max_score,
            "output": output,
            "output_format": "md",
            "visibility": visibility,
            "tags": [check.id.split(".")[0]],
        }
        if check.status == "not_judged":
            # Neither passed nor failed: the budget could not tell. Without a status Gradescope
            # colours the test by its points, which the rubric's `when_not_judged` decided.
            test["output"] = f"**Not judged at this budget.** {output}".strip()
        else:
            test["status"] = "passed" if check.status == "pass" else "failed"
        tests.append(test)
    return tests


def _manual_tests(shown: GradeResult, *, first: int) -> list[dict[str, t.Any]]:
    """One test per ``[[manual]]`` item, numbered from ``first``; a pending one has no score."""
    tests = []
    for number, item in enumerate(shown.manual, start=first):
        test: dict[str, t.Any] = {
            "name": f"{item.title} ({item.id})",
            "number": str(number),
            "max_score": item.max_score,
            "output_format": "md",
            "visibility": "visible",
            "tags": ["manual"],
        }
        if item.status == "graded" and item.score is not None:
            met = "".join(f"\n- {markdown_text(c)}" for c in item.criteria)
            test["score"] = item.score
            parts = [
                markdown_text(item.comment) if item.comment else "",
                met and f"Criteria met:{met}",
            ]
            test["output"] = "\n\n".join(p for p in parts if p)
        else:
            # No score at all rather than 0: the points are not decided yet.
            test["output"] = "Pending: your instructor grades this answer by hand."
        tests.append(test)
    return tests


def _summary(final: FinalScore, failure: str, notes: Sequence[str]) -> list[str]:
    """The lines above the report: why it was not graded, the score, the autograder's notes."""
    lines = [f"**Not graded:** {markdown_text(failure)}"] if failure else []
    if final.pending:
        lines += [
            f"Score so far {format_number(final.automatic + final.manual)}/"
            f"{format_number(final.max_score)}: {len(final.pending)} answer(s) graded by hand "
            "are pending."
        ]
    else:
        lines += [
            f"Score {format_number(t.cast(float, final.score))}/{format_number(final.max_score)}."
        ]
    return lines + [markdown_text(n) for n in notes]


def leaderboard(result: GradeResult) -> list[dict[str, t.Any]]:
    """Gradescope leaderboard entries: each visible accuracy check's held-out accuracy.

    Hidden checks stay off the board, which every student of the course can read.
    """
    board = []
    for check in result.checks:
        accuracy = check.details.get("accuracy")
        if check.hidden or isinstance(accuracy, bool) or not isinstance(accuracy, int | float):
            continue
        board.append({"name": check.title, "value": round(float(accuracy), 4), "order": "desc"})
    return board


def gradescope_json(
    result: GradeResult,
    *,
    failure: str = "",
    reveals: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    report: str | None = None,
) -> str:
    """:func:`gradescope_results` as JSON text."""
    data = gradescope_results(result, failure=failure, reveals=reveals, notes=notes, report=report)
    return json.dumps(data, indent=2) + "\n"
