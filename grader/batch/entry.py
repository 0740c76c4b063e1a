"""One submission of a batch, as the gradebooks and the class report see it."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from grader.results import GradeResult

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
