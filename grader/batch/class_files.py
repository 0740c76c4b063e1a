"""A batch's class files: the review's decisions merged, the gradebooks, then the class report.

``batch.json``, the batch's summary, is :func:`grader.batch.run.grade_batch`'s to write.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from pathlib import Path

from grader.exceptions import InputError
from grader.export.class_outputs import write_class_report, write_gradebooks
from grader.export.layout import CLASS_FILES
from grader.export.roster import RosterEntry
from grader.lookalikes.finder import find_in_folder
from grader.review.export import ReviewState, review_batch

if t.TYPE_CHECKING:
    from grader.batch.state import BatchState


def check_class_files(out: Path) -> None:
    """Refuse, before any work, an output folder where a class file's name is taken by a
    folder (a submission folder an older grader named after a student's ``gradebook.csv``).

    Raises:
        InputError: naming the folder to remove.
    """
    for name in sorted(CLASS_FILES):
        if (out / name).is_dir():
            raise InputError(
                f"{out / name}: a folder where the class's {name} goes (left by an older "
                "grader); remove it and grade again"
            )


def write_class_files(
    batch: BatchState,
    roster: Mapping[str, RosterEntry],
    *,
    canvas_column: str,
    blackboard_column: str | None,
) -> tuple[ReviewState, dict[str, Path]]:
    """The review's decisions merged into ``batch``'s entries, the gradebooks, then the class
    report; says where each went."""
    # Decisions made in `grader review` (OUT/review.sqlite) still apply to what was graded
    # again. The gradebooks are written before the look-alike finder runs: however long it
    # takes, it never delays a grade; its pairs go into the class report, written last.
    review = _reviewed(batch)
    spec = batch.spec
    outputs = write_gradebooks(
        review.entries,
        batch.out,
        title=spec.title,
        canvas_column=canvas_column,
        blackboard_column=blackboard_column,
        points_possible=spec.max_score + sum(item.points for item in spec.manual),
        roster=roster,
    )
    outputs["report"] = _write_class_report(batch, review)
    return review, outputs


def _reviewed(batch: BatchState) -> ReviewState:
    """The entries by student id, the review's decisions merged."""
    ordered = [batch.entries[k] for k in sorted(batch.entries)]
    return review_batch(batch.out, ordered, view=batch.options.view, reveals=batch.spec.reveals())


def _write_class_report(batch: BatchState, review: ReviewState) -> Path:
    """Find the look-alike submissions, then write the class report that lists them."""
    found = find_in_folder(
        batch.out,
        [e.student_id for e in review.entries],
        template=batch.spec.student_notebook,
    )
    return write_class_report(
        review.entries,
        batch.out,
        title=batch.spec.title,
        budget=batch.options.budget,
        lookalikes=found.pairs,
    )
