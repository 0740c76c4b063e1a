"""Every input kind through the real command line, as an instructor types it.

The unit tests of discovery call ``discover`` directly; these run ``python -m grader grade``
in a subprocess with the output folder the documentation shows, so a regression between
discovery and the batch (zips are extracted under ``--out``, which discovery skips) cannot hide. Two
notebooks are executed for real; the other kinds hand in the same bytes and are served from
the result cache, which exercises everything but the kernel.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.batch.test_discover import GRADESCOPE_METADATA
from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.notebook

GOLDENS = ROOT / "tests" / "goldens" / "cifar10_transfer"


def grade(
    cwd: Path, *sources: Path, out: Path | None = None
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``grader grade SOURCES --out OUT`` at the smoke budget, in this process's cache."""
    out = out or cwd / "out"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", *map(str, sources),
         "--assignment", "cifar10_transfer", "--out", str(out), "--budget", "smoke", "-j", "1"],
        capture_output=True, text=True, cwd=cwd, env=os.environ, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done


def scores(out: Path) -> dict[str, float]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as fh:
        return {row["student_id"]: float(row["total"]) for row in csv.DictReader(fh)}


def golden_score(example: str) -> float:
    return float(json.loads((GOLDENS / f"{example}.json").read_text())["score"])


@pytest.fixture(scope="module")
def examples() -> dict[str, bytes]:
    return {
        name: (EXAMPLES / f"{name}.ipynb").read_bytes() for name in ("full_marks", "not_frozen")
    }


def test_a_single_notebook(tmp_path: Path) -> None:
    notebook = tmp_path / "ada.ipynb"
    shutil.copy(EXAMPLES / "full_marks.ipynb", notebook)
    out, _ = grade(tmp_path, notebook)
    assert scores(out) == {"ada": golden_score("full_marks")}
    assert (out / "ada" / "result.json").is_file()


def test_a_canvas_zip_graded_into_the_readmes_output_folder(
    tmp_path: Path, examples: dict[str, bytes]
) -> None:
    """The LMS issue's first item: a Canvas download, extracted under --out, is graded."""
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("student0_1000_5000_transfer.ipynb", examples["not_frozen"])
        zf.writestr("turing_LATE_1001_5001_transfer.ipynb", examples["full_marks"])
    out, done = grade(tmp_path, archive)
    assert scores(out) == {
        "1000": golden_score("not_frozen"),
        "1001": golden_score("full_marks"),
    }
    assert "no .ipynb files" not in done.stderr
    # No --canvas-column: Canvas would import the scores as a new assignment; say so.
    assert "NEW assignment" in done.stderr
    with zipfile.ZipFile(out / "canvas_feedback.zip") as feedback:
        assert sorted(feedback.namelist()) == [
            "student0_1000_5000_report.html",
            "turing_LATE_1001_5001_report.html",
        ]
    # The grader's own copies under out/ never count as submissions on the next run.
    _, again = grade(tmp_path, archive)
    assert "2 submissions" in again.stdout and "2 already done" in again.stdout


def gradescope_export(root: Path, examples: dict[str, bytes]) -> Path:
    export = root / "assignment_42_export"
    for folder, example in (("submission_101", "full_marks"), ("submission_102", "not_frozen")):
        (export / folder).mkdir(parents=True)
        (export / folder / "transfer.ipynb").write_bytes(examples[example])
    (export / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    return export


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_a_gradescope_export(tmp_path: Path, examples: dict[str, bytes], packed: bool) -> None:
    export = gradescope_export(tmp_path / "download", examples)
    source = export
    if packed:
        source = tmp_path / "export.zip"
        with zipfile.ZipFile(source, "w") as zf:
            for path in export.rglob("*"):
                if path.is_file():
                    zf.write(path, path.relative_to(export.parent).as_posix())
    out, _ = grade(tmp_path, source)
    assert scores(out) == {
        "2001": golden_score("full_marks"),
        "2002": golden_score("not_frozen"),
    }


def test_a_plain_folder_with_the_output_folder_inside_it(
    tmp_path: Path, examples: dict[str, bytes]
) -> None:
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    (hand_in / "zoe.ipynb").write_bytes(examples["full_marks"])
    (hand_in / "amir.ipynb").write_bytes(examples["not_frozen"])
    (hand_in / "notes.txt").write_text("not a notebook")
    out, done = grade(tmp_path, hand_in, out=hand_in / "out")
    assert scores(out) == {
        "amir": golden_score("not_frozen"),
        "zoe": golden_score("full_marks"),
    }
    assert "ignored (not notebooks): notes.txt" in done.stdout


def test_a_moodle_download(tmp_path: Path, examples: dict[str, bytes]) -> None:
    archive = tmp_path / "HW3-42-submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "Ada Lovelace_4411_assignsubmission_file_/transfer.ipynb", examples["full_marks"]
        )
        zf.writestr("Jürgen Müller_4412_assignsubmission_file_/hw.ipynb", examples["not_frozen"])
    out, _ = grade(tmp_path, archive)
    assert scores(out) == {"4411": golden_score("full_marks"), "4412": golden_score("not_frozen")}
    with (out / "moodle.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["Identifier"], r["Full name"]) for r in rows] == [
        ("Participant 4411", "Ada Lovelace"),
        ("Participant 4412", "Jürgen Müller"),
    ]
    assert float(rows[0]["Grade"]) == golden_score("full_marks")


def test_an_nbgrader_course(tmp_path: Path, examples: dict[str, bytes]) -> None:
    course = tmp_path / "course"
    for student, example in (("ada", "full_marks"), ("bob", "not_frozen")):
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        (folder / "ps1.ipynb").write_bytes(examples[example])
        (folder / "timestamp.txt").write_text("2024-03-01 10:00:00.000000 UTC")
    out, _ = grade(tmp_path, course)
    assert scores(out) == {"ada": golden_score("full_marks"), "bob": golden_score("not_frozen")}
