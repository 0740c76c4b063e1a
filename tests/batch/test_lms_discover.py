"""Hand-ins shaped as each LMS really produces them: Canvas, Moodle, nbgrader, Blackboard,
Gradescope; one notebook per student."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePath

import pytest

from grader.batch.choose import Expected, expected_notebook
from grader.batch.discover import discover
from grader.batch.lms_names import canvas_owner, moodle_owner
from grader.rubric.load import load_assignment
from tests.batch.test_discover import GRADESCOPE_METADATA
from tests.conftest import EXAMPLES

NOTEBOOK = (EXAMPLES / "full_marks.ipynb").read_bytes()
EXPECTED = expected_notebook(load_assignment("cifar10_transfer"))


def scratch(assignment: str = "") -> bytes:
    """A notebook that is not the released one (another assignment, or none, in its metadata)."""
    data = json.loads(NOTEBOOK)
    data["metadata"] = {"grader": {"assignment": assignment}} if assignment else {}
    return json.dumps(data).encode()


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "student", "file_name", "late"),
    [
        ("müllerjürgen_12345_67890_hw.ipynb", "12345", "hw.ipynb", False),
        ("王小明_LATE_23456_78901_作业-1.ipynb", "23456", "作业-1.ipynb", True),
        ("de_la_cruzmaria_34567_89012_my_hw_2.ipynb", "34567", "my_hw_2.ipynb", False),
        ("anon_x7Kq9_99001_hw.ipynb", "anon_x7Kq9", "hw.ipynb", False),
        # Canvas writes LATE before the anonymous id (ContentZipper#get_filename:
        # [name, "LATE", id].compact.join("_"), the name left out when anonymous).
        ("LATE_anon_x7Kq9_99002_hw.ipynb", "anon_x7Kq9", "hw.ipynb", True),
        ("LATE_anon_x7Kq9_99002_my_hw_2.ipynb", "anon_x7Kq9", "my_hw_2.ipynb", True),
        ("LATE_12345_99003_hw.ipynb", "12345", "hw.ipynb", True),
        ("12345_99004_hw.ipynb", "12345", "hw.ipynb", False),
        # A student named Anon, graded openly: Canvas reads the all-digit parts back.
        ("anon_12345_99005_hw.ipynb", "12345", "hw.ipynb", False),
        ("o'brienseán_45678_90123_hw (1).ipynb", "45678", "hw (1).ipynb", False),
    ],
)
def test_canvas_names_parse_as_canvas_reads_them(
    name: str, student: str, file_name: str, late: bool
) -> None:
    owner = canvas_owner(PurePath(name))
    assert owner is not None
    assert (owner.student_id, owner.file_name, owner.late) == (student, file_name, late)


@pytest.mark.parametrize(
    "name", ["hw3.ipynb", "week_3_hw.ipynb", "12345_67890.ipynb", "a_1_b_2.ipynb"]
)
def test_names_canvas_never_writes_are_not_canvas(name: str) -> None:
    assert canvas_owner(PurePath(name)) is None


def test_canvas_zip_non_ascii_anonymous_late_one_row_per_student(tmp_path: Path) -> None:
    hand_in = zip_of(
        tmp_path / "submissions.zip",
        {
            "müllerjürgen_12345_67890_hw.ipynb": NOTEBOOK,
            # The same student uploaded twice; the later upload (larger attachment id) is
            # graded unless only one of them is the released notebook.
            "王小明_LATE_23456_78901_transfer.ipynb": NOTEBOOK,
            "王小明_LATE_23456_78950_transfer-1.ipynb": NOTEBOOK,
            # A scratch notebook beside the assignment: the released one is graded.
            "anon_x7Kq9_99002_scratch.ipynb": scratch("mnist_transfer"),
            "anon_x7Kq9_99001_student.ipynb": NOTEBOOK,
        },
    )
    found = discover([hand_in], tmp_path / "staging", expected=EXPECTED)
    graded = {s.student_id: (s.path.name, s.late) for s in found.submissions}
    assert graded == {
        "12345": ("müllerjürgen_12345_67890_hw.ipynb", False),
        "23456": ("王小明_LATE_23456_78950_transfer-1.ipynb", True),
        "anon_x7Kq9": ("anon_x7Kq9_99001_student.ipynb", False),
    }
    assert {s.origin for s in found.submissions} == {"canvas"}
    assert sorted(found.set_aside) == [
        "anon_x7Kq9_99002_scratch.ipynb (student anon_x7Kq9: "
        "anon_x7Kq9_99001_student.ipynb is graded)",
        "王小明_LATE_23456_78901_transfer.ipynb (student 23456: "
        "王小明_LATE_23456_78950_transfer-1.ipynb is graded)",
    ]


def test_expected_name_wins_over_a_later_upload(tmp_path: Path) -> None:
    hand_in = zip_of(
        tmp_path / "s.zip",
        {
            "ada_1_10_Student-2.ipynb": scratch(),
            "ada_1_20_notes.ipynb": scratch(),
        },
    )
    found = discover([hand_in], tmp_path / "staging", expected=EXPECTED)
    assert [s.path.name for s in found.submissions] == ["ada_1_10_Student-2.ipynb"]
    # Without an expectation the later upload is graded.
    found = discover([hand_in], tmp_path / "staging")
    assert [s.path.name for s in found.submissions] == ["ada_1_20_notes.ipynb"]


def test_moodle_download_in_folders_and_flat(tmp_path: Path) -> None:
    hand_in = zip_of(
        tmp_path / "HW3-12-submissions.zip",
        {
            "Ada Lovelace_4411_assignsubmission_file_/transfer.ipynb": NOTEBOOK,
            "Ada Lovelace_4411_assignsubmission_file_/scratch.ipynb": scratch(),
            "Ada Lovelace_4411_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
            "Jürgen Müller_4412_assignsubmission_file_/hw.ipynb": NOTEBOOK,
            "Participant_4413_assignsubmission_file_hw.ipynb": NOTEBOOK,
        },
    )
    found = discover([hand_in], tmp_path / "staging", expected=EXPECTED)
    assert [(s.student_id, s.name, s.path.name, s.origin) for s in found.submissions] == [
        ("4411", "Ada Lovelace", "transfer.ipynb", "moodle"),
        ("4412", "Jürgen Müller", "hw.ipynb", "moodle"),
        ("4413", "Participant", "Participant_4413_assignsubmission_file_hw.ipynb", "moodle"),
    ]
    assert found.set_aside == ["scratch.ipynb (student 4411: transfer.ipynb is graded)"]
    assert found.ignored == ["Ada Lovelace_4411_assignsubmission_onlinetext_/onlinetext.html"]
    owner = moodle_owner(PurePath("Team-Ada Lovelace_7_assignsubmission_file_/a/b.ipynb"))
    assert owner is not None and (owner.student_id, owner.file_name) == ("7", "a/b.ipynb")


@pytest.mark.parametrize("point_at", ["course", "submitted"])
def test_nbgrader_submitted_tree(tmp_path: Path, point_at: str) -> None:
    course = tmp_path / "course"
    for student, nb in (("ada", "ps1.ipynb"), ("jürgen", "ps1.ipynb"), ("bob", "ps1.ipynb")):
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        (folder / nb).write_bytes(NOTEBOOK)
        (folder / "timestamp.txt").write_text("2024-03-01 10:00:00")
    (course / "submitted" / "bob" / "ps1" / "ps1-copy.ipynb").write_bytes(scratch())
    # nbgrader's own later stages hold the same layout; they are not hand-ins.
    (course / "autograded" / "ada" / "ps1").mkdir(parents=True)
    (course / "autograded" / "ada" / "ps1" / "ps1.ipynb").write_bytes(NOTEBOOK)
    source = course if point_at == "course" else course / "submitted"
    found = discover([source], tmp_path / "staging", expected=EXPECTED)
    graded = [(s.student_id, s.path.name, s.origin) for s in found.submissions]
    assert graded == [
        ("ada", "ps1.ipynb", "nbgrader"),
        ("bob", "ps1.ipynb", "nbgrader"),
        ("jürgen", "ps1.ipynb", "nbgrader"),
    ]
    assert found.set_aside == ["ps1-copy.ipynb (student bob: ps1.ipynb is graded)"]
    if point_at == "course":
        assert "autograded/ada/ps1/ps1.ipynb (not in nbgrader's submitted/)" in found.ignored


def test_blackboard_download_keeps_the_latest_attempt(tmp_path: Path) -> None:
    hand_in = zip_of(
        tmp_path / "gradebook.zip",
        {
            "HW 3_jsmith_attempt_2024-03-01-10-00-00_hw.ipynb": NOTEBOOK,
            "HW 3_jsmith_attempt_2024-03-02-09-00-00_hw.ipynb": NOTEBOOK,
            "HW 3_jsmith_attempt_2024-03-02-09-00-00.txt": b"Name: J Smith",
            "HW 3_mchen_attempt_2024-03-01-11-00-00_Transfer.ipynb": NOTEBOOK,
        },
    )
    found = discover([hand_in], tmp_path / "staging")
    assert [(s.student_id, s.path.name, s.origin) for s in found.submissions] == [
        ("jsmith", "HW 3_jsmith_attempt_2024-03-02-09-00-00_hw.ipynb", "blackboard"),
        ("mchen", "HW 3_mchen_attempt_2024-03-01-11-00-00_Transfer.ipynb", "blackboard"),
    ]
    assert found.ignored == ["HW 3_jsmith_attempt_2024-03-02-09-00-00.txt"]


def test_gradescope_submission_with_two_notebooks_and_one_with_none(tmp_path: Path) -> None:
    root = tmp_path / "assignment_42_export"
    for folder in ("submission_101", "submission_102"):
        (root / folder).mkdir(parents=True)
    (root / "submission_101" / "a_scratch.ipynb").write_bytes(scratch())
    (root / "submission_101" / "transfer.ipynb").write_bytes(NOTEBOOK)
    (root / "submission_102" / "answers.pdf").write_bytes(b"%PDF")
    (root / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    found = discover([root], tmp_path / "staging", expected=EXPECTED)
    assert [(s.student_id, s.path.name) for s in found.submissions] == [("2001", "transfer.ipynb")]
    assert found.set_aside == ["a_scratch.ipynb (student 2001: transfer.ipynb is graded)"]
    assert found.ignored == ["submission_102/answers.pdf", "submission_102/ (no notebook)"]


def test_single_student_hand_in_grades_one_notebook(tmp_path: Path) -> None:
    """Gradescope's /autograder/submission: all notebooks are one student's."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.ipynb").write_bytes(scratch())
    (tmp_path / "sub" / "b.ipynb").write_bytes(NOTEBOOK)
    found = discover([tmp_path / "sub"], tmp_path / "staging", expected=EXPECTED, single=True)
    assert [(s.student_id, s.path.name) for s in found.submissions] == [("submission", "b.ipynb")]
    assert found.set_aside == ["a.ipynb (student submission: b.ipynb is graded)"]


def test_a_hostile_notebook_cannot_break_the_choice(tmp_path: Path) -> None:
    """Metadata that is not JSON, nested too deeply, or not a string ranks as 'not released'."""
    hand_in = zip_of(
        tmp_path / "s.zip",
        {
            "ada_1_30_a.ipynb": b"[" * 100_000,
            "ada_1_20_b.ipynb": json.dumps({"metadata": {"grader": {"assignment": [1]}}}).encode(),
            "ada_1_10_c.ipynb": NOTEBOOK,
        },
    )
    found = discover([hand_in], tmp_path / "staging", expected=Expected("cifar10_transfer"))
    assert [s.path.name for s in found.submissions] == ["ada_1_10_c.ipynb"]
