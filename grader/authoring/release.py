"""``grader release``: the student notebook, made from the instructor's solution notebook.

In the solution, each part students write sits between two marker lines in a code cell::

    ### BEGIN SOLUTION
    model = Sequential(...)
    ### END SOLUTION

Release replaces each region with ``### Your code goes here ###``. Every other code cell is
*locked*: its checksum goes into the notebook's metadata with the assignment id, and Jupyter is
asked not to let it be edited or deleted. At grading, :mod:`grader.authoring.locked_cells`
restores any locked cell a student changed anyway, and says so in the result.
"""

from __future__ import annotations

import copy
import hashlib
import typing as t
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.corpus.words import generate_corpus_id

from grader.exceptions import ReleaseError
from grader.notebook import METADATA_KEY, read_notebook

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
YOUR_CODE = "### Your code goes here ###"


@dataclass(frozen=True)
class Released:
    """What ``release`` wrote."""

    path: Path
    assignment: str
    student_cells: int
    """Code cells with solution regions, now left for students to complete."""
    locked_cells: int


def checksum(source: str) -> str:
    """The digest stored for a locked cell (of its source with line endings normalised)."""
    return hashlib.sha256(source.replace("\r\n", "\n").encode()).hexdigest()


def strip_solutions(source: str, where: str = "cell") -> str | None:
    """``source`` with each solution region replaced by the "your code" line; None if none.

    Raises:
        ReleaseError: a region is not closed, or an END comes without a BEGIN.
    """
    out: list[str] = []
    inside, found = False, False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ReleaseError(f"{where}: {BEGIN} inside another solution region")
            inside, found = True, True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + YOUR_CODE)
        elif marker == END:
            if not inside:
                raise ReleaseError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: {BEGIN} is never closed with {END}")
    return "\n".join(out) + ("\n" if source.endswith("\n") else "") if found else None


def release(
    solution: nbformat.NotebookNode, *, assignment: str | None = None
) -> tuple[nbformat.NotebookNode, int, int]:
    """The student notebook for ``solution`` (which is not modified).

    Cell ids are kept (and created where the solution has none), so a submission's cells can
    be matched with the released ones.

    Returns:
        The student notebook, and the numbers of student and locked cells.
    """
    nb = copy.deepcopy(solution)
    assignment_id = assignment or nb.metadata.get(METADATA_KEY, {}).get("assignment")
    if not isinstance(assignment_id, str):
        raise ReleaseError(
            "the solution notebook names no assignment in its metadata; pass --assignment"
        )
    nb.nbformat_minor = max(nb.nbformat_minor, 5)  # cell ids exist from nbformat 4.5
    locked: list[dict[str, t.Any]] = []
    students = 0
    for index, cell in enumerate(nb.cells):
        cell.setdefault("id", generate_corpus_id())  # type: ignore[no-untyped-call]
        if cell.cell_type != "code":
            continue
        stripped = strip_solutions(cell.source, f"cell {index}")
        if stripped is not None:
            cell.source = stripped
            cell.outputs, cell.execution_count = [], None
            students += 1
            continue
        cell.outputs, cell.execution_count = [], None
        # Jupyter honours these flags; students can still edit the JSON, hence the checksums.
        cell.metadata.update(editable=False, deletable=False)
        locked.append({"id": cell.id, "index": index, "sha256": checksum(cell.source)})
    nb.metadata[METADATA_KEY] = {"assignment": assignment_id, "locked": locked}
    return nb, students, len(locked)


def release_file(solution: Path, out: Path, *, assignment: str | None = None) -> Released:
    """Read ``solution``, write its student notebook to ``out``.

    Raises:
        NotANotebookError: ``solution`` is not a notebook.
        ReleaseError: unbalanced markers, or no assignment id.
    """
    from grader.results import write_atomic

    nb, students, locked = release(read_notebook(solution), assignment=assignment)
    if not students:
        raise ReleaseError(f"{solution}: no {BEGIN} ... {END} region; nothing to release")
    # nbformat.write ends files with a newline; the same bytes whichever way it was written.
    write_atomic(out, nbformat.writes(nb) + "\n")  # type: ignore[no-untyped-call]
    return Released(out, nb.metadata[METADATA_KEY]["assignment"], students, locked)
