"""Moodle: the assignment's grading worksheet, to upload with "Upload grading worksheet".

Moodle's assignment (mod/assign) offers "Download grading worksheet" and reads the same CSV back
(``assignfeedback_offline``). The file written here has the worksheet's columns, named and
ordered as Moodle's English download names them (``assign_grading_table::__construct`` in
moodle/moodle ``mod/assign/gradingtable.php`` when downloading, with the default identity
field, e-mail; the strings from ``mod/assign/lang/en/assign.php``): ``Identifier``, ``Full
name``, ``Email address``, ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``,
``Last modified (submission)``, ``File submissions``, ``Last modified (grade)``, ``Feedback
comments``.

The importer (``assignfeedback_offline_grade_importer::init`` in
``mod/assign/feedback/offline/importgradeslib.php``) finds its columns by header and refuses the
file (``invalidgradeimport``) unless ``Identifier``, ``Grade`` and ``Last modified (grade)`` are
all there; it reads the file as UTF-8, comma-separated. ``Identifier`` holds ``Participant
<id>``, the participant id that "Download all submissions" puts in every folder name
(``get_uniqueid_for_user``); the importer strips the ``Participant `` prefix (``hiddenuser``).
``Last modified (grade)`` is read with PHP's ``strtotime``: Moodle skips a row whose grade was
changed in Moodle more than a minute after it (unless ``ignoremodified``, "allow updating
records modified more recently", is ticked), so it holds
the time the worksheet was written, in Moodle's own date format (``strftimedaydatetime``, UTC).
An empty grade leaves the student ungraded; a grade above the assignment's maximum is skipped,
so the Moodle assignment's maximum grade must be the points shown here. Feedback comments are
HTML in Moodle: ours are escaped text.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Sequence
from pathlib import PurePath

from grader.export.entry import BatchEntry
from grader.export.gradebook import lms_grade
from grader.report.escape import csv_text
from grader.report.formats import format_number
from grader.score import effective_check_scores, final_score

MOODLE_COLUMNS = (
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "File submissions",
    "Last modified (grade)",
    "Feedback comments",
)
PARTICIPANT = "Participant "
"""Moodle's English ``hiddenuser`` string, which prefixes every identifier."""
SUBMITTED = "Submitted for grading"
"""Moodle's English ``submissionstatus_submitted``."""


def moodle_entries(entries: Sequence[BatchEntry]) -> list[BatchEntry]:
    """The submissions that came from a Moodle download (their folder names the participant)."""
    return [e for e in entries if e.origin == "moodle" and e.lms_id]


def moodle_date(when: dt.datetime) -> str:
    """``when`` as Moodle's ``userdate`` writes it in English (``%A, %d %B %Y, %I:%M %p``
    without leading zeros), which ``strtotime`` reads back.

    >>> moodle_date(dt.datetime(2026, 12, 6, 19, 5, tzinfo=dt.UTC))
    'Sunday, 6 December 2026, 7:05 PM'
    """
    utc = when.astimezone(dt.UTC)
    hour = utc.hour % 12 or 12
    return f"{utc:%A}, {utc.day} {utc:%B %Y}, {hour}:{utc:%M %p}"


def moodle_csv(
    entries: Sequence[BatchEntry], *, points_possible: float, now: dt.datetime | None = None
) -> str:
    """Moodle's grading worksheet with each Moodle participant's grade and a short feedback.

    Args:
        entries: the batch; only submissions from a Moodle download get a row.
        points_possible: the assignment's maximum (manual items included).
        now: when the worksheet is written (``Last modified (grade)``); the current time when
            None.
    """
    written = moodle_date(now or dt.datetime.now(dt.UTC))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MOODLE_COLUMNS)
    for entry in moodle_entries(entries):
        grade = lms_grade(entry)
        writer.writerow(
            [
                csv_text(PARTICIPANT + entry.lms_id),
                csv_text(entry.name),
                "",
                SUBMITTED,
                _moodle_number(grade),
                _moodle_number(format_number(points_possible)),
                "Yes",
                "-",
                csv_text(_file_name(entry)),
                written,
                csv_text(html.escape(_feedback(entry))),
            ]
        )
    return buf.getvalue()


def _file_name(entry: BatchEntry) -> str:
    """The graded file's name as the student uploaded it (Moodle's prefix removed)."""
    name = PurePath(entry.source).name
    return name[len(entry.prefix) :] if entry.prefix and name.startswith(entry.prefix) else name


def _moodle_number(text: str) -> str:
    # Moodle writes grades with the grade item's decimals (2 by default): "25.00".
    return f"{float(text):.2f}" if text else ""


def _feedback(entry: BatchEntry) -> str:
    if entry.not_graded:
        return f"Not graded: {entry.not_graded}"
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
