"""Every row of the bad-input table (docs/results.md), through the command line: one line,
exit 2, no traceback, and nothing graded, calibrated or built first (issue 25, item 5).

The rows are read from the documentation, so a row added there without a case here (or the other way
round) fails :func:`test_every_documented_row_has_a_case`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from tests.conftest import EXAMPLES, ROOT

NOTEBOOK = EXAMPLES / "full_marks.ipynb"
GRADE = ["--assignment", "cifar10_transfer", "--budget", "smoke", "-j", "1"]


def documented_rows() -> dict[tuple[str, str], tuple[str, int]]:
    """``(bad input, command)``: ``(what the line says, exit code)``, from docs/results.md."""
    results = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    table = results[results.index("| bad input | command |") :].split("\n\n", 1)[0]
    rows: dict[tuple[str, str], tuple[str, int]] = {}
    for line in table.splitlines()[2:]:
        bad, commands, says, code = (c.strip() for c in line.strip("|").split(" | "))
        for command in re.findall(r"`([\w -]+)`", commands) or [commands]:
            rows[(bad, command)] = (says.strip("`"), int(code))
    return rows


def zipped(members: dict[str, bytes]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / "class.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return path

    return make


def damaged_zip(tmp: Path) -> Path:
    # A real zip whose member's bytes were damaged in transit: the CRC no longer matches.
    path = zipped({"ada.ipynb": NOTEBOOK.read_bytes()})(tmp)
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def a_file(tmp: Path) -> Path:
    path = tmp / "results"
    path.write_text("not a folder")
    return path


def under_a_file(tmp: Path) -> Path:
    return a_file(tmp) / "out"


# Nobody, root included, can create a file in /proc, and os.access says root may: only a
# real write finds it.
UNWRITABLE = Path("/proc")

Args = Callable[[Path], list[str]]


def grade_out(out: Callable[[Path], Path]) -> Args:
    return lambda tmp: ["grade", str(NOTEBOOK), *GRADE, "--out", str(out(tmp))]


def grade_source(source: Callable[[Path], Path]) -> Args:
    return lambda tmp: ["grade", str(source(tmp)), *GRADE, "--out", str(tmp / "out")]


def kit_out(out: Callable[[Path], Path]) -> Args:
    return lambda tmp: ["kit", "build", "cifar10_transfer", "--out", str(out(tmp))]


def check_copy(edit: Callable[[dict[str, t.Any]], None] | None = None) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
        if edit is not None:
            edit(nb)
        path = tmp / "hw.ipynb"
        path.write_text(json.dumps(nb), encoding="utf-8")
        return path

    return make


def not_a_notebook(tmp: Path) -> Path:
    path = tmp / "hw.ipynb"
    path.write_text("print('a .py renamed')\n")
    return path


def class_file_taken(tmp: Path) -> Path:
    (tmp / "out" / "gradebook.csv").mkdir(parents=True)
    return tmp / "out"


def no_grader_metadata(nb: dict[str, t.Any]) -> None:
    del nb["metadata"]["grader"]


def not_a_result(tmp: Path) -> list[str]:
    path = tmp / "result.json"
    path.write_text('{"score": 3}')
    return ["report", str(path)]


CASES: dict[tuple[str, str], Args] = {
    ("a submission that does not exist", "grade"): grade_source(lambda d: d / "gone.ipynb"),
    ("a submission that does not exist", "check"): lambda d: ["check", str(d / "gone.ipynb")],
    ("a folder with no `.ipynb` in it", "grade"): grade_source(lambda d: d),
    ("a zip with no `.ipynb` in it", "grade"): grade_source(zipped({"notes.txt": b"hi"})),
    ("an empty zip", "grade"): grade_source(zipped({})),
    ("a damaged zip, or a file named `.zip` that is not one", "grade"): grade_source(damaged_zip),
    ("a zip with a path outside itself (`../x.ipynb`)", "grade"): grade_source(
        zipped({"../x.ipynb": b"{}"})
    ),
    ("`--out` is a file", "grade"): grade_out(a_file),
    ("`--out` is a file", "kit build"): kit_out(a_file),
    ("`--out` cannot be created (below a file, in `/proc`)", "grade"): grade_out(under_a_file),
    ("`--out` cannot be created (below a file, in `/proc`)", "kit build"): kit_out(
        lambda d: UNWRITABLE / "grader-out"
    ),
    ("`--out` is a folder nothing can be written in", "grade"): grade_out(lambda d: UNWRITABLE),
    ("`--out` is a folder nothing can be written in", "kit build"): kit_out(lambda d: UNWRITABLE),
    ("`--out` of the bundle in a folder nothing can be written in", "gradescope-bundle"): (
        lambda d: ["gradescope-bundle", "cifar10_transfer", "--out", str(UNWRITABLE / "a.zip")]
    ),
    ("an unknown assignment", "grade"): lambda d: ["grade", str(NOTEBOOK), "-a", "nope"],
    ("an unknown assignment", "check"): lambda d: [
        "check",
        str(check_copy()(d)),
        "-a",
        "nope",
    ],
    ("an unknown budget, a missing or malformed option", "every command"): lambda d: [
        "grade",
        str(NOTEBOOK),
        *GRADE,
        "--budget",
        "huge",
    ],
    ("a `--roster` that does not exist", "grade"): lambda d: [
        "grade",
        str(NOTEBOOK),
        *GRADE,
        "--out",
        str(d / "out"),
        "--roster",
        str(d / "r.csv"),
    ],
    ("a hand-in none of whose notebooks is named as the `--lms` platform names files", "grade"): (
        lambda d: [*grade_source(zipped({"hw.ipynb": NOTEBOOK.read_bytes()}))(d), "--lms", "canvas"]
    ),
    ("a `--blackboard-column` that is not a Grade Center Column ID", "grade"): lambda d: [
        *grade_source(lambda d: NOTEBOOK)(d),
        "--blackboard-column",
        "HW 3",
    ],
    (
        "an `--out` where a folder has the name of a class file (`gradebook.csv`, from an older "
        "grader)",
        "grade",
    ): grade_out(class_file_taken),
    ("a file that is not a notebook, or a damaged one", "check"): lambda d: [
        "check",
        str(not_a_notebook(d)),
        "--assignment",
        "cifar10_transfer",
    ],
    ("a notebook with no assignment id and no `--assignment`", "check"): lambda d: [
        "check",
        str(check_copy(no_grader_metadata)(d)),
    ],
    ("a notebook in a folder its report cannot be written to", "check"): lambda d: [
        "check",
        str(d / "read-only" / "hw.ipynb"),
        "--assignment",
        "cifar10_transfer",
    ],
    ("a file that is not a `result.json`", "report"): not_a_result,
    ("`--scheduler` where Dask (the `[dask]` extra) is not installed", "grade"): lambda d: [
        "grade",
        str(NOTEBOOK),
        *GRADE,
        "--out",
        str(d / "out"),
        "--scheduler",
        "tcp://127.0.0.1:1",
    ],
    ("the review desk where Flask (the `[review]` extra) is not installed", "review"): lambda d: [
        "review",
        str(d),
        "--no-browser",
    ],
}

MISSING_MODULE = {
    ("`--scheduler` where Dask (the `[dask]` extra) is not installed", "grade"): "distributed",
    ("the review desk where Flask (the `[review]` extra) is not installed", "review"): "flask",
}
"""The module each of these cases hides, as if its extra were not installed."""


@pytest.fixture
def read_only_folder(tmp_path: Path) -> t.Iterator[Path]:
    """A folder no file can be created in: its mode for a user, immutable for root."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "hw.ipynb").write_bytes(NOTEBOOK.read_bytes())
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    # Root ignores modes; an immutable folder (ext4, xfs, btrfs) holds root out too.
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root, and chattr +i is not available here")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


READ_ONLY_CASE = ("a notebook in a folder its report cannot be written to", "check")


def test_every_documented_row_has_a_case() -> None:
    assert set(documented_rows()) == set(CASES)


@pytest.fixture
def nothing_is_graded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grading, calibrating, preparing data, building a kit or a bundle fails the test."""

    def work(*args: object, **kwargs: object) -> t.NoReturn:
        raise AssertionError("work was done before the bad input was refused")

    for target in (
        "grader.batch.state.BatchState.grade",
        "grader.pipeline._data",
        "grader.pipeline.calibration",
        "grader.pipeline._run_and_judge",
        "grader.kit.build.build_kit",
        "grader.export.gradescope.build_bundle",
    ):
        monkeypatch.setattr(target, work)


@pytest.mark.parametrize("case", sorted(CASES), ids=[" / ".join(c) for c in sorted(CASES)])
def test_bad_input_is_one_line_and_exit_2_before_any_work(
    case: tuple[str, str],
    tmp_path: Path,
    nothing_is_graded: None,
    request: pytest.FixtureRequest,
) -> None:
    says, code = documented_rows()[case]
    if case == READ_ONLY_CASE:
        request.getfixturevalue("read_only_folder")
    if case in MISSING_MODULE:
        request.getfixturevalue("monkeypatch").setitem(sys.modules, MISSING_MODULE[case], None)
    result = CliRunner().invoke(main, CASES[case](tmp_path))
    output = result.output
    assert result.exit_code == code, output
    assert "Traceback" not in output and not isinstance(result.exception, AssertionError)
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert says in lines[0], output
