"""Grade a whole class: discover, skip what is done, grade the rest anywhere, export.

Every input is checked first; then :class:`grader.batch.state.BatchState` reuses what an
earlier run or the result cache finished and grades the rest, writing each submission's files
once; :func:`grader.batch.class_files.write_class_files` writes the gradebooks and the class
report; ``batch.json``, the batch's summary, is written last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.choose import expected_notebook
from grader.batch.class_files import check_class_files, write_class_files
from grader.batch.discover import discover
from grader.batch.state import BatchObserver, BatchState
from grader.batch.workers import require_dask
from grader.data.secret import grader_secret
from grader.execute.environment import check_environment
from grader.export.blackboard import blackboard_warnings, check_column_id
from grader.export.canvas import canvas_warnings
from grader.export.entry import BatchEntry
from grader.export.layout import BATCH, STAGING
from grader.export.roster import read_roster
from grader.options import GradeOptions
from grader.output_folder import prepare_output_folder
from grader.results import write_atomic
from grader.rubric import Assignment
from grader.rubric.load import load_assignment
from grader.scratch import sweep


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did."""

    entries: list[BatchEntry]
    """One per submission, sorted by student id."""
    ignored: list[str]
    """Files in the hand-in that are not notebooks."""
    outputs: dict[str, Path]
    """``gradebook``, ``canvas`` and ``report`` paths."""
    seconds: float
    where: str
    """Where notebooks were executed (``this process``, local workers, a scheduler)."""
    set_aside: list[str] = field(default_factory=list)
    """Notebooks not graded because another one of the same student is, with the reason."""
    warnings: list[str] = field(default_factory=list)
    """What the instructor should know before importing the gradebooks (a Canvas column that
    Canvas would not match)."""


def grade_batch(
    sources: Sequence[Path],
    *,
    assignment: str | Path,
    out: Path,
    options: GradeOptions = GradeOptions(),  # noqa: B008 (frozen, shared safely)
    jobs: int = 1,
    scheduler: str | None = None,
    roster: Path | None = None,
    force: bool = False,
    canvas_column: str | None = None,
    observer: BatchObserver | None = None,
    single: bool = False,
    lms: str | None = None,
    blackboard_column: str | None = None,
) -> BatchSummary:
    """Grade every submission in ``sources`` and write the class's outputs into ``out``.

    Args:
        sources: notebooks, folders, Canvas zips and Gradescope exports (folder or zip).
        assignment: assignment id or folder (on remote workers, an id or a shared path).
        out: gets ``<student id>/`` per submission, ``gradebook.csv``, ``canvas.csv``,
            ``index.html`` and ``batch.json``.
        options: how each notebook is graded (paths in it are the workers'); its ``view`` is
            whom each report.html/report.md is for. Gradescope's results.json always uses the
            student view.
        jobs: local worker processes; 1 grades in this process.
        scheduler: a Dask scheduler address; overrides ``jobs``.
        roster: a CSV mapping student ids to names (a Canvas gradebook export works).
        force: grade every notebook again, ignoring earlier runs and the cache.
        canvas_column: header of the score column in ``canvas.csv``; the assignment's title
            when None.
        observer: told about progress.
        single: ``sources`` are one student's hand-in (Gradescope's): grade one notebook, the
            one :func:`grader.batch.choose.choose` picks, as ``submission``.
        lms: the platform the hand-in comes from (``--lms``); None: found from its shape.
        blackboard_column: the Grade Center column id ``blackboard.csv`` updates; None makes
            Blackboard create a column (a text column worth 0 points, as its documentation says).

    Returns:
        The summary; the files it names are written.

    Raises:
        InputError: a source is missing or unreadable, the budget is unknown, or ``out``
            cannot be written (:class:`~grader.exceptions.OutputFolderError`).
        MissingExtraError: ``scheduler`` is given and Dask is not installed.
        SchedulerError: the Dask scheduler could not be reached.
    """
    started = time.monotonic()
    spec = load_assignment(assignment)
    options = _checked(spec, options, scheduler=scheduler, blackboard_column=blackboard_column)
    # Every input is checked before a zip is extracted or a notebook run: a bad --out or
    # roster found after grading would cost the whole class's grading time.
    out = prepare_output_folder(Path(out))
    check_class_files(out)
    names = read_roster(roster) if roster is not None else {}
    found = discover(
        sources,
        out / STAGING,
        exclude=[out],
        expected=expected_notebook(spec),
        single=single,
        lms=lms,
    )
    sweep()  # what graders killed outright left in the temporary folder
    batch = BatchState.open(spec, options, out)
    where = batch.grade_all(
        found.submissions, names, force=force, jobs=jobs, scheduler=scheduler, observer=observer
    )
    column = canvas_column or spec.title
    review, outputs = write_class_files(
        batch, names, canvas_column=column, blackboard_column=blackboard_column
    )
    summary = BatchSummary(
        review.entries,
        found.ignored,
        outputs,
        time.monotonic() - started,
        where,
        set_aside=found.set_aside,
        warnings=canvas_warnings(canvas_column, review.entries)
        + blackboard_warnings(blackboard_column, review.entries),
    )
    write_atomic(out / BATCH, _batch_json(summary, spec, options, column, blackboard_column))
    return summary


def _checked(
    spec: Assignment, options: GradeOptions, *, scheduler: str | None, blackboard_column: str | None
) -> GradeOptions:
    """Refuse, before anything is extracted or run, what would fail later; the options every
    worker grades with.

    Raises:
        InputError: an unknown budget or Blackboard column id.
        MissingExtraError: ``scheduler`` is given and Dask is not installed.
    """
    spec.plan(options.budget)  # an unknown budget
    check_column_id(blackboard_column)
    check_environment(spec)  # a kernel's Python that cannot run the notebooks
    if scheduler is not None:
        require_dask()
    # Every worker grades with this process's secret: the same data, the same held-back images.
    return options.replace(secret=options.secret or grader_secret())


def _batch_json(
    summary: BatchSummary,
    spec: Assignment,
    options: GradeOptions,
    canvas_column: str,
    blackboard_column: str | None = None,
) -> str:
    return (
        json.dumps(
            {
                "assignment": spec.id,
                # What `grader review OUT --export` needs to write the class outputs again.
                "assignment_folder": str(spec.folder.resolve()),
                "title": spec.title,
                "view": options.view,
                "canvas_column": canvas_column,
                "blackboard_column": blackboard_column or "",
                "budget": options.budget,
                "where": summary.where,
                "seconds": round(summary.seconds, 3),
                "ignored": summary.ignored,
                "set_aside": summary.set_aside,
                "submissions": [
                    {
                        "student_id": e.student_id,
                        "name": e.name,
                        "status": e.status,
                        "score": e.result.score,
                        "max_score": e.result.max_score,
                        "seconds": round(e.seconds, 3),
                        "reason": e.reason,
                        "source": e.source,
                        "worker": e.worker,
                        "origin": e.origin,
                        "lms_id": e.lms_id,
                        "prefix": e.prefix,
                    }
                    for e in summary.entries
                ],
            },
            indent=2,
        )
        + "\n"
    )
