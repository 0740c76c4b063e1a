"""Everything a batch writes for the class as a whole, each file atomically: the gradebooks
first, the class report (with the look-alikes, found in between) last."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Sequence
from pathlib import Path

from grader.export import layout
from grader.export.blackboard import blackboard_csv, blackboard_entries
from grader.export.canvas import canvas_csv, write_feedback_zip
from grader.export.class_report import render_class_report
from grader.export.entry import BatchEntry
from grader.export.gradebook import gradebook_csv
from grader.export.moodle import moodle_csv, moodle_entries
from grader.export.roster import RosterEntry
from grader.lookalikes.finder import LookalikePair
from grader.results import write_atomic


def write_gradebooks(
    entries: Sequence[BatchEntry],
    out: Path,
    *,
    title: str,
    canvas_column: str,
    points_possible: float,
    roster: Mapping[str, RosterEntry] | None = None,
    blackboard_column: str | None = None,
) -> dict[str, Path]:
    """Write the class's grades into ``out``, each file atomically.

    ``gradebook.csv`` and ``canvas.csv`` always; ``canvas_feedback.zip`` when submissions came
    from a Canvas zip, ``moodle.csv`` from a Moodle download, ``blackboard.csv`` from a
    Blackboard download (an older one is removed when none did), updating the Grade Center
    column ``blackboard_column`` when given.

    Returns:
        ``{"gradebook": path, "canvas": path}`` and, when written, ``canvas_feedback``,
        ``moodle`` and ``blackboard``.
    """
    from grader.report.render import render_html

    paths = {"gradebook": out / layout.GRADEBOOK, "canvas": out / layout.CANVAS}
    write_atomic(paths["gradebook"], gradebook_csv(entries))
    write_atomic(
        paths["canvas"],
        canvas_csv(entries, column=canvas_column, points_possible=points_possible, roster=roster),
    )
    # Feedback a student downloads from the LMS is always the student's view of the report.
    feedback = write_feedback_zip(entries, out, report=lambda r: render_html(r, "student"))
    if feedback is not None:
        paths["canvas_feedback"] = feedback
    optional: dict[str, tuple[list[BatchEntry], t.Callable[[], str]]] = {
        "moodle": (
            moodle_entries(entries),
            lambda: moodle_csv(entries, points_possible=points_possible),
        ),
        "blackboard": (
            blackboard_entries(entries),
            lambda: blackboard_csv(
                entries, title=title, points_possible=points_possible, column_id=blackboard_column
            ),
        ),
    }
    names = {"moodle": layout.MOODLE, "blackboard": layout.BLACKBOARD}
    for key, (found, render) in optional.items():
        path = out / names[key]
        if found:
            write_atomic(path, render())
            paths[key] = path
        else:
            path.unlink(missing_ok=True)
    return paths


def write_class_report(
    entries: Sequence[BatchEntry],
    out: Path,
    *,
    title: str,
    budget: str,
    lookalikes: Sequence[LookalikePair] = (),
) -> Path:
    """Write ``index.html``, the class report, into ``out``; returns its path."""
    path = out / layout.CLASS_REPORT
    write_atomic(
        path, render_class_report(entries, title=title, budget=budget, lookalikes=lookalikes)
    )
    return path
