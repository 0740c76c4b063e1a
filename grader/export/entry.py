"""One submission of a batch, as the gradebooks and the class report see it."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from grader.results import GradeResult, unreadable

EntryStatus = t.Literal["graded", "cached", "done", "failed"]


@dataclass(frozen=True)
class BatchEntry:
    """One submission of a batch, as the gradebooks and the class report see it."""

    student_id: str
    name: str
    status: EntryStatus
    """``graded`` now; ``cached`` (same notebook graded before, result reused); ``done``
    (already in the output folder from an earlier run); ``failed`` (could not be graded)."""
    result: GradeResult
    """The result without cells and fit histories, which the class views do not need."""
    seconds: float
    """Seconds grading took when the notebook was executed, in this run or an earlier one
    (0 when it could not be graded)."""
    reason: str = ""
    """Why a failed submission could not be graded."""
    source: str = ""
    """The notebook's path as found in the hand-in."""
    worker: str = ""
    """Where it was executed in this run (a Dask worker's address, or this process)."""
    origin: str = ""
    """The platform the hand-in came from (``canvas``, ``moodle``, ``blackboard``,
    ``nbgrader``, ``gradescope``, ``folder``; see :class:`grader.batch.submission.Submission`)."""
    lms_id: str = ""
    """The student's id exactly as the platform wrote it: the LMS files key rows by it."""
    prefix: str = ""
    """What the platform wrote before the student's file name (Canvas' feedback files reuse it)."""

    @property
    def not_graded(self) -> str:
        """Why the notebook has no grade ("" when it has one): it could not be graded, or it is
        not a notebook (``not_a_notebook``, ``invalid_notebook``). Exports leave such a grade
        blank and say why, never a 0 the student did not earn."""
        if self.status == "failed":
            return self.reason or "could not be graded"
        return unreadable(self.result)
