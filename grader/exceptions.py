"""Every error a user can meet, under one base class, each carrying its data.

The command line turns any :class:`GraderError` into a single line on stderr and the class's
``exit_code`` (``--verbose`` adds the traceback and ``details``); anything else is a bug and
keeps its traceback.
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

    exit_code: t.ClassVar[int] = 1

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        """One line saying what went wrong and what to do."""
        self.details = details
        """More, for ``--verbose``: a traceback from the kernel, a list of problems."""

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[t.Any, ...]:
        # Subclasses take their own arguments: rebuilt from the state, not by calling them, so
        # that an error raised in a worker process reaches the grader whole.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[GraderError], args: tuple[t.Any, ...], state: dict[str, t.Any]) -> t.Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InputError(GraderError):
    """A path or value the user gave does not exist or is not what it should be."""

    exit_code = 2


class NotANotebookError(InputError):
    """The file is not a Jupyter notebook (wrong suffix, not text, not a JSON object).

    ``grader check`` reports it as an error; ``grader grade`` records it as the submission's
    outcome (``outcome``) and goes on with the batch.
    """

    outcome: t.ClassVar[Outcome] = "not_a_notebook"
    advice: t.ClassVar[str] = "hand in the .ipynb file itself"

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        """The file, as the user named it."""
        self.reason = reason
        """Why it is not a notebook, e.g. ``invalid JSON at line 3``."""
        super().__init__(f"{path}: not a Jupyter notebook ({reason}); {self.advice}")

    def at(self, path: Path) -> NotANotebookError:
        """The same error about another name for the same file (a worker's copy, renamed)."""
        return type(self)(path, self.reason)


class InvalidNotebookError(NotANotebookError):
    """The file is meant to be a notebook but is corrupt: broken JSON, or not nbformat 4."""

    outcome: t.ClassVar[Outcome] = "invalid_notebook"
    advice = "the file is damaged: save the notebook again in Jupyter and hand in that file"


class OutputFolderError(InputError):
    """A folder results would be written to is a file, cannot be created or cannot be written.

    Raised before anything is graded, so a bad ``--out`` costs nothing.
    """

    def __init__(self, path: Path, reason: str, *, advice: str = "") -> None:
        self.path = path
        """The folder, as the user named it."""
        self.reason = reason
        """What is wrong, e.g. ``it is a file`` or ``cannot write in it: Permission denied``."""
        self.advice = advice or "give --out a folder you can write to (it is created if missing)"
        """What to do about it."""
        super().__init__(f"{path}: cannot hold the results ({reason}); {self.advice}")


class ArchiveError(InputError):
    """A zip handed in as a class's submissions is empty, damaged or unsafe to extract."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        """The zip, as the user named it."""
        self.reason = reason
        """What is wrong with it, e.g. ``it holds no files``."""
        super().__init__(f"{path}: {reason}; download it from the LMS again")


class CourseError(InputError):
    """No course folder was found, or the one named is not a course folder."""


class KitError(InputError):
    """A student kit is malformed, or lacks what this self-check needs."""


class UnknownAssignmentError(InputError):
    """No assignment folder with that id."""

    def __init__(self, assignment_id: str, known: t.Sequence[str]) -> None:
        self.assignment_id = assignment_id
        self.known = list(known)
        choices = ", ".join(known) or "none found"
        super().__init__(f"unknown assignment {assignment_id!r}; choose one of: {choices}")


class RubricError(GraderError):
    """An assignment.toml is malformed: names the file, the key and what was expected."""

    exit_code = 3

    def __init__(self, path: Path, problem: str, *, key: str = "") -> None:
        self.path = path
        self.key = key
        """The TOML key, e.g. ``checks[2].params.model`` (empty: the whole file)."""
        self.problem = problem
        super().__init__(f"{path}: [{key}] {problem}" if key else f"{path}: {problem}")

    @classmethod
    def at(cls, path: Path, key: str, expected: str) -> RubricError:
        """A problem with one key."""
        return cls(path, expected, key=key)


class DataError(GraderError):
    """A data set on disk is missing pieces or is not in the official format."""

    exit_code = 4


class CalibrationError(GraderError):
    """The reference could not be trained to calibrate thresholds."""

    exit_code = 5


class ExecutionError(GraderError):
    """The notebook kernel could not be started at all (not a failing cell: those are graded)."""

    exit_code = 6


class KernelEnvironmentError(ExecutionError):
    """The Python a rubric's ``[execution]`` names for the kernel cannot run its notebooks: it
    does not start, has no ipykernel, or lacks a package the rubric declares."""

    def __init__(self, python: str, why: str, *, missing: t.Sequence[str] = ()) -> None:
        self.python = python
        """The interpreter checked."""
        self.missing = tuple(missing)
        """The declared packages it lacks."""
        super().__init__(f"the kernel's Python {python} {why}")


class TempFolderError(ExecutionError):
    """The temporary folder's path is too long for the kernel's sockets: a Unix socket's
    address holds at most 107 bytes, and each kernel's sockets lie a few folders below it."""

    def __init__(self, folder: str, longest: int, limit: int) -> None:
        self.folder = folder
        """The temporary folder (``$TMPDIR``, else the system's)."""
        self.longest = longest
        """The longest socket path a kernel would need under it, in bytes."""
        self.limit = limit
        """The most a socket's path may hold, in bytes."""
        super().__init__(
            f"the temporary folder {folder} is too long for the kernels' sockets "
            f"({longest} bytes where at most {limit} fit): set TMPDIR to a shorter folder, "
            "e.g. export TMPDIR=/tmp"
        )


class SchedulerError(GraderError):
    """The Dask scheduler given with ``--scheduler`` could not be reached."""

    exit_code = 7

    def __init__(self, address: str, why: str) -> None:
        self.address = address
        super().__init__(
            f"cannot reach the Dask scheduler at {address} ({why}); "
            "start it with `dask scheduler` or check the address"
        )


class MissingExtraError(InputError):
    """A command or option needs a package of an extra that is not installed (``[dask]`` for
    ``--scheduler``, ``[review]`` for the review desk)."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature = feature
        """What was asked for, e.g. ``--scheduler``."""
        self.extra = extra
        """The extra that brings it, e.g. ``dask``."""
        super().__init__(
            f"{feature} needs {module}, which is not installed: "
            f"pip install 'keras-notebook-grader[{extra}]'"
        )


class ValidationError(GraderError):
    """``grader validate`` found an assignment whose solution, template or rubric disagree."""

    exit_code = 8

    def __init__(self, assignment_id: str, problems: t.Sequence[str]) -> None:
        self.assignment_id = assignment_id
        self.problems = list(problems)
        super().__init__(
            f"{assignment_id}: {len(problems)} problem(s), listed above",
            details="\n".join(f"- {p}" for p in problems),
        )


class ReleaseError(InputError):
    """A solution notebook cannot be released: unbalanced solution markers, no assignment id."""


class ReviewError(GraderError):
    """The review desk cannot go on: its database is unreadable, or an output folder is not a
    graded class."""

    exit_code = 9


class ReviewConflictError(ReviewError):
    """A review decision changed elsewhere (another tab or session) since this page read it."""

    def __init__(self, message: str, *, current: int) -> None:
        super().__init__(message)
        self.current = current
        """The decision's version now; the page read an older one."""
