"""grader release and locked cells at grading: no kernel needed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.authoring.locked_cells import restore_locked
from grader.authoring.release import YOUR_CODE, checksum, release, strip_solutions
from grader.cli import main
from grader.exceptions import ReleaseError
from grader.rubric.load import assignments_root

RELEASED = ["vgg19_finetune", "mnist_transfer", "cifar10_transfer_v2"]


def solution() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("Intro"),
        new_code_cell("import keras\n"),
        new_code_cell("x = 1\n### BEGIN SOLUTION\nmodel = keras.Sequential()\n### END SOLUTION\n"),
        new_code_cell("model.fit(x)\n"),
    ]
    for i, cell in enumerate(cells):
        cell.id = f"c{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["grader"] = {"assignment": "demo"}
    return nb


def test_release_strips_solutions_and_locks_every_other_code_cell() -> None:
    original = solution()
    student, n_students, n_locked = release(original)
    assert (n_students, n_locked) == (1, 2)
    assert student.cells[2].source == f"x = 1\n{YOUR_CODE}\n"
    assert "BEGIN SOLUTION" in original.cells[2].source  # the solution is not modified
    meta = student.metadata["grader"]
    assert meta["assignment"] == "demo"
    assert meta["locked"] == [
        {"id": "c1", "index": 1, "sha256": checksum("import keras\n")},
        {"id": "c3", "index": 3, "sha256": checksum("model.fit(x)\n")},
    ]
    assert student.cells[1].metadata["editable"] is False
    assert "editable" not in student.cells[2].metadata


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ],
    ids=["unclosed", "end-without-begin", "nested"],
)
def test_unbalanced_markers_are_named_errors(source: str, expected: str) -> None:
    with pytest.raises(ReleaseError, match=expected):
        strip_solutions(source, "cell 4")


def test_release_without_an_assignment_id_asks_for_one() -> None:
    nb = solution()
    del nb.metadata["grader"]
    with pytest.raises(ReleaseError, match="--assignment"):
        release(nb)
    assert release(nb, assignment="other")[0].metadata["grader"]["assignment"] == "other"


def test_release_command_writes_the_student_notebook(tmp_path: Path) -> None:
    src = tmp_path / "solution.ipynb"
    nbformat.write(solution(), src)
    out = tmp_path / "student.ipynb"
    result = CliRunner().invoke(main, ["release", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 cell(s) to complete, 2 locked" in result.output
    assert nbformat.read(out, as_version=4).metadata["grader"]["assignment"] == "demo"
    bad = tmp_path / "bad.ipynb"
    nb = solution()
    nb.cells[2].source = "### BEGIN SOLUTION\n"
    nbformat.write(nb, bad)
    result = CliRunner().invoke(main, ["release", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "never closed" in result.output


@pytest.mark.parametrize("name", RELEASED)
def test_shipped_student_notebooks_are_the_release_of_their_solutions(name: str) -> None:
    folder = assignments_root() / name
    expected, _, _ = release(nbformat.read(folder / "solution.ipynb", as_version=4))
    student = nbformat.read(folder / "student.ipynb", as_version=4)
    assert [c.source for c in student.cells] == [c.source for c in expected.cells]
    assert student.metadata["grader"] == expected.metadata["grader"]


def test_an_edited_locked_cell_is_restored_with_what_changed() -> None:
    template = release(solution())[0]
    submission = nbformat.from_dict(template)
    submission.cells[3].source = "model.fit(x, epochs=1)\n"
    submission.cells[2].source = "x = 1\nmodel = 3\n"  # student cell: theirs to edit
    restored, changes = restore_locked(submission, template)
    assert [(c.cell_id, c.change) for c in changes] == [("c3", "edited")]
    assert "-model.fit(x)" in changes[0].diff and "+model.fit(x, epochs=1)" in changes[0].diff
    assert restored.cells[3].source == "model.fit(x)\n"
    assert restored.cells[2].source == "x = 1\nmodel = 3\n"
    assert submission.cells[3].source == "model.fit(x, epochs=1)\n"  # input left alone


def test_a_deleted_locked_cell_is_put_back_where_it_was() -> None:
    template = release(solution())[0]
    submission = nbformat.from_dict(template)
    del submission.cells[1]
    restored, changes = restore_locked(submission, template)
    assert [(c.cell_id, c.change, c.index) for c in changes] == [("c1", "deleted", 1)]
    assert [c.id for c in restored.cells] == ["c0", "c1", "c2", "c3"]


def test_untouched_notebooks_and_templates_without_locks_change_nothing() -> None:
    template = release(solution())[0]
    assert restore_locked(nbformat.from_dict(template), template)[1] == []
    unlocked = solution()
    edited = nbformat.from_dict(unlocked)
    edited.cells[1].source = "import os\n"
    assert restore_locked(edited, unlocked)[1] == []


def test_a_notebook_with_new_cell_ids_is_matched_by_content() -> None:
    """Copied into a fresh notebook, cells get new ids; unchanged locked cells still count."""
    template = release(solution())[0]
    submission = nbformat.from_dict(template)
    for i, cell in enumerate(submission.cells):
        cell.id = f"new{i}"
    assert restore_locked(submission, template)[1] == []
    submission.cells[3].source = "model.fit(x, epochs=1)\n"
    restored, changes = restore_locked(submission, template)
    assert [(c.cell_id, c.change) for c in changes] == [("c3", "deleted")]
    # Put back after the cell that precedes it in the release (found by content).
    assert [c.source for c in restored.cells[3:5]] == ["model.fit(x)\n", "model.fit(x, epochs=1)\n"]
