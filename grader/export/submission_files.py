"""One submission's folder: every file rendered from its result once, then written once.

Grading decides (:func:`grader.pipeline.grade_notebook` returns the result and the executed
notebook, and writes nothing); this module writes. :func:`submission_files` renders the
reports, Gradescope's ``results.json`` and PrairieLearn's ``prairielearn.json`` from the result,
once, and :func:`write_submission` puts them on disk with ``result.json`` and the executed
notebook. ``grader grade`` (one notebook or a class) writes every submission's folder through
them; ``grader review --export`` renders again, with :func:`render_submission`, only the
results a review changed, so that no file a student or an LMS reads keeps an old score.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.export.gradescope_results import gradescope_json
from grader.export.prairielearn import prairielearn_json
from grader.report.render import render_markdown, render_reports
from grader.results import GradeResult, unreadable, write_atomic

if t.TYPE_CHECKING:
    from grader.options import View

RENDERED_FILES = ("report.html", "report.md", "results.json", "prairielearn.json")
"""The files of a submission's folder rendered from its result."""

MARKER = ".grader-key"
"""Written last into a batch's submission folder, holding its cache key: the folder is
complete (see :mod:`grader.batch.state`)."""


@dataclass(frozen=True)
class SubmissionFiles:
    """A submission's folder as texts, each rendered once: what :func:`write_submission` writes."""

    result: GradeResult
    """The result as ``result_json`` holds it (floats rounded, the reports' time counted)."""
    result_json: str
    """``result.json``'s text."""
    rendered: Mapping[str, str]
    """Every file of :data:`RENDERED_FILES`, by name."""
    executed: str
    """The executed notebook's JSON text; "" for a notebook that never ran."""


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

    The reports show the timings as :func:`submission_files` first rendered them, before
    their own time was counted: a restored or reviewed submission's reports are then the
    first grade's, byte for byte, whatever the review left unchanged.
    """
    reports, student = _reports(_before_reports(result), view)
    return {**reports, **_platform_files(result, reveals, failure, student)}


def submission_files(
    result: GradeResult,
    executed: str,
    *,
    view: View,
    reveals: Mapping[str, str] | None,
    failure: str = "",
) -> SubmissionFiles:
    """Render a graded submission's files, once.

    The reports are rendered from the result as ``result.json`` records it (its floats
    rounded by :meth:`GradeResult.written`), so a report rendered now and one rendered later
    from ``result.json`` (a restore from the cache, a review's export) are the same bytes. For
    a notebook that ran, every rendered text (the reports, the platforms' Markdown) shows the
    time until the reports were rendered; ``result.json`` and Gradescope's ``execution_time``
    add their own time (``reports``) to it.

    Args:
        result: the submission's result, as grading returned it.
        executed: the executed notebook's JSON text; "" when the notebook never ran.
        view: whom ``report.html``/``report.md`` are for.
        reveals: hidden checks' Gradescope visibility (``Assignment.reveals``).
        failure: why the notebook has no grade; "" finds it from the result (a file that is
            not a notebook, see :func:`grader.results.unreadable`).
    """
    shown = result.written()
    began = time.monotonic()
    reports, student = _reports(shown, view)
    if executed:
        spent = time.monotonic() - began
        total = shown.timings.get("total", 0.0) + spent
        shown = dataclasses.replace(
            shown, timings={**shown.timings, "reports": spent, "total": total}
        ).written()
    failure = failure or unreadable(shown)
    rendered = {**reports, **_platform_files(shown, reveals, failure, student)}
    return SubmissionFiles(shown, shown.to_json(), rendered, executed)


def write_submission(folder: Path, files: SubmissionFiles, *, key: str | None = None) -> None:
    """Write a submission's folder: the rendered files, the executed notebook, ``result.json``.

    Each file is written atomically; ``result.json`` comes after the files rendered from it,
    and ``key`` (a batch's cache key) last into :data:`MARKER`, so that the marker means the
    folder is complete. A notebook that never ran leaves no executed notebook behind.

    Args:
        folder: the submission's folder; created when missing.
        files: what to write, rendered once (:func:`submission_files`, or a batch's cache).
        key: the batch's cache key of this grade; None writes no marker (a batch grades the
            submission again next time).
    """
    (folder / MARKER).unlink(missing_ok=True)
    for name in RENDERED_FILES:
        write_atomic(folder / name, files.rendered[name])
    if files.executed:
        write_atomic(folder / "executed.ipynb", files.executed)
    else:
        (folder / "executed.ipynb").unlink(missing_ok=True)
    write_atomic(folder / "result.json", files.result_json)
    if key is not None:
        write_atomic(folder / MARKER, key + "\n")


def _before_reports(result: GradeResult) -> GradeResult:
    """``result`` as it stood when its reports were rendered: without their own time."""
    if "reports" not in result.timings:
        return result
    timings = {k: v for k, v in result.timings.items() if k != "reports"}
    if "total" in timings:
        timings["total"] = round(timings["total"] - result.timings["reports"], 6)
    return dataclasses.replace(result, timings=timings)


def _reports(result: GradeResult, view: View) -> tuple[dict[str, str], str]:
    """``report.html`` and ``report.md`` in ``view``, and the student's Markdown report that
    both platforms' files show: each rendered once (the same text as ``report.md`` when the
    reports are the student's)."""
    reports = render_reports(result, view)
    student = reports["report.md"] if view == "student" else render_markdown(result, "student")
    return reports, student


def _platform_files(
    result: GradeResult, reveals: Mapping[str, str] | None, failure: str, student: str
) -> dict[str, str]:
    return {
        "results.json": gradescope_json(result, failure=failure, reveals=reveals, report=student),
        "prairielearn.json": prairielearn_json(result, failure=failure, report=student),
    }
