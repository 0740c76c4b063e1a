"""Find an assignment's ``assignment.toml`` and load it into :class:`~grader.rubric.Assignment`.

The tables are read and checked by :mod:`grader.rubric.parse`; a rubric is parsed once per
process for the same text at the same path.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from grader.course import course_root, find_course
from grader.exceptions import RubricError, UnknownAssignmentError
from grader.rubric import Assignment
from grader.rubric.parse import parse_tables


def assignments_root() -> Path:
    """Where assignment folders live: the course folder's ``assignments/``.

    Raises:
        CourseError: no course folder is configured (see :mod:`grader.course`).
    """
    return course_root() / "assignments"


def available() -> list[str]:
    """Ids of the assignments found under :func:`assignments_root` (none without a course)."""
    course = find_course()
    if course is None:
        return []
    root = course / "assignments"
    return sorted(p.parent.name for p in root.glob("*/assignment.toml"))


def load_assignment(name_or_path: str | Path) -> Assignment:
    """Load an assignment by id (``cifar10_transfer``) or by folder / ``assignment.toml`` path.

    Example:
        >>> a = load_assignment("cifar10_transfer")
        >>> a.checks[0].id
        'data.split'
    """
    toml_path = assignment_toml(name_or_path)
    return _parsed(toml_path.read_text(encoding="utf-8"), toml_path)


def assignment_toml(name_or_path: str | Path) -> Path:
    """The ``assignment.toml`` that :func:`load_assignment` reads for ``name_or_path``.

    Raises:
        UnknownAssignmentError: no such assignment (CourseError without a course folder).
    """
    path = Path(name_or_path)
    if path.name == "assignment.toml" and path.is_file():
        return path
    if (path / "assignment.toml").is_file():
        return path / "assignment.toml"
    if (
        find_course() is not None
        and (assignments_root() / str(name_or_path) / "assignment.toml").is_file()
    ):
        return assignments_root() / str(name_or_path) / "assignment.toml"
    course_root()  # without a course folder, say that rather than "unknown assignment"
    raise UnknownAssignmentError(str(name_or_path), available())


@functools.lru_cache(maxsize=32)
def _parsed(text: str, path: Path) -> Assignment:
    """:func:`parse_assignment`, once per process for the same text at the same path.

    A batch loads its rubric in the submitting process and again for every notebook a worker
    grades; the text is read each time (cheap) and parsed when it changed (an edited rubric is
    parsed again). The :class:`Assignment` is frozen, so every caller may share it.
    """
    return parse_assignment(text, path)


def parse_assignment(text: str, path: Path, *, check_files: bool = True) -> Assignment:
    """Parse the text of an ``assignment.toml`` that lives (or lived) at ``path``.

    ``check_files=False`` skips checking that the files ``[sandbox] files`` names exist: the
    judge parses the rubric it is sent without seeing the assignment's folder.

    Raises:
        RubricError: the text is not valid TOML or not a valid rubric.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(path, f"not valid TOML ({exc})") from exc
    return parse_tables(raw, path, check_files=check_files)
