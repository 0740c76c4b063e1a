"""Blackboard Learn: a Grade Center upload ("Work Offline" -> "Upload"), keyed by Username.

Blackboard's documentation ("Uploading External Grade Center Items", Blackboard Learn Help for
Instructors, Grade Center > Working offline; e.g.
library.blackboard.com/ref/36ba3329-e441-488a-93ce-7a55543cc999/Content/Grade%20Center/
Uploading%20External%20Grade%20Center%20Items.htm) says:

- the file has a header row, then one record per line; a comma-delimited file has the
  ``.csv`` extension and **every value must be enclosed in a quote character** (``"``);
- the student is identified by ``Username`` (required); ``Last Name`` and ``First Name`` are
  informational;
- a column is identified by its Column ID: Grade Center's own download heads a column
  ``<name> [Total Pts: <points> Score] |<column id>``, and a header with ``|<column id>``
  updates that column;
- a header without a Column ID **creates a new column, as a text column with 0 points
  possible**, which totals, weighted and average columns ignore until it is edited into a score
  column with its points.

So the grader writes the Grade Center download's header form, and with ``--blackboard-column
<id>`` (the Column ID of the score column created in Grade Center, shown in its download's
header or the column's information) updates that column; without it Blackboard creates the
text column and the batch warns. An empty cell leaves the grade unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

from grader.export.entry import BatchEntry
from grader.export.gradebook import lms_grade
from grader.report.escape import csv_text
from grader.report.formats import format_number

BLACKBOARD_COLUMNS = ("Last Name", "First Name", "Username")
_COLUMN_ID = re.compile(r"^\d+$")


def blackboard_entries(entries: Sequence[BatchEntry]) -> list[BatchEntry]:
    """The submissions that came from a Blackboard download (the file name holds a username)."""
    return [e for e in entries if e.origin == "blackboard" and e.lms_id]


def blackboard_header(title: str, points_possible: float, column_id: str | None) -> str:
    """The score column's header as Grade Center's own download writes it.

    >>> blackboard_header("HW 3", 25, "1234")
    'HW 3 [Total Pts: 25 Score] |1234'
    """
    header = f"{title} [Total Pts: {format_number(points_possible)} Score]"
    return f"{header} |{column_id}" if column_id else header


def blackboard_csv(
    entries: Sequence[BatchEntry],
    *,
    title: str,
    points_possible: float,
    column_id: str | None = None,
) -> str:
    """Blackboard's Grade Center upload with one row per Blackboard student, every value quoted.

    Args:
        entries: the batch; only submissions from a Blackboard download get a row.
        title: the grade column's name.
        points_possible: the assignment's maximum (manual items included).
        column_id: the Grade Center Column ID to update; None creates a new column.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    header = blackboard_header(title, points_possible, column_id)
    writer.writerow([*BLACKBOARD_COLUMNS, csv_text(header)])
    for entry in blackboard_entries(entries):
        last, _, first = (entry.name or "").partition(", ")
        row = [csv_text(last), csv_text(first), csv_text(entry.lms_id), lms_grade(entry)]
        writer.writerow(row)
    return buf.getvalue()


def check_column_id(column_id: str | None) -> None:
    """Refuse a ``--blackboard-column`` that cannot be a Grade Center Column ID, before any work.

    Raises:
        InputError: ``column_id`` is not a number.
    """
    from grader.exceptions import InputError

    if column_id is not None and not _COLUMN_ID.match(column_id):
        raise InputError(
            f"--blackboard-column {column_id!r}: a Grade Center Column ID is a number, the one "
            "after '|' in the column's header of a Grade Center download"
        )


def blackboard_warnings(column_id: str | None, entries: Sequence[BatchEntry]) -> list[str]:
    """What would go wrong uploading ``blackboard.csv`` as it is; empty when nothing would."""
    if column_id is not None or not blackboard_entries(entries):
        return []
    return [
        "blackboard.csv's score column has no Column ID: Blackboard creates it as a TEXT column "
        "worth 0 points, which totals ignore. Create a score column in Grade Center and pass "
        "its Column ID, e.g. --blackboard-column 123456."
    ]
