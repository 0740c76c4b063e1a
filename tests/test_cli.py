"""Bad input gets one line naming the problem and a documented exit code, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.exceptions import NotANotebookError
from grader.notebook import read_notebook
from tests.conftest import EXAMPLES, ROOT


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


BAD_FILES = {
    "not-ipynb": ("hw.txt", b"print(1)", "not a Jupyter notebook (the name ends in '.txt')"),
    "text": ("hw.ipynb", b"print(1)\n", "not a Jupyter notebook (invalid JSON at line 1)"),
    "empty": ("hw.ipynb", b"", "not a Jupyter notebook (invalid JSON at line 1)"),
    "json-list": ("hw.ipynb", b"[1, 2]", "not a Jupyter notebook (JSON list, not an object)"),
    "binary": ("hw.ipynb", b"\xff\xfe\x00", "not UTF-8 text"),
    "corrupt-json": ("hw.ipynb", b'{"cells": [', "invalid JSON at line 1"),
    "not-nbformat": ("hw.ipynb", b'{"cells": 3}', "not a Jupyter notebook (not nbformat 4"),
}
INVALID = {"corrupt-json", "not-nbformat"}


@pytest.mark.parametrize("kind", sorted(BAD_FILES), ids=sorted(BAD_FILES))
def test_a_bad_file_is_named_not_a_notebook_or_invalid(tmp_path: Path, kind: str) -> None:
    name, content, expected = BAD_FILES[kind]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NotANotebookError) as info:
        read_notebook(path)
    assert expected in str(info.value)
    assert info.value.outcome == ("invalid_notebook" if kind in INVALID else "not_a_notebook")
    # grader check: one line, exit code 2, no traceback.
    status, output = run("check", str(path), "--assignment", "cifar10_transfer")
    assert status == 2 and expected in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing.ipynb", "no such file"),
        (lambda d: d, "no .ipynb files in this folder"),
    ],
    ids=["missing", "empty-folder"],
)
def test_a_missing_submission_stops_grade_with_one_line(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    path = make(tmp_path)
    status, output = run(
        "grade", str(path), "--assignment", "cifar10_transfer", "--out", str(tmp_path / "out")
    )
    assert status == 2
    assert expected in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


def test_unknown_assignment(tmp_path: Path) -> None:
    status, output = run("grade", str(EXAMPLES / "full_marks.ipynb"), "-a", "nope")
    assert status == 2 and "unknown assignment 'nope'; choose one of: " in output
    assert "cifar10_transfer," in output


def test_unknown_budget_is_a_usage_error() -> None:
    status, output = run(
        "grade", str(EXAMPLES / "full_marks.ipynb"), "-a", "cifar10_transfer", "--budget", "huge"
    )
    assert status == 2 and "'huge' is not one of 'smoke', 'standard', 'full'" in output


def test_check_without_assignment_metadata_asks_for_it(tmp_path: Path) -> None:
    nb = json.loads((EXAMPLES / "full_marks.ipynb").read_text())
    del nb["metadata"]["grader"]
    path = tmp_path / "hw.ipynb"
    path.write_text(json.dumps(nb))
    status, output = run("check", str(path))
    assert status == 2 and "no assignment id in its metadata; pass --assignment" in output


def test_schema_lists_every_result_field() -> None:
    status, output = run("schema")
    schema = json.loads(output)
    assert status == 0
    assert {
        "assignment",
        "submission",
        "score",
        "max_score",
        "checks",
        "cells",
        "budget",
        "data",
        "seed",
        "timings",
        "versions",
    } <= set(schema["properties"])
    check = schema["properties"]["checks"]["items"]
    assert check["properties"]["status"]["enum"] == ["pass", "fail", "error", "not_judged"]
    assert "description" in check["properties"]["fix"]
    assert "description" in check["properties"]["hint"]


def test_python_dash_m_and_console_script_work() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "grader", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "grade" in out and "check" in out
    script = Path(sys.executable).parent / "grader"
    assert (
        subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
        .stdout.strip()
        .endswith("0.1.0")
    )


RESULTS = ROOT / "tests" / "files" / "results"


def test_report_renders_a_result_for_each_view(tmp_path: Path) -> None:
    source = tmp_path / "result.json"
    result = json.loads((RESULTS / "not_frozen.json").read_text())
    frozen = next(c for c in result["checks"] if c["id"] == "transfer.frozen")
    frozen["hidden"] = True
    source.write_text(json.dumps(result))

    code, out = run("report", str(source), "--view", "student", "--format", "html")
    assert code == 0, out
    student = (tmp_path / "student.report.html").read_text()
    code, out = run("report", str(source), "--view", "instructor", "--format", "md")
    assert code == 0, out
    instructor = (tmp_path / "instructor.report.md").read_text()
    secret = "layer 1 (conv2d) is trainable"
    assert secret not in student and "Hidden check" in student
    assert secret in instructor and "hidden from students" in instructor

    code, out = run("report", str(source), "--view", "student")  # text, to the terminal
    assert code == 0 and "transfer.frozen" in out and secret not in out
    assert "Student view" in out and "≠ trainable" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "no such file"), ("{}", "not a grader result.json"), ("[1", "not a grader")],
    ids=["missing", "not-a-result", "invalid-json"],
)
def test_report_refuses_what_is_not_a_result(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "result.json"
    if content is not None:
        path.write_text(content)
    code, out = run("report", str(path))
    assert code == 2 and expected in out and "Traceback" not in out
