"""Canvas' gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section``, the score
column, and a ``Points Possible`` row."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from grader.batch.discover import RosterEntry
from grader.batch.entry import BatchEntry
from grader.report.escape import csv_text
from grader.report.formats import format_number
from grader.review.merge import final_score

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def canvas_csv(
    entries: Sequence[BatchEntry],
    *,
    column: str,
    points_possible: float,
    roster: Mapping[str, RosterEntry] | None = None,
) -> str:
    """A CSV that Canvas' gradebook imports.

    Args:
        entries: the batch; ``student_id`` must be the Canvas user id (as in Canvas' zip).
        column: the assignment's column header, as in Canvas' own export
            (``Homework 3 (123456)``) so Canvas matches it to the existing assignment.
        points_possible: the assignment's maximum (manual items included).
        roster: names, SIS ids and sections, when known.

    A submission with manual items still pending gets an empty score: Canvas leaves it
    ungraded rather than importing a 0.
    """
    roster = roster or {}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_text(c) for c in (*CANVAS_COLUMNS, column)])
    writer.writerow(["    Points Possible", "", "", "", "", format_number(points_possible)])
    for entry in entries:
        known = roster.get(entry.student_id)
        text = [
            (known.name if known else "") or entry.name or entry.student_id,
            known.id if known else entry.student_id,
            known.sis_user_id if known else "",
            known.sis_login_id if known else "",
            known.section if known else "",
        ]
        final = final_score(entry.result)
        score = "" if final.score is None else format_number(final.score)
        writer.writerow([*(csv_text(cell) for cell in text), score])
    return buf.getvalue()
