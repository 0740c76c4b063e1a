"""One student's notebook found in a class hand-in, and how a hand-in file is read: never
through a symbolic link."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from grader.exceptions import InputError


@dataclass(frozen=True)
class Submission:
    """One student's notebook, found in a class hand-in."""

    student_id: str
    """Names the output folder ``OUT/<student_id>/`` and the gradebook row."""
    path: Path
    """The notebook on disk (inside the staging folder when it came from a zip)."""
    origin: str
    """Where it was found: ``folder``, ``canvas``, ``moodle``, ``nbgrader``, ``blackboard``,
    ``gradescope``, or ``single`` (one student's files: ``single`` of
    :func:`~grader.batch.discover.discover`)."""
    name: str = ""
    """The student's name when the hand-in or the roster says it."""
    late: bool = False
    """Canvas marked the file ``LATE``."""
    upload: int = 0
    """Orders one student's uploads, later larger: Canvas' attachment id, Blackboard's attempt
    time; 0 elsewhere."""
    lms_id: str = ""
    """The id exactly as the platform wrote it (Canvas user id or ``anon_<id>``, Moodle
    participant id, Blackboard username, nbgrader or Gradescope id); the LMS files key rows by
    it. "" in a plain folder."""
    prefix: str = ""
    """What the platform wrote before the student's own file name (Canvas, Blackboard)."""

    @property
    def digest(self) -> str:
        """SHA-256 of the notebook's bytes."""
        return hashlib.sha256(read_handin(self.path)).hexdigest()

    @property
    def file_name(self) -> str:
        """The file's name as the student uploaded it (the platform's prefix removed)."""
        name = self.path.name
        return name[len(self.prefix) :] if self.prefix and name.startswith(self.prefix) else name


def read_handin(path: Path) -> bytes:
    """A hand-in file's bytes, read without following a symbolic link.

    Raises:
        InputError: the file is a link, or not a regular file (a device, a pipe).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(
            f"{path}: not read ({exc.strerror}); a hand-in file must be a plain file, not a link"
        ) from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InputError(f"{path}: not a regular file; not read")
        return fh.read()


def hidden(relative: Path) -> bool:
    # macOS zips carry __MACOSX/ resource forks; Jupyter leaves .ipynb_checkpoints/ copies.
    return any(
        part.startswith(".") or part == "__MACOSX" or part == ".ipynb_checkpoints"
        for part in relative.parts
    )
