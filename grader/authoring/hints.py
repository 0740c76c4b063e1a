"""Student hints say what is wrong and where to look; they never give the solution's code.

The code a hint must not contain is read from the solution notebook's solution regions
(``### BEGIN SOLUTION`` ... ``### END SOLUTION``; without regions, its code that the student
notebook does not hold): every line of them, and every call in them
(``Dense(128, activation='relu')``, ``model.compile(...)``), compared with spacing and quote
style ignored. A rubric's ``fix`` (instructor view only) may hold any of it.
"""

from __future__ import annotations

import ast
import re

from grader.authoring.release import BEGIN, END
from grader.notebook import read_notebook
from grader.rubric import Assignment

MIN_FRAGMENT = 12
"""Shorter fragments (``x / 255``, ``Flatten()``) are words a hint may need, not solutions."""


def solution_regions(source: str) -> list[str]:
    """The code inside each solution region of a cell's source.

    Example:
        >>> solution_regions("a = 1\\n### BEGIN SOLUTION\\nb = f(a)\\n### END SOLUTION\\n")
        ['b = f(a)']
    """
    regions: list[str] = []
    current: list[str] | None = None
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            current = []
        elif marker == END and current is not None:
            regions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return regions


def code_fragments(code: str) -> set[str]:
    """Normalised lines and calls of ``code`` at least :data:`MIN_FRAGMENT` characters long.

    Example:
        >>> sorted(code_fragments("m.add(Dense(128, activation='relu'))"))
        ['dense(128,activation="relu")', 'm.add(dense(128,activation="relu"))']
    """
    found = {normalise(line) for line in code.splitlines() if not line.strip().startswith("#")}
    try:
        tree = ast.parse(_dedent_region(code))
    except SyntaxError:
        tree = None
    if tree is not None:
        found |= {
            normalise(ast.unparse(node)) for node in ast.walk(tree) if isinstance(node, ast.Call)
        }
    return {f for f in found if len(f) >= MIN_FRAGMENT}


def normalise(text: str) -> str:
    """Lower case, no spaces, double quotes: how a fragment is compared."""
    return re.sub(r"\s+", "", text).replace("'", '"').lower()


def hint_leaks(spec: Assignment) -> list[str]:
    """One line per student hint that contains code of the solution notebook's solutions."""
    fragments = solution_fragments(spec)
    problems = []
    for check in spec.checks:
        hint = normalise(check.hint)
        leaked = sorted(f for f in fragments if f in hint)
        if leaked:
            problems.append(
                f"{check.id}: the student hint gives the solution's code ({leaked[0]}); "
                "say what is wrong and where to look, and move the code to `fix`"
            )
    return problems


def solution_fragments(spec: Assignment) -> set[str]:
    """The code of the solution notebook's solution regions; in a notebook without regions,
    the code of its cells that the student notebook does not also hold."""
    if not spec.solution_notebook.is_file():
        return set()
    cells = [c.source for c in read_notebook(spec.solution_notebook).cells if c.cell_type == "code"]
    regions = [r for source in cells for r in solution_regions(source)]
    if regions:
        return {f for r in regions for f in code_fragments(r)}
    given: set[str] = set()
    if spec.student_notebook.is_file():
        student = read_notebook(spec.student_notebook).cells
        given = {f for c in student if c.cell_type == "code" for f in code_fragments(c.source)}
    return {f for source in cells for f in code_fragments(source)} - given


def _dedent_region(code: str) -> str:
    lines = [line for line in code.splitlines() if line.strip()]
    indent = min((len(line) - len(line.lstrip()) for line in lines), default=0)
    return "\n".join(line[indent:] for line in code.splitlines())
