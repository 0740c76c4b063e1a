"""A temporary folder too deep for the kernels' sockets is refused before any work, saying what
to do; one exactly as deep as they allow grades.

A Unix socket's address holds at most 107 bytes, and each kernel's sockets (and its relay's)
lie a few folders below the temporary folder: under a longer ``$TMPDIR`` (a cluster job's
scratch folder) every notebook failed with "could not start or talk to the notebook kernel".
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

from grader.cli import main
from grader.exceptions import TempFolderError
from grader.execute.environment import check_temp_folder
from grader.results import GradeResult
from grader.socket_path import MAX_ADDRESS, RELAY_SOCKET_TAIL, SANDBOX_SOCKET_TAIL
from tests.conftest import ROOT

DEEPEST = MAX_ADDRESS - max(SANDBOX_SOCKET_TAIL, RELAY_SOCKET_TAIL)
"""The longest temporary folder the kernels' sockets fit under, in bytes."""


@pytest.fixture
def base() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="t-", dir="/tmp") as folder:
        yield Path(folder)


def folder_of_length(base: Path, length: int) -> Path:
    """A new folder under ``base`` whose path is ``length`` bytes long."""
    path = base / ("d" * (length - len(str(base)) - 1))
    path.mkdir()
    assert len(os.fsencode(path)) == length
    return path


def use_temp(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)


def test_one_byte_too_deep_is_refused_with_what_to_do(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_temp(monkeypatch, folder_of_length(base, DEEPEST))
    check_temp_folder()
    too_deep = folder_of_length(base, DEEPEST + 1)
    use_temp(monkeypatch, too_deep)
    with pytest.raises(TempFolderError) as raised:
        check_temp_folder()
    assert raised.value.folder == str(too_deep)
    assert (raised.value.longest, raised.value.limit) == (MAX_ADDRESS + 1, MAX_ADDRESS)
    assert "set TMPDIR to a shorter folder" in raised.value.message


def test_grade_and_check_refuse_before_any_work(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_temp(monkeypatch, folder_of_length(base, DEEPEST + 1))
    notebook = tmp_path / "a.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("print(1)")]), notebook)
    out = tmp_path / "out"
    graded = CliRunner().invoke(
        main, ["grade", str(notebook), "-a", "cifar10_transfer", "--out", str(out)]
    )
    checked = CliRunner().invoke(main, ["check", str(notebook), "-a", "cifar10_transfer"])
    for run in (graded, checked):
        assert run.exit_code == TempFolderError.exit_code, run.output
        assert "too long for the kernels' sockets" in run.output
        assert "Traceback" not in run.output
    assert not out.exists()
    assert not (tmp_path / "a.report.html").exists()


@pytest.mark.notebook
def test_a_notebook_grades_under_the_deepest_folder_allowed(base: Path, tmp_path: Path) -> None:
    # Proves the bound is not too strict: the kernel and its relay bind their deepest sockets.
    notebook = tmp_path / "a.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("print('ran')")]), notebook)
    out = tmp_path / "out"
    env = {**os.environ, "TMPDIR": str(folder_of_length(base, DEEPEST)), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "grader", "grade", str(notebook), "-a", "cifar10_transfer"]
    done = subprocess.run(
        [*command, "--budget", "smoke", "--out", str(out), "-j", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = GradeResult.from_json((out / "a" / "result.json").read_text())
    assert result.outcome == "ok" and [c.status for c in result.cells] == ["ok"]
