"""A file the JSON parser cannot read, for any reason, is a named outcome, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.exceptions import InvalidNotebookError, NotANotebookError
from grader.lookalikes.finder import read_notebook_cells
from grader.notebook import read_notebook

DEPTH = 50_000


def test_json_nested_past_the_stack_is_an_invalid_notebook(tmp_path: Path) -> None:
    path = tmp_path / "deep.ipynb"
    path.write_text('{"cells": ' + "[" * DEPTH + "]" * DEPTH + ', "nbformat": 4}')
    with pytest.raises(InvalidNotebookError, match="nested too deeply") as info:
        read_notebook(path)
    assert info.value.outcome == "invalid_notebook"
    # The look-alike finder reads the same file as "no cells" instead of stopping.
    assert read_notebook_cells(path) == []


def test_a_deep_json_list_is_not_a_notebook(tmp_path: Path) -> None:
    path = tmp_path / "list.ipynb"
    path.write_text("[" * DEPTH + "]" * DEPTH)
    with pytest.raises(NotANotebookError, match="nested too deeply") as info:
        read_notebook(path)
    assert info.value.outcome == "not_a_notebook"
