"""``gradebook.csv``: one row per submission, one column per check, and the total."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from grader.batch.entry import BatchEntry
from grader.report.escape import csv_text
from grader.report.formats import format_number


def check_columns(entries: Sequence[BatchEntry]) -> list[tuple[str, str, float]]:
    """``(id, title, points)`` of every check, in rubric order."""
    seen: dict[str, tuple[str, str, float]] = {}
    for entry in entries:
        for check in entry.result.checks:
            seen.setdefault(check.id, (check.id, check.title, check.max_score))
    return list(seen.values())


def gradebook_csv(entries: Sequence[BatchEntry]) -> str:
    """The class gradebook: student, status, the points of every check, total and maximum."""
    columns = check_columns(entries)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [csv_text(h) for h in ("student_id", "name", "status", *[c[0] for c in columns])]
        + ["total", "max_score"]
    )
    for entry in entries:
        points = {c.id: c.score for c in entry.result.checks}
        # Text cells (names and ids come from LMS exports and rosters) are neutralised; the
        # numbers are the grader's own and stay numbers.
        writer.writerow(
            [
                csv_text(entry.student_id),
                csv_text(entry.name),
                csv_text(entry.status),
                *[format_number(points[c[0]]) if c[0] in points else "" for c in columns],
                format_number(entry.result.score),
                format_number(entry.result.max_score),
            ]
        )
    return buf.getvalue()
