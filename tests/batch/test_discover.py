"""Finding a class's submissions: plain folders, Canvas zips, Gradescope exports, rosters."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest

from grader.batch.discover import discover
from grader.exceptions import InputError
from grader.export.layout import safe_id
from grader.export.roster import read_roster
from tests.conftest import EXAMPLES

NOTEBOOK = (EXAMPLES / "full_marks.ipynb").read_bytes()

GRADESCOPE_METADATA = """\
submission_101:
  :submitters:
  - :name: Ada Lovelace
    :sid: '2001'
    :email: ada@example.edu
  :created_at: 2024-03-01 10:00:00.000000000 -08:00
  :score: 0.0
  :history: []
submission_102:
  :submitters:
  - :name: Alan Turing
    :sid: '2002'
    :email: alan@example.edu
  :created_at: !ruby/object:ActiveSupport::TimeWithZone
    utc: 2024-03-01 19:00:00.000000000 Z
  :score: 0.0
"""


def test_plain_folder_uses_file_stems_and_lists_other_files(tmp_path: Path) -> None:
    (tmp_path / "zoe.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "amir.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "notes.txt").write_text("not a notebook")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "zoe-checkpoint.ipynb").write_bytes(NOTEBOOK)
    found = discover([tmp_path], tmp_path / "staging")
    assert [s.student_id for s in found.submissions] == ["amir", "zoe"]
    assert {s.origin for s in found.submissions} == {"folder"}
    assert found.ignored == ["notes.txt"]


def test_canvas_zip_names_give_the_canvas_user_id(tmp_path: Path) -> None:
    hand_in = tmp_path / "submissions.zip"
    with zipfile.ZipFile(hand_in, "w") as zf:
        zf.writestr("lovelace_12345_67890_transfer.ipynb", NOTEBOOK)
        zf.writestr("turing_LATE_23456_78901_hw3-1.ipynb", NOTEBOOK)
        zf.writestr("hopper_34567_89012_answers.py", "print(1)")
        zf.writestr("__MACOSX/._lovelace_12345_67890_transfer.ipynb", b"\0")
    found = discover([hand_in], tmp_path / "staging")
    assert [(s.student_id, s.origin) for s in found.submissions] == [
        ("12345", "canvas"),
        ("23456", "canvas"),
    ]
    assert found.ignored == ["hopper_34567_89012_answers.py"]
    # Extracted once: the same zip again reuses the folder, so a resumed batch sees the same files.
    again = discover([hand_in], tmp_path / "staging")
    assert [s.path for s in again.submissions] == [s.path for s in found.submissions]
    assert len(list((tmp_path / "staging").iterdir())) == 1


def test_gradescope_export_reads_ids_and_names_from_metadata(tmp_path: Path) -> None:
    root = tmp_path / "assignment_42_export"
    for folder in ("submission_101", "submission_102", "submission_103"):
        (root / folder).mkdir(parents=True)
    (root / "submission_101" / "hw.ipynb").write_bytes(NOTEBOOK)
    (root / "submission_102" / "Transfer.ipynb").write_bytes(NOTEBOOK)
    (root / "submission_102" / "extra.pdf").write_bytes(b"%PDF")
    (root / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in root.rglob("*"):
            if path.is_file():
                zf.write(path, path.relative_to(tmp_path).as_posix())
    for source in (root, archive):
        found = discover([source], tmp_path / "staging")
        assert [(s.student_id, s.name, s.origin) for s in found.submissions] == [
            ("2001", "Ada Lovelace", "gradescope"),
            ("2002", "Alan Turing", "gradescope"),
        ]
        assert found.ignored == ["submission_102/extra.pdf"]


def test_zip_with_a_path_outside_the_staging_folder_is_refused(tmp_path: Path) -> None:
    hand_in = tmp_path / "evil.zip"
    with zipfile.ZipFile(hand_in, "w") as zf:
        zf.writestr("../../escaped.ipynb", NOTEBOOK)
    with pytest.raises(InputError, match=re.escape("unsafe path '../../escaped.ipynb'")):
        discover([hand_in], tmp_path / "staging")
    assert not (tmp_path / "escaped.ipynb").exists()


def test_broken_zip_and_missing_source_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable zip file"):
        discover([tmp_path / "broken.zip"], tmp_path / "staging")
    with pytest.raises(InputError, match="no such file"):
        discover([tmp_path / "absent"], tmp_path / "staging")


def test_duplicate_ids_are_made_unique(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(EXAMPLES / "full_marks.ipynb", tmp_path / folder / "hw.ipynb")
    found = discover([tmp_path / "a", tmp_path / "b"], tmp_path / "staging")
    assert [s.student_id for s in found.submissions] == ["hw", "hw-2"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12345", "12345"), ("a b/../c", "a_b_.._c"), ("..", "submission"), (" x.y ", "x.y")],
)
def test_safe_id_never_escapes_the_output_folder(raw: str, expected: str) -> None:
    assert safe_id(raw) == expected


def test_roster_reads_a_canvas_export_and_skips_points_possible(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,HW 3 (991)\n"
        "    Points Possible,,,,,100\n"
        '"Lovelace, Ada",12345,S-1,ada,Section A,\n'
    )
    entries = read_roster(roster)
    assert list(entries) == ["12345"]
    ada = entries["12345"]
    assert (ada.name, ada.sis_user_id, ada.sis_login_id, ada.section) == (
        "Lovelace, Ada",
        "S-1",
        "ada",
        "Section A",
    )


def test_roster_without_an_id_column_says_what_it_needs(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("who,what\nada,1\n")
    with pytest.raises(InputError, match="no id column"):
        read_roster(roster)
