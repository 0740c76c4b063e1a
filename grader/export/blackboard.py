"""Blackboard Learn: a Grade Center upload ("Work Offline" -> "Upload"), keyed by Username.

Blackboard reads a comma-separated file whose first row names the columns: ``Username``
identifies the student (required); ``Last Name`` and ``First Name`` are informational; a grade
column headed ``<name> [Total Pts: <points> Score] |<column id>`` updates that existing column,
and a header without ``|<column id>`` creates a new column (what this file does: copy the
header of the column from a Grade Center download over ours to update an existing one). An
empty cell leaves the grade unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import PurePath

from grader.batch.entry import BatchEntry
from grader.batch.lms_names import blackboard_owner
from grader.export.gradebook import lms_grade
from grader.report.escape import csv_text
from grader.report.formats import format_number


def blackboard_entries(entries: Sequence[BatchEntry]) -> list[BatchEntry]:
    """The submissions that came from a Blackboard download (the file name holds a username)."""
    return [e for e in entries if blackboard_owner(PurePath(e.source)) is not None]


def blackboard_csv(entries: Sequence[BatchEntry], *, title: str, points_possible: float) -> str:
    """Blackboard's Grade Center upload with one row per Blackboard student.

    Args:
        entries: the batch; only submissions from a Blackboard download get a row.
        title: the grade column's name.
        points_possible: the assignment's maximum (manual items included).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = f"{title} [Total Pts: {format_number(points_possible)} Score]"
    writer.writerow(["Last Name", "First Name", "Username", csv_text(header)])
    for entry in blackboard_entries(entries):
        owner = blackboard_owner(PurePath(entry.source))
        assert owner is not None  # blackboard_entries kept only these
        grade = lms_grade(entry)
        last, _, first = (entry.name or "").partition(", ")
        writer.writerow([csv_text(last), csv_text(first), csv_text(owner.student_id), grade])
    return buf.getvalue()
