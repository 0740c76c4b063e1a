"""Moodle: the assignment's grading worksheet, to upload with "Upload grading worksheet".

Moodle's assignment (mod/assign) offers "Download grading worksheet" and reads the same CSV back
(``assignfeedback_offline``; moodle/moodle ``mod/assign/feedback/offline/importgradeslib.php``).
The importer finds its columns by their headers: ``Identifier`` holds ``Participant <id>``,
the participant id that "Download all submissions" puts in every folder name
(``get_uniqueid_for_user`` in ``mod/assign/locallib.php``); ``Grade`` is the grade; each
feedback plugin's column by its name (``Feedback comments``); ``Last modified (grade)``, when
present, makes Moodle skip rows graded in Moodle after that time, so it is left out. An empty
grade leaves the student ungraded. Feedback comments are HTML in Moodle: ours are escaped text.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from pathlib import PurePath

from grader.batch.entry import BatchEntry
from grader.batch.lms_names import moodle_owner
from grader.export.gradebook import lms_grade
from grader.report.escape import csv_text
from grader.report.formats import format_number
from grader.review.merge import effective_check_scores, final_score

MOODLE_COLUMNS = ("Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments")
PARTICIPANT = "Participant "
"""Moodle's English ``hiddenuser`` string, which prefixes every identifier."""


def moodle_entries(entries: Sequence[BatchEntry]) -> list[BatchEntry]:
    """The submissions that came from a Moodle download (their folder names the participant)."""
    return [e for e in entries if moodle_owner(PurePath(e.source)) is not None]


def moodle_csv(entries: Sequence[BatchEntry], *, points_possible: float) -> str:
    """Moodle's grading worksheet with each Moodle participant's grade and a short feedback.

    Args:
        entries: the batch; only submissions from a Moodle download get a row.
        points_possible: the assignment's maximum (manual items included).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MOODLE_COLUMNS)
    for entry in moodle_entries(entries):
        owner = moodle_owner(PurePath(entry.source))
        assert owner is not None  # moodle_entries kept only these
        grade = lms_grade(entry)
        writer.writerow(
            [
                csv_text(PARTICIPANT + owner.student_id),
                csv_text(entry.name or owner.name),
                grade,
                format_number(points_possible),
                csv_text(html.escape(_feedback(entry))),
            ]
        )
    return buf.getvalue()


def _feedback(entry: BatchEntry) -> str:
    if entry.status == "failed":
        return f"Not graded: {entry.reason}"
    final = final_score(entry.result)
    points = effective_check_scores(entry.result)
    missed = [
        f"{c.title} ({format_number(points.get(c.id, c.score))}/{format_number(c.max_score)})"
        for c in entry.result.checks
        if points.get(c.id, c.score) < c.max_score
    ]
    head = (
        f"Autograded {format_number(final.automatic)}/{format_number(entry.result.max_score)}"
        + (f"; {len(final.pending)} answer(s) still graded by hand" if final.pending else "")
        + "."
    )
    return head + (f" Points lost: {'; '.join(missed)}." if missed else "")
