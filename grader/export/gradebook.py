"""``gradebook.csv``: one row per submission, one column per check (and per item graded by
a person), and the total."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from grader.export.entry import BatchEntry
from grader.report.escape import csv_text
from grader.report.formats import format_number
from grader.score import effective_check_scores, final_score


def lms_grade(entry: BatchEntry) -> str:
    """The grade an LMS import gets: blank, never 0, when the notebook could not be graded, is
    not a notebook, or a written answer still waits for a person (an LMS reads 0 as a grade)."""
    final = final_score(entry.result)
    if entry.not_graded or final.score is None:
        return ""
    return format_number(final.score)


def check_columns(entries: Sequence[BatchEntry]) -> list[tuple[str, str, float]]:
    """``(id, title, points)`` of every check, in rubric order."""
    seen: dict[str, tuple[str, str, float]] = {}
    for entry in entries:
        for check in entry.result.checks:
            seen.setdefault(check.id, (check.id, check.title, check.max_score))
    return list(seen.values())


def gradebook_csv(entries: Sequence[BatchEntry]) -> str:
    """The class gradebook: student, status, the points of every check, total and maximum.

    Checks show the points that count (an instructor's override where there is one). When the
    rubric has manual items or a check was overridden, review columns follow the checks: each
    manual item's points or ``pending``, ``automatic`` (the checks' total as graded) and
    ``overrides``; ``total`` is then ``pending`` until every manual item is graded, never a
    silent 0 (see :mod:`grader.score`). A file that is not a notebook has its outcome
    (``not_a_notebook``, ``invalid_notebook``) as its status and no points at all.
    """
    columns = check_columns(entries)
    manual = _manual_columns(entries)
    reviewed = bool(manual) or any(e.result.overrides for e in entries)
    extra = [*manual, "automatic", "overrides"] if reviewed else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [csv_text(h) for h in ("student_id", "name", "status", *[c[0] for c in columns], *extra)]
        + ["total", "max_score"]
    )
    for entry in entries:
        points = effective_check_scores(entry.result)
        final = final_score(entry.result)
        review: list[str] = []
        if reviewed:
            answers = {m.id: m for m in entry.result.manual}
            for item in manual:
                found = answers.get(item)
                review.append(
                    ""
                    if found is None
                    else "pending"
                    if found.status != "graded" or found.score is None
                    else format_number(found.score)
                )
            review.append(format_number(entry.result.score))
            review.append(
                csv_text(
                    "; ".join(
                        f"{o.check}: {format_number(o.automatic_score)} -> "
                        f"{format_number(o.score)} ({o.reason})"
                        for o in entry.result.overrides
                    )
                )
            )
        unreadable = entry.status != "failed" and bool(entry.not_graded)
        cells = [format_number(points[c[0]]) if c[0] in points else "" for c in columns]
        if unreadable:
            cells, review = ["" for _ in cells], ["" for _ in review]
        # Text cells (names and ids come from LMS exports and rosters) are neutralised; the
        # numbers are the grader's own and stay numbers.
        writer.writerow(
            [
                csv_text(entry.student_id),
                csv_text(entry.name),
                csv_text(entry.result.outcome if unreadable else entry.status),
                *cells,
                *review,
                "" if unreadable else final.text,
                format_number(final.max_score),
            ]
        )
    return buf.getvalue()


def _manual_columns(entries: Sequence[BatchEntry]) -> list[str]:
    seen: dict[str, None] = {}
    for entry in entries:
        for item in entry.result.manual:
            seen.setdefault(item.id, None)
    return list(seen)
