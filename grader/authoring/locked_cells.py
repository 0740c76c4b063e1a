"""Cells students must not edit: found changed in a submission, reported, and restored.

The released student notebook (``grader release``) records a checksum for each locked cell.
The assignment's own copy of it is the authority: a submission's metadata could have been
edited along with its cells. A locked cell that is edited is graded with its released source;
one that is deleted is put back after the cell that preceded it. Cells are matched by id, and
failing that by content: a notebook rebuilt by copy and paste has new cell ids, so there an
edited locked cell can only be told apart as missing (the original is put back beside it).
"""

from __future__ import annotations

import copy
import difflib
import typing as t

import nbformat

from grader.authoring.release import checksum
from grader.notebook import grader_metadata
from grader.results import LockedCellChange


def locked_entries(template: nbformat.NotebookNode) -> list[dict[str, t.Any]]:
    """The released notebook's locked cells (``id``, ``index``, ``sha256``); [] if none."""
    entries = grader_metadata(template).get("locked", [])
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


def restore_locked(
    submission: nbformat.NotebookNode, template: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, list[LockedCellChange]]:
    """The submission with every locked cell as released, and what had been changed.

    Returns:
        A restored copy of the submission (the input is not modified) and the changes.
    """
    nb = copy.deepcopy(submission)
    originals = {cell.get("id"): (i, cell) for i, cell in enumerate(template.cells)}
    changes: list[LockedCellChange] = []
    for entry in locked_entries(template):
        if entry["id"] not in originals:
            continue
        index, original = originals[entry["id"]]
        position = _find(nb, entry["id"], entry["sha256"])
        if position is None:
            nb.cells.insert(_insertion_point(nb, template, index), _fresh(original))
            changes.append(LockedCellChange(entry["id"], index, "deleted", ""))
            continue
        cell = nb.cells[position]
        if cell.cell_type == "code" and checksum(cell.source) == entry["sha256"]:
            continue
        diff = "".join(
            difflib.unified_diff(
                original.source.splitlines(keepends=True),
                cell.source.splitlines(keepends=True),
                "released",
                "submitted",
                n=1,
            )
        )
        nb.cells[position] = _fresh(original)
        changes.append(LockedCellChange(entry["id"], index, "edited", diff))
    return nb, changes


def _find(nb: nbformat.NotebookNode, cell_id: str, digest: str) -> int | None:
    """The cell with this id; failing that, an unchanged copy of it under another id (a
    notebook rebuilt by copy and paste gets new ids, or none before nbformat 4.5)."""
    by_id = [i for i, c in enumerate(nb.cells) if c.get("id") == cell_id]
    by_content = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and checksum(c.source) == digest
    ]
    found = by_id or by_content
    return found[0] if found else None


def _fresh(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    restored = copy.deepcopy(cell)
    restored.outputs, restored.execution_count = [], None
    return restored


def _insertion_point(nb: nbformat.NotebookNode, template: nbformat.NotebookNode, index: int) -> int:
    """After the submission's copy of the nearest template cell before ``index``."""
    for previous in reversed(template.cells[:index]):
        found = _find(nb, previous.get("id"), checksum(previous.source))
        if found is not None:
            return found + 1
    return 0


def describe(change: LockedCellChange) -> str:
    """One notice line for the report."""
    if change.change == "deleted":
        return (
            f"Locked cell {change.index} (id {change.cell_id}) was deleted; it was put back "
            "and the notebook graded with it."
        )
    return (
        f"Locked cell {change.index} (id {change.cell_id}) was edited; it was graded as "
        f"released. What changed:\n{change.diff.rstrip()}"
    )
