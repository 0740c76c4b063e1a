"""Canvas: the gradebook import CSV and a feedback zip in Canvas' own download naming.

**Gradebook import** (Canvas Gradebook -> Import): ``Student, ID, SIS User ID, SIS Login ID,
Section``, then one column per assignment headed as in Canvas' own export,
``Homework 3 (123456)``: Canvas matches the column to the existing assignment by that id and
creates a *new* assignment for a header it cannot match. The second row is
``Points Possible``. Canvas matches rows by ``ID``, its user id, which its download zip puts in
every file name. An empty cell leaves the student ungraded, where ``0`` would be a grade.

**Feedback zip** ("Upload Feedback Files" in SpeedGrader's download menu): Canvas reads the user
id and the attachment id back from each file name, as the first two parts of
``name.split("_")`` that are all digits (``Assignment#infer_comment_context_from_filename``,
instructure/canvas-lms), and attaches the file as a comment to that submission if the
attachment is one of its files. So each student's ``report.html`` is named with the very prefix
of the notebook Canvas handed us (``ContentZipper#get_filename``, ``lib/content_zipper.rb``):
``lovelace_LATE_12345_67890_report.html``, ``LATE_anon_x7Kq9_67890_report.html``.
"""

from __future__ import annotations

import csv
import io
import re
import typing as t
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from grader.export.entry import BatchEntry
from grader.export.gradebook import lms_grade
from grader.export.layout import CANVAS_FEEDBACK
from grader.export.roster import RosterEntry
from grader.report.escape import csv_text
from grader.report.formats import format_number
from grader.results import GradeResult

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
_COLUMN_WITH_ID = re.compile(r"\(\d+\)\s*$")


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

    A submission that could not be graded, is not a notebook, or has manual items still
    pending, gets an empty score: Canvas leaves it ungraded rather than importing a 0 the
    student never earned.
    """
    roster = roster or {}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_text(c) for c in (*CANVAS_COLUMNS, column)])
    writer.writerow(["    Points Possible", "", "", "", "", format_number(points_possible)])
    for entry in entries:
        known = roster.get(entry.student_id)
        canvas_id = entry.lms_id if entry.origin == "canvas" and entry.lms_id else entry.student_id
        text = [
            (known.name if known else "") or entry.name or entry.student_id,
            known.id if known else canvas_id,
            known.sis_user_id if known else "",
            known.sis_login_id if known else "",
            known.section if known else "",
        ]
        score = lms_grade(entry)
        writer.writerow([*(csv_text(cell) for cell in text), score])
    return buf.getvalue()


def canvas_warnings(column: str | None, entries: Sequence[BatchEntry]) -> list[str]:
    """What would go wrong importing ``canvas.csv`` as it is; empty when nothing would.

    Args:
        column: the ``--canvas-column`` given (None: the assignment's title is used).
        entries: the batch.
    """
    from_canvas = [e for e in entries if e.origin == "canvas"]
    if not from_canvas and column is None:
        return []  # not a Canvas class: canvas.csv is a by-product nobody imports
    warnings = []
    if column is None or not _COLUMN_WITH_ID.search(column):
        shown = "the assignment's title" if column is None else repr(column)
        warnings.append(
            f"canvas.csv's score column is {shown}: Canvas imports a column it cannot match as "
            "a NEW assignment. Pass --canvas-column with the header of Canvas' own gradebook "
            "export, e.g. --canvas-column 'Homework 3 (123456)'."
        )
    anonymous = sorted(e.lms_id for e in from_canvas if e.lms_id.startswith("anon_"))
    if anonymous:
        warnings.append(
            f"{len(anonymous)} submission(s) come from an anonymously graded assignment "
            f"({', '.join(anonymous[:3])}{', ...' if len(anonymous) > 3 else ''}): their rows "
            "in canvas.csv have no Canvas user id, so import grades only after anonymity is "
            "lifted and the ids are known (a --roster with the ids), or enter them in "
            "SpeedGrader."
        )
    return warnings


def write_feedback_zip(
    entries: Sequence[BatchEntry], out: Path, *, report: t.Callable[[GradeResult], str]
) -> Path | None:
    """Write ``OUT/canvas_feedback.zip``: each Canvas student's report, named for re-upload.

    Args:
        entries: the batch; only submissions that came from a Canvas zip get a file.
        out: the batch's output folder, holding ``<student id>/result.json``.
        report: renders the report a student may read (the student view).

    Returns:
        The zip's path, or None (and any older zip removed) when no submission came from Canvas.
    """
    path = out / CANVAS_FEEDBACK
    files: list[tuple[str, str]] = []
    for entry in entries:
        prefix = entry.prefix if entry.origin == "canvas" else ""
        result_path = out / entry.student_id / "result.json"
        if not prefix or not result_path.is_file():
            continue
        result = GradeResult.from_json(result_path.read_text(encoding="utf-8"))
        files.append((f"{prefix}report.html", report(result)))
    if not files:
        path.unlink(missing_ok=True)
        return None
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
    tmp.replace(path)
    return path
