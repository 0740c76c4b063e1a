"""Hostile hand-ins (issue 23.2): a student who has read discover.py names files to take a
classmate's id, to hide a notebook under nbgrader's layout, to stop the batch, or to be graded
on the bundle's solution. Each attack beside the classmate it targets, who keeps the notebook
they would have had alone."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from grader.batch.discover import discover
from grader.batch.submission import Submission
from grader.exceptions import InputError
from grader.export.layout import is_reserved
from grader.lookalikes import finder
from grader.review import db as review_db
from tests.batch.test_lms_discover import EXPECTED, NOTEBOOK, scratch, zip_of
from tests.batch.test_run import fake, run  # noqa: F401 (a fixture)

BOB = scratch("cifar10_transfer")  # Bob's own work: the released notebook, his answers
ATTACK = json.dumps({**json.loads(NOTEBOOK), "attacker": True}).encode()


def graded(found: list[Submission]) -> dict[str, str]:
    return {s.student_id: s.path.name for s in found}


def solo(tmp_path: Path, members: dict[str, bytes], student: str) -> bytes:
    """The notebook ``student`` gets graded when the hand-in holds only their own files."""
    hand_in = zip_of(tmp_path / f"solo-{student}.zip", members)
    (sub,) = [s for s in discover([hand_in], tmp_path / "solo").submissions]
    assert sub.student_id == student
    return sub.path.read_bytes()


def test_blackboard_a_later_upload_cannot_become_a_classmates_latest_attempt(
    tmp_path: Path,
) -> None:
    bob = {"HW 3_bob_attempt_2024-03-01-11-00-00_hw.ipynb": BOB}
    hand_in = zip_of(
        tmp_path / "gradebook.zip",
        {
            "HW 3_alice_attempt_2024-03-01-10-00-00_hw.ipynb": NOTEBOOK,
            # Alice's second upload, named x_bob_attempt_2099-12-31-23-59-59_hw.ipynb by her:
            # Blackboard writes its own prefix before it.
            "HW 3_alice_attempt_2024-03-02-10-00-00_x_bob_attempt_2099-12-31-23-59-59_hw.ipynb": (
                ATTACK
            ),
            **bob,
        },
    )
    found = discover([hand_in], tmp_path / "staging", expected=EXPECTED)
    assert graded(found.submissions) == {
        "alice": "HW 3_alice_attempt_2024-03-02-10-00-00_x_bob_attempt_2099-12-31-23-59-59"
        "_hw.ipynb",
        "bob": "HW 3_bob_attempt_2024-03-01-11-00-00_hw.ipynb",
    }
    mine = next(s for s in found.submissions if s.student_id == "bob")
    assert mine.path.read_bytes() == solo(tmp_path, bob, "bob")


@pytest.mark.parametrize("receipts", [True, False])
def test_blackboard_usernames_with_underscores_are_whole(tmp_path: Path, receipts: bool) -> None:
    members = {
        "HW 3_mary_obrien_attempt_2024-03-01-10-00-00_hw.ipynb": NOTEBOOK,
        "HW 3_jsmith_attempt_2024-03-01-11-00-00_hw.ipynb": BOB,
    }
    if receipts:
        members["HW 3_mary_obrien_attempt_2024-03-01-10-00-00.txt"] = (
            b"Name: Mary O'Brien (mary_obrien)\nAssignment: HW 3\n"
        )
    found = discover([zip_of(tmp_path / "g.zip", members)], tmp_path / "staging")
    assert sorted(graded(found.submissions)) == ["jsmith", "mary_obrien"]


def test_blackboard_one_student_with_underscores_is_read_from_the_receipt(tmp_path: Path) -> None:
    """A class of one: only the receipt tells the assignment's name from the username."""
    members = {
        "HW_3_mary_obrien_attempt_2024-03-01-10-00-00_hw.ipynb": NOTEBOOK,
        "HW_3_mary_obrien_attempt_2024-03-01-10-00-00.txt": b"Name: M O'Brien (mary_obrien)\n",
    }
    found = discover([zip_of(tmp_path / "g.zip", members)], tmp_path / "staging")
    assert graded(found.submissions) == {
        "mary_obrien": "HW_3_mary_obrien_attempt_2024-03-01-10-00-00_hw.ipynb"
    }


def test_nbgrader_a_submitted_folder_inside_a_hand_in_names_nobody(tmp_path: Path) -> None:
    course = tmp_path / "course"
    for student, data in (("alice", NOTEBOOK), ("bob", BOB)):
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        (course / "submitted" / student / "ps1" / "ps1.ipynb").write_bytes(data)
    nested = course / "submitted" / "alice" / "ps1" / "submitted" / "bob" / "ps1"
    nested.mkdir(parents=True)
    (nested / "cifar10_transfer.ipynb").write_bytes(ATTACK)  # the expected name, even
    found = discover([course], tmp_path / "staging", expected=EXPECTED)
    assert graded(found.submissions) == {"alice": "ps1.ipynb", "bob": "ps1.ipynb"}
    bob = next(s for s in found.submissions if s.student_id == "bob")
    assert bob.path.read_bytes() == BOB
    assert (
        "submitted/alice/ps1/submitted/bob/ps1/cifar10_transfer.ipynb "
        "(not in nbgrader's submitted/)" in found.ignored
    )


def test_canvas_a_file_in_moodle_or_blackboard_shape_keeps_its_canvas_owner(
    tmp_path: Path,
) -> None:
    bob = {"bob_23456_503_hw.ipynb": BOB}
    hand_in = zip_of(
        tmp_path / "submissions.zip",
        {
            # Alice's uploads, named by her in Moodle's and Blackboard's shapes with Bob's id.
            "alice_11111_501_Bob_23456_assignsubmission_file_hw.ipynb": ATTACK,
            "alice_11111_502_HW 3_23456_attempt_2099-01-01-00-00-00_hw.ipynb": ATTACK,
            **bob,
            "carol_33333_504_hw.ipynb": NOTEBOOK,
        },
    )
    found = discover([hand_in], tmp_path / "staging", expected=EXPECTED)
    ids = graded(found.submissions)
    assert sorted(ids) == ["11111", "23456", "33333"]
    assert ids["23456"] == "bob_23456_503_hw.ipynb"
    assert {s.origin for s in found.submissions} == {"canvas"}
    mine = next(s for s in found.submissions if s.student_id == "23456")
    assert mine.path.read_bytes() == solo(tmp_path, bob, "23456")


@pytest.mark.parametrize(
    ("layout", "named"),
    [
        ("folder", ["gradebook.csv.ipynb", "batch.json.ipynb", "Index.HTML.ipynb", "ada.ipynb"]),
        (
            "blackboard",
            [
                "HW 3_gradebook.csv_attempt_2024-03-01-10-00-00_hw.ipynb",
                "HW 3_batch.json_attempt_2024-03-01-10-00-00_hw.ipynb",
                "HW 3_ada_attempt_2024-03-01-10-00-00_hw.ipynb",
            ],
        ),
    ],
)
@pytest.mark.usefixtures("fake")
def test_an_id_named_like_a_class_file_cannot_stop_the_batch(
    tmp_path: Path, layout: str, named: list[str]
) -> None:
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    for name in named:
        (hand_in / name).write_bytes(NOTEBOOK)
    summary = run(hand_in, tmp_path / "out")
    out = tmp_path / "out"
    for name in ("gradebook.csv", "canvas.csv", "index.html", "batch.json"):
        assert (out / name).is_file()
    # Every file the batch put beside the submission folders is a name no id can take.
    assert all(is_reserved(p.name) for p in out.iterdir() if p.is_file())
    assert is_reserved(review_db.FILENAME) and is_reserved(finder.FILENAME)
    ids = sorted(e.student_id for e in summary.entries)
    assert "ada" in ids and all(not (out / i).is_file() for i in ids)
    assert "student-gradebook.csv" in ids and "student-batch.json" in ids
    if layout == "blackboard":
        # The LMS file keys the row by the username Blackboard wrote.
        assert '"gradebook.csv"' in (out / "blackboard.csv").read_text()
    ada = json.loads((out / "ada" / "result.json").read_text())
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / named[-1]).write_bytes(NOTEBOOK)
    run(alone, tmp_path / "out-alone")
    assert ada == json.loads((tmp_path / "out-alone" / "ada" / "result.json").read_text())


@pytest.mark.usefixtures("fake")
def test_a_class_file_taken_by_an_older_folder_is_refused_before_any_work(
    tmp_path: Path,
) -> None:
    (tmp_path / "hand-in").mkdir()
    (tmp_path / "hand-in" / "ada.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "out" / "gradebook.csv").mkdir(parents=True)
    with pytest.raises(InputError, match="remove it"):
        run(tmp_path / "hand-in", tmp_path / "out")
    assert not (tmp_path / "out" / "ada").exists()


def test_one_student_hand_in_never_follows_a_link_to_the_solution(tmp_path: Path) -> None:
    """Gradescope's /autograder/submission: a notebook that is a link to the bundle's
    solution.ipynb is not read (the grader runs as root there)."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "solution.ipynb").write_bytes(NOTEBOOK)
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "cifar10_transfer.ipynb").symlink_to(source / "solution.ipynb")
    with pytest.raises(InputError, match=r"no \.ipynb files"):
        discover([submission], tmp_path / "staging", expected=EXPECTED, single=True)
    (submission / "mine.ipynb").write_bytes(scratch())
    found = discover([submission], tmp_path / "staging", expected=EXPECTED, single=True)
    assert graded(found.submissions) == {"submission": "mine.ipynb"}
    assert found.ignored == ["cifar10_transfer.ipynb (a symbolic link: not read)"]


def test_hand_in_files_are_read_without_following_links(tmp_path: Path) -> None:
    """A file swapped for a link after it was found is still not read."""
    from grader.batch.submission import read_handin

    (tmp_path / "real.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "real.ipynb")
    os.mkfifo(tmp_path / "pipe.ipynb")
    assert read_handin(tmp_path / "real.ipynb") == NOTEBOOK
    with pytest.raises(InputError, match="not a link"):
        read_handin(tmp_path / "link.ipynb")
    with pytest.raises(InputError, match="not a regular file"):
        read_handin(tmp_path / "pipe.ipynb")
    found = discover([tmp_path], tmp_path / "staging")
    assert graded(found.submissions) == {"real": "real.ipynb"}
    assert sorted(found.ignored) == [
        "link.ipynb (a symbolic link: not read)",
        "pipe.ipynb (a special file: not read)",
    ]


def test_lms_option_reads_every_file_with_that_platforms_naming_only(tmp_path: Path) -> None:
    members = {"ada_12345_678_hw.ipynb": NOTEBOOK, "notes.ipynb": NOTEBOOK}
    hand_in = zip_of(tmp_path / "s.zip", members)
    # Auto: one Canvas name against one plain name is a plain folder (no id from a name).
    found = discover([hand_in], tmp_path / "staging")
    assert sorted(graded(found.submissions)) == ["ada_12345_678_hw", "notes"]
    found = discover([hand_in], tmp_path / "staging", lms="canvas")
    assert graded(found.submissions) == {"12345": "ada_12345_678_hw.ipynb"}
    assert found.ignored == ["notes.ipynb (not named as Canvas names its files)"]
    with pytest.raises(InputError, match="unknown"):
        discover([hand_in], tmp_path / "staging", lms="sakai")


def test_many_uploads_in_another_platforms_shape_cannot_change_the_platform(
    tmp_path: Path,
) -> None:
    """A student can make Canvas' naming fit any number of their own Blackboard files, never a
    classmate's: the platform is the one whose naming fits every notebook."""
    bob = {"HW 3_bob_attempt_2024-03-01-11-00-00_hw.ipynb": BOB}
    forged = {
        f"HW 3_alice_attempt_2024-03-02-10-00-0{i}_x_23456_99{i}_hw.ipynb": ATTACK for i in range(5)
    }
    found = discover([zip_of(tmp_path / "g.zip", {**forged, **bob})], tmp_path / "staging")
    assert sorted(graded(found.submissions)) == ["alice", "bob"]
    mine = next(s for s in found.submissions if s.student_id == "bob")
    assert mine.path.read_bytes() == solo(tmp_path, bob, "bob")


def test_a_blackboard_download_that_also_reads_as_canvas_is_blackboard(tmp_path: Path) -> None:
    """Assignment HW_3 and numeric usernames: every name also has Canvas' two numbers."""
    members = {
        "HW_3_20231234_attempt_2024-03-01-10-00-00_hw.ipynb": NOTEBOOK,
        "HW_3_20235678_attempt_2024-03-01-11-00-00_hw.ipynb": BOB,
    }
    found = discover([zip_of(tmp_path / "g.zip", members)], tmp_path / "staging")
    assert sorted(graded(found.submissions)) == ["20231234", "20235678"]
    assert {s.origin for s in found.submissions} == {"blackboard"}


def test_zip_members_are_extracted_as_files_never_as_links(tmp_path: Path) -> None:
    """zipfile writes a member's bytes, never a link it describes: a link stored in an LMS zip
    cannot point discovery at a file outside the hand-in."""
    from grader.batch.submission import read_handin

    info = zipfile.ZipInfo("ada_1_2_hw.ipynb")
    info.external_attr = 0o120777 << 16  # a symbolic link, as `zip --symlinks` stores one
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        zf.writestr(info, "/etc/passwd")
        zf.writestr("bob_3_4_hw.ipynb", NOTEBOOK)
    found = discover([tmp_path / "s.zip"], tmp_path / "staging")
    ada = next(s for s in found.submissions if s.student_id == "1")
    assert not ada.path.is_symlink() and read_handin(ada.path) == b"/etc/passwd"
