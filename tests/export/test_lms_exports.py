"""Each LMS's import file checked against its documented format: header, keys, types, escaping."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from grader.exceptions import InputError
from grader.export.blackboard import blackboard_csv, blackboard_warnings, check_column_id
from grader.export.canvas import canvas_csv, canvas_warnings, write_feedback_zip
from grader.export.class_outputs import write_gradebooks
from grader.export.class_report import render_class_report
from grader.export.entry import BatchEntry
from grader.export.gradebook import gradebook_csv
from grader.export.moodle import MOODLE_COLUMNS, moodle_csv
from grader.export.submission_files import render_submission
from grader.report.render import render_html
from grader.results import Incident
from tests.batch.test_run import fake, hand_in, run  # noqa: F401 (fixtures)
from tests.export.test_exports import FROZEN_FAILS, PASSED, result

STAGING = "/out/.inputs/submissions-abc"
MOODLE = "/out/.inputs/m/Ada Lovelace_4411_assignsubmission_file_/hw.ipynb"
NOW = dt.datetime(2026, 12, 6, 19, 5, tzinfo=dt.UTC)


def entry(
    sid: str,
    source: str,
    status: str = "graded",
    name: str = "",
    *,
    origin: str = "folder",
    lms_id: str = "",
    prefix: str = "",
) -> BatchEntry:
    statuses = FROZEN_FAILS if status == "failed" else PASSED
    return BatchEntry(
        sid,
        name,
        status,  # type: ignore[arg-type]
        result(sid, statuses),
        1.0,
        reason="the kernel died" if status == "failed" else "",
        source=source,
        origin=origin,
        lms_id=lms_id or (sid if origin != "folder" else ""),
        prefix=prefix,
    )


def canvas(sid: str, prefix: str, status: str = "graded") -> BatchEntry:
    return entry(sid, f"{STAGING}/{prefix}hw.ipynb", status, origin="canvas", prefix=prefix)


CANVAS = [
    canvas("12345", "müllerjürgen_12345_67890_"),
    canvas("23456", "王小明_LATE_23456_78901_", status="failed"),
    canvas("anon_x7Kq9", "anon_x7Kq9_99001_"),
]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_leaves_an_ungradable_submission_blank_not_zero() -> None:
    table = rows(canvas_csv(CANVAS, column="HW 3 (991)", points_possible=25))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 3 (991)"]
    assert [(r[1], r[-1]) for r in table[2:]] == [
        ("12345", "25"),
        ("23456", ""),
        ("anon_x7Kq9", "25"),
    ]


def test_canvas_warns_when_the_column_would_be_a_new_assignment() -> None:
    assert canvas_warnings("HW 3 (991)", CANVAS[:2]) == []
    (missing,) = canvas_warnings(None, CANVAS[:2])
    assert "NEW assignment" in missing and "--canvas-column" in missing
    (wrong,) = canvas_warnings("HW 3", CANVAS[:2])
    assert "'HW 3'" in wrong
    anonymous = canvas_warnings("HW 3 (991)", CANVAS)
    assert len(anonymous) == 1 and "anon_x7Kq9" in anonymous[0]
    # Not a Canvas class, no column asked for: nothing to warn about.
    assert canvas_warnings(None, [entry("zoe", "/hand-in/zoe.ipynb")]) == []


def test_canvas_feedback_zip_uses_canvas_download_names_and_the_student_view(
    tmp_path: Path,
) -> None:
    hidden = dataclasses.replace(
        CANVAS[0].result,
        checks=[dataclasses.replace(c, hidden=True) for c in CANVAS[0].result.checks],
    )
    hidden.write(tmp_path / "12345" / "result.json")
    CANVAS[1].result.write(tmp_path / "23456" / "result.json")
    others = [entry("zoe", "/hand-in/zoe.ipynb")]
    CANVAS[0].result.write(tmp_path / "zoe" / "result.json")
    late_anon = canvas("anon_Qz8Pw", "LATE_anon_Qz8Pw_99007_")
    late_anon.result.write(tmp_path / "anon_Qz8Pw" / "result.json")
    path = write_feedback_zip(
        [*CANVAS, late_anon, *others], tmp_path, report=lambda r: render_html(r, "student")
    )
    assert path == tmp_path / "canvas_feedback.zip"
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        report = zf.read("müllerjürgen_12345_67890_report.html").decode()
    # anon_x7Kq9 has no result.json here; the plain-folder one is not from Canvas.
    assert names == [
        "LATE_anon_Qz8Pw_99007_report.html",
        "müllerjürgen_12345_67890_report.html",
        "王小明_LATE_23456_78901_report.html",
    ]
    # Canvas reads the user id and the attachment id as the first two all-digit parts.
    for name in names[1:]:
        digits = [p for p in name.split("_") if p.isdigit()][:2]
        assert digits in (["12345", "67890"], ["23456", "78901"])
    assert report == render_html(hidden, "student")
    assert report != render_html(hidden, "instructor")
    # No Canvas submission left: an older zip is removed rather than re-imported by mistake.
    assert write_feedback_zip(others, tmp_path, report=render_html) is None
    assert not path.exists()


def moodle(sid: str, status: str = "graded", name: str = "Ada Lovelace") -> BatchEntry:
    source = MOODLE.replace("4411", sid).replace("Ada Lovelace", name)
    return entry(sid, source, status, name, origin="moodle")


def moodle_import(text: str, participants: dict[str, float]) -> dict[str, tuple[str, str]]:
    """What Moodle's offline-grading importer takes from ``text``: ``{participant id: (grade,
    feedback)}``, following moodle/moodle ``mod/assign/feedback/offline/importgradeslib.php``
    (``parsecsv`` reads UTF-8, comma-separated; ``init`` finds ``Grade``, ``Identifier`` and
    ``Last modified (grade)`` by exact header and refuses the file, ``invalidgradeimport``,
    without all three; ``next`` strips ``get_string('hiddenuser', 'assign')``, "Participant ",
    from the identifier and ``strtotime``s the modified time) and ``locallib.php``'s
    ``process_import_grades`` (an empty or negative grade, or one above the maximum, is
    skipped). ``participants`` are the assignment's participants with its maximum grade.
    """
    raw = text.encode("utf-8").decode("utf-8-sig")  # csv_import_reader trims a UTF-8 BOM
    table = list(csv.reader(io.StringIO(raw)))
    columns = table[0]
    missing = {"Grade", "Identifier", "Last modified (grade)"} - set(columns)
    assert not missing, f"invalidgradeimport: no {missing}"
    grade_at, id_at = columns.index("Grade"), columns.index("Identifier")
    modified_at = columns.index("Last modified (grade)")
    feedback_at = columns.index("Feedback comments")
    taken = {}
    for record in table[1:]:
        assert record[id_at].startswith("Participant ")
        participant = record[id_at][len("Participant ") :]
        if participant not in participants:
            continue
        # strtotime() of Moodle's own userdate() format.
        dt.datetime.strptime(record[modified_at], "%A, %d %B %Y, %I:%M %p")
        grade = record[grade_at]
        if grade and 0 <= float(grade) <= participants[participant]:
            taken[participant] = (grade, record[feedback_at])
    return taken


def test_moodle_worksheet_is_moodles_own_and_its_importer_takes_it() -> None:
    entries = [
        moodle("4411"),
        moodle("4412", status="failed", name="=Evil <b>"),
        entry("zoe", "/hand-in/zoe.ipynb"),
    ]
    failed = dataclasses.replace(entries[1], reason="<script>alert(1)</script>")
    text = moodle_csv([entries[0], failed, entries[2]], points_possible=25, now=NOW)
    table = rows(text)
    # The download's columns, in its order (mod/assign/gradingtable.php, English strings).
    assert tuple(table[0]) == MOODLE_COLUMNS
    assert MOODLE_COLUMNS == (
        "Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
        "Grade can be changed", "Last modified (submission)", "File submissions",
        "Last modified (grade)", "Feedback comments",
    )  # fmt: skip
    assert len(table) == 3  # the plain-folder submission has no participant id
    ada, evil = table[1], table[2]
    assert ada[:7] == ["Participant 4411", "Ada Lovelace", "", "Submitted for grading",
                       "25.00", "25.00", "Yes"]  # fmt: skip
    assert ada[9] == "Sunday, 6 December 2026, 7:05 PM" and ada[10] == "Autograded 25/25."
    assert evil[0] == "Participant 4412" and evil[1] == "'=Evil <b>" and evil[4] == ""
    assert evil[10] == "Not graded: &lt;script&gt;alert(1)&lt;/script&gt;"
    assert moodle_import(text, {"4411": 25.0, "4412": 25.0}) == {
        "4411": ("25.00", "Autograded 25/25.")
    }
    partial = dataclasses.replace(moodle("4413"), result=result("4413", FROZEN_FAILS))
    (row,) = rows(moodle_csv([partial], points_possible=25, now=NOW))[1:]
    assert row[4] == "10.00" and "title of transfer.frozen (0/15)" in row[10]


def test_the_old_worksheet_without_last_modified_is_what_moodle_refuses() -> None:
    """The importer's rule itself, so the check above can fail: issue 25's moodle.csv."""
    old = "Identifier,Full name,Grade,Maximum Grade,Feedback comments\nParticipant 1,A,25,25,x\n"
    with pytest.raises(AssertionError, match="invalidgradeimport"):
        moodle_import(old, {"1": 25.0})


def blackboard_import(text: str) -> tuple[str, dict[str, str]]:
    """What Grade Center's upload takes from a comma-delimited ``text``: the column's ID and
    ``{username: grade}``, by the rules of Blackboard Learn's "Uploading External Grade Center
    Items" (library.blackboard.com/ref/36ba3329-e441-488a-93ce-7a55543cc999/Content/
    Grade%20Center/Uploading%20External%20Grade%20Center%20Items.htm): a header row, every value
    of a .csv enclosed in quotes, students by ``Username``, a column by its Column ID after
    ``|`` (none: a new text column worth 0 points)."""
    for line in text.splitlines():
        cells = line.split('","')
        assert line.startswith('"') and line.endswith('"'), f"not quoted: {line}"
        assert all('"' not in c.strip('"') for c in cells)
    table = rows(text)
    user_at = table[0].index("Username")
    match = re.fullmatch(r"(.+) \[Total Pts: ([\d.]+) Score\](?: \|(\d+))?", table[0][3])
    assert match is not None, table[0][3]
    return match[3] or "", {r[user_at]: r[3] for r in table[1:] if r[3]}


def test_blackboard_upload_is_quoted_keyed_by_username_and_targets_a_column() -> None:
    entries = [
        entry("mary_obrien", "/x/HW 3_mary_obrien_attempt_2024-03-02-09-00-00_hw.ipynb",
              name="O'Brien, Mary", origin="blackboard"),
        entry("mchen", "/x/HW 3_mchen_attempt_2024-03-01-11-00-00_hw.ipynb", status="failed",
              origin="blackboard"),
        entry("zoe", "/hand-in/zoe.ipynb"),
    ]  # fmt: skip
    text = blackboard_csv(entries, title="HW 3", points_possible=25, column_id="1234")
    assert rows(text) == [
        ["Last Name", "First Name", "Username", "HW 3 [Total Pts: 25 Score] |1234"],
        ["O'Brien", "Mary", "mary_obrien", "25"],
        ["", "", "mchen", ""],
    ]
    assert blackboard_import(text) == ("1234", {"mary_obrien": "25"})
    # Without a Column ID Blackboard makes a text column of 0 points: the batch says so.
    new = blackboard_csv(entries, title="HW 3", points_possible=25)
    assert blackboard_import(new)[0] == ""
    (warning,) = blackboard_warnings(None, entries)
    assert "TEXT column" in warning and "--blackboard-column" in warning
    assert blackboard_warnings("1234", entries) == []
    with pytest.raises(InputError, match="Column ID is a number"):
        check_column_id("HW 3")


def canvas_import(text: str) -> dict[int, str]:
    """What Canvas' gradebook import takes: ``{user id: score}`` for the one assignment column,
    following instructure/canvas-lms ``lib/gradebook_importer.rb``: the header row needs
    ``Student`` then ``ID`` (``row_has_student_headers?``) and ``Section`` as the last student
    column after ``SIS User ID``/``SIS Login ID`` (``update_column_count``, ``header?``); an
    assignment column ``Title (id)`` matches that assignment (``Assignment.title_and_id``), any
    other header makes a new one; a row whose first cell holds ``Points Possible`` is no student
    (``check_for_non_student_row``); a student is ``ID.to_i`` (``process_student``); a blank
    score is no grade."""
    table = rows(text)
    header = table[0]
    assert "Student" in header[0] and "ID" in header[1]
    assert header[2:5] == ["SIS User ID", "SIS Login ID", "Section"]
    assert re.fullmatch(r".+ \((\d+)\)", header[5]), "Canvas would create a new assignment"
    students = [r for r in table[1:] if "Points Possible" not in r[0]]
    assert len(students) == len(table) - 2  # exactly one Points Possible row
    ruby_to_i = {r[1]: int(m[0]) if (m := re.match(r"\d+", r[1])) else 0 for r in students}
    return {ruby_to_i[r[1]]: r[5].strip() for r in students if r[5].strip()}


def test_canvas_csv_keys_by_canvas_user_id() -> None:
    # An anonymous id reads as user 0 (no one): that is why the batch warns about them.
    assert canvas_import(canvas_csv(CANVAS, column="HW 3 (991)", points_possible=25)) == {
        12345: "25",
        0: "25",
    }


def test_class_outputs_write_only_the_lms_files_the_hand_in_calls_for(tmp_path: Path) -> None:
    for e in CANVAS:
        e.result.write(tmp_path / e.student_id / "result.json")
    common = {"title": "HW", "canvas_column": "HW (1)", "points_possible": 25}
    paths = write_gradebooks(CANVAS, tmp_path, **common)  # type: ignore[arg-type]
    assert set(paths) == {"gradebook", "canvas", "canvas_feedback"}
    (tmp_path / "4411").mkdir()
    paths = write_gradebooks([moodle("4411")], tmp_path, **common)  # type: ignore[arg-type]
    assert set(paths) == {"gradebook", "canvas", "moodle"}
    assert not (tmp_path / "canvas_feedback.zip").exists()


def unreadable(sid: str, outcome: str, **where: str) -> BatchEntry:
    """A submission that is no notebook, as the pipeline returns it (every check failed, 0)."""
    base = entry(sid, where.pop("source", f"/hand-in/{sid}.ipynb"), **where)
    failed = [dataclasses.replace(c, status="fail", score=0.0) for c in base.result.checks]
    detail = "not graded: invalid JSON at line 1"
    broken = dataclasses.replace(
        base.result,
        checks=failed,
        score=0.0,
        outcome=outcome,  # type: ignore[arg-type]
        incidents=[Incident(outcome, -1, detail)],  # type: ignore[arg-type]
    )
    return dataclasses.replace(base, result=broken)


@pytest.mark.parametrize("outcome", ["not_a_notebook", "invalid_notebook"])
def test_a_file_that_is_no_notebook_is_never_a_graded_zero_anywhere(
    tmp_path: Path, outcome: str
) -> None:
    """docs/security.md, "Outcomes": such a file gets a result with that outcome; every export
    says so and leaves the grade empty, as for a notebook that could not be graded."""
    entries = [
        unreadable("11111", outcome, origin="canvas", prefix="ada_11111_5_",
                   source=f"{STAGING}/ada_11111_5_hw.ipynb"),
        unreadable("4411", outcome, origin="moodle", source=MOODLE),
        unreadable("jsmith", outcome, origin="blackboard"),
        unreadable("zoe", outcome),
    ]  # fmt: skip
    book = {r[0]: r for r in rows(gradebook_csv(entries))[1:]}
    assert {r[2] for r in book.values()} == {outcome}
    assert all(cell == "" for r in book.values() for cell in r[3:-1])  # no points, no total
    assert canvas_import(canvas_csv(entries, column="HW (1)", points_possible=25)) == {}
    worksheet = moodle_csv(entries, points_possible=25, now=NOW)
    assert moodle_import(worksheet, {"4411": 25.0}) == {}
    assert rows(worksheet)[1][10] == f"Not graded: {outcome} (invalid JSON at line 1)"
    assert blackboard_import(blackboard_csv(entries, title="HW", points_possible=25)) == ("", {})
    files = render_submission(
        entries[0].result, view="student", reveals={}, failure=entries[0].not_graded
    )
    prairielearn = json.loads(files["prairielearn.json"])
    assert prairielearn["gradable"] is False
    assert prairielearn["message"] == f"Not graded: {outcome} (invalid JSON at line 1)"
    report = render_class_report(entries, title="HW", budget="smoke")
    assert report.count(f"{outcome} (invalid JSON at line 1)") == 4
    assert "Mean " not in report  # no score to average: none is a 0


@pytest.mark.usefixtures("hand_in")
def test_a_batch_writes_a_file_that_is_no_notebook_as_not_graded(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("fake")["outcome"] = "not_a_notebook"
    run(tmp_path / "hand-in", tmp_path / "out")
    book = rows((tmp_path / "out" / "gradebook.csv").read_text())
    assert {(r[2], r[-2]) for r in book[1:]} == {("not_a_notebook", "")}
    prairielearn = json.loads((tmp_path / "out" / "ada" / "prairielearn.json").read_text())
    assert prairielearn["gradable"] is False and prairielearn["score"] == 0
