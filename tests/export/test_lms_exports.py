"""Each LMS's import file checked against its documented format: header, keys, types, escaping."""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
from pathlib import Path

from grader.batch.entry import BatchEntry
from grader.export.blackboard import blackboard_csv
from grader.export.canvas import canvas_csv, canvas_warnings, write_feedback_zip
from grader.export.class_outputs import write_class_outputs
from grader.export.moodle import MOODLE_COLUMNS, moodle_csv
from grader.report.render import render_html
from tests.export.test_exports import FROZEN_FAILS, PASSED, result

STAGING = "/out/.inputs/submissions-abc"
MOODLE = "/out/.inputs/m/Ada Lovelace_4411_assignsubmission_file_/hw.ipynb"


def entry(sid: str, source: str, status: str = "graded", name: str = "") -> BatchEntry:
    statuses = FROZEN_FAILS if status == "failed" else PASSED
    return BatchEntry(
        sid,
        name,
        status,  # type: ignore[arg-type]
        result(sid, statuses),
        1.0,
        reason="the kernel died" if status == "failed" else "",
        source=source,
    )


CANVAS = [
    entry("12345", f"{STAGING}/müllerjürgen_12345_67890_hw.ipynb"),
    entry("23456", f"{STAGING}/王小明_LATE_23456_78901_hw.ipynb", status="failed"),
    entry("anon_x7Kq9", f"{STAGING}/anon_x7Kq9_99001_hw.ipynb"),
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
    path = write_feedback_zip(
        [*CANVAS, *others], tmp_path, report=lambda r: render_html(r, "student")
    )
    assert path == tmp_path / "canvas_feedback.zip"
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        report = zf.read("müllerjürgen_12345_67890_report.html").decode()
    # The anonymous one has no result.json here; the plain-folder one is not from Canvas.
    assert names == ["müllerjürgen_12345_67890_report.html", "王小明_LATE_23456_78901_report.html"]
    # Canvas reads the user id and the attachment id as the first two all-digit parts.
    for name in names:
        digits = [p for p in name.split("_") if p.isdigit()][:2]
        assert digits in (["12345", "67890"], ["23456", "78901"])
    assert report == render_html(hidden, "student")
    assert report != render_html(hidden, "instructor")
    # No Canvas submission left: an older zip is removed rather than re-imported by mistake.
    assert write_feedback_zip(others, tmp_path, report=render_html) is None
    assert not path.exists()


def test_moodle_worksheet_has_identifier_grade_and_escaped_feedback() -> None:
    entries = [
        entry("4411", MOODLE, name="Ada Lovelace"),
        entry("4412", "/m/=Evil <b>_4412_assignsubmission_file_/hw.ipynb", status="failed"),
        entry("zoe", "/hand-in/zoe.ipynb"),
    ]
    failed = dataclasses.replace(entries[1], reason="<script>alert(1)</script>")
    table = rows(moodle_csv([entries[0], failed, entries[2]], points_possible=25))
    assert tuple(table[0]) == MOODLE_COLUMNS
    assert len(table) == 3  # the plain-folder submission has no participant id
    ada, evil = table[1], table[2]
    assert ada[:4] == ["Participant 4411", "Ada Lovelace", "25", "25"]
    assert ada[4] == "Autograded 25/25."
    assert evil[0] == "Participant 4412" and evil[1] == "'=Evil <b>" and evil[2] == ""
    assert evil[4] == "Not graded: &lt;script&gt;alert(1)&lt;/script&gt;"
    partial = entry("4413", MOODLE.replace("4411", "4413"))
    partial = dataclasses.replace(partial, result=result("4413", FROZEN_FAILS))
    (row,) = rows(moodle_csv([partial], points_possible=25))[1:]
    assert row[2] == "10" and "title of transfer.frozen (0/15)" in row[4]


def test_blackboard_upload_is_keyed_by_username() -> None:
    entries = [
        entry("jsmith", "/x/HW 3_jsmith_attempt_2024-03-02-09-00-00_hw.ipynb", name="Smith, J"),
        entry("mchen", "/x/HW 3_mchen_attempt_2024-03-01-11-00-00_hw.ipynb", status="failed"),
        entry("zoe", "/hand-in/zoe.ipynb"),
    ]
    table = rows(blackboard_csv(entries, title="HW 3", points_possible=25))
    assert table == [
        ["Last Name", "First Name", "Username", "HW 3 [Total Pts: 25 Score]"],
        ["Smith", "J", "jsmith", "25"],
        ["", "", "mchen", ""],
    ]


def test_class_outputs_write_only_the_lms_files_the_hand_in_calls_for(tmp_path: Path) -> None:
    for e in CANVAS:
        e.result.write(tmp_path / e.student_id / "result.json")
    common = {"title": "HW", "budget": "smoke", "canvas_column": "HW (1)", "points_possible": 25}
    paths = write_class_outputs(CANVAS, tmp_path, **common)  # type: ignore[arg-type]
    assert set(paths) == {"gradebook", "canvas", "report", "canvas_feedback"}
    moodle = [entry("4411", MOODLE)]
    (tmp_path / "4411").mkdir()
    paths = write_class_outputs(moodle, tmp_path, **common)  # type: ignore[arg-type]
    assert set(paths) == {"gradebook", "canvas", "report", "moodle"}
    assert not (tmp_path / "canvas_feedback.zip").exists()
