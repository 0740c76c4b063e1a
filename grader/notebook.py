"""Reading a notebook a student handed in, and the grader's metadata in it.

Light on purpose: ``grader release`` and the locked-cell logic need it without the grading
stack.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import nbformat

from grader.exceptions import InputError, InvalidNotebookError, NotANotebookError

METADATA_KEY = "grader"
"""The notebook metadata key holding the assignment id and the locked cells' checksums."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a submission.

    Raises:
        InputError: the path does not exist or is a folder.
        NotANotebookError: wrong suffix, not UTF-8 text, or not a JSON object.
        InvalidNotebookError: a JSON object (or text opening like one) that is corrupt or is
            not a valid nbformat 4 notebook.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the notebook file")
    if path.suffix != ".ipynb":
        raise NotANotebookError(path, f"the name ends in {path.suffix or 'nothing'!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NotANotebookError(path, "not UTF-8 text") from exc
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # A notebook cut short or edited by hand still opens like one; anything else is not one.
        # Whatever stops the parser (broken JSON, nesting deeper than Python's stack) is the
        # file's doing: a named outcome, graded once and cached, never a failure to retry.
        error = InvalidNotebookError if text.lstrip().startswith("{") else NotANotebookError
        raise error(path, _json_problem(exc)) from exc
    if not isinstance(raw, dict):
        raise NotANotebookError(path, f"JSON {type(raw).__name__}, not an object")
    try:
        nb: nbformat.NotebookNode = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types for a malformed file
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InvalidNotebookError(path, f"not nbformat 4: {first}") from exc
    return nb


def _json_problem(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno}"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read"
    return f"unreadable JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"


def grader_metadata(nb: nbformat.NotebookNode) -> dict[str, t.Any]:
    """The grader's metadata in a notebook (empty when it has none)."""
    value = nb.metadata.get(METADATA_KEY, {})
    return value if isinstance(value, dict) else {}


def assignment_of(nb: nbformat.NotebookNode) -> str | None:
    """The assignment id written into a released notebook's metadata, if any."""
    value = grader_metadata(nb).get("assignment")
    return value if isinstance(value, str) else None
