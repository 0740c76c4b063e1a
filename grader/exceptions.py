"""Every error a user can meet, under one base class.

The CLI turns any :class:`GraderError` into a single line on stderr and the class's
``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from grader.results import Outcome


class GraderError(Exception):
    """Base of the errors a user can cause and fix.

    Subclasses set ``exit_code`` so the CLI can tell callers (an LMS, a script) what went
    wrong without parsing the message.
    """

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(GraderError):
    """A path the user gave does not exist or is not what it should be."""

    exit_code = 2


class NotANotebookError(InputError):
    """The file is not a Jupyter notebook (wrong suffix, not text, not a JSON object).

    ``grader check`` reports it as an error; ``grader grade`` records it as the submission's
    outcome (``outcome``) and goes on with the batch.
    """

    outcome: t.ClassVar[Outcome] = "not_a_notebook"

    @classmethod
    def from_path(cls, path: Path, why: str) -> NotANotebookError:
        return cls(f"{path}: not a Jupyter notebook ({why}); hand in the .ipynb file itself")


class InvalidNotebookError(NotANotebookError):
    """The file is meant to be a notebook but is corrupt: broken JSON, or not nbformat 4."""

    outcome: t.ClassVar[Outcome] = "invalid_notebook"

    @classmethod
    def from_path(cls, path: Path, why: str) -> InvalidNotebookError:
        return cls(
            f"{path}: not a Jupyter notebook ({why}); the file is damaged: "
            "save the notebook again in Jupyter and hand in that file"
        )


class UnknownAssignmentError(InputError):
    """No assignment folder with that id."""

    @classmethod
    def from_id(cls, assignment_id: str, known: list[str]) -> UnknownAssignmentError:
        choices = ", ".join(known) or "none found"
        return cls(f"unknown assignment {assignment_id!r}; choose one of: {choices}")


class RubricError(GraderError):
    """An assignment.toml is malformed: names the file, the key and what was expected."""

    exit_code = 3

    @classmethod
    def at(cls, path: Path, key: str, expected: str) -> RubricError:
        return cls(f"{path}: [{key}] {expected}")


class DataError(GraderError):
    """A data set on disk is missing pieces or is not in the official format."""

    exit_code = 4


class CalibrationError(GraderError):
    """The reference could not be trained to calibrate thresholds."""

    exit_code = 5


class ExecutionError(GraderError):
    """The notebook kernel could not be started at all (not a failing cell: those are graded)."""

    exit_code = 6


class SchedulerError(GraderError):
    """The Dask scheduler given with ``--scheduler`` could not be reached."""

    exit_code = 7


class ValidationError(GraderError):
    """``grader validate`` found an assignment whose solution, template or rubric disagree."""

    exit_code = 8


class ReviewError(GraderError):
    """The review desk cannot go on: its database is unreadable, or an output folder is not a
    graded class."""

    exit_code = 9


class ReviewConflictError(ReviewError):
    """A review decision changed elsewhere (another tab or session) since this page read it."""

    def __init__(self, message: str, *, current: int) -> None:
        super().__init__(message)
        self.current = current
