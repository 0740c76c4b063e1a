"""How a submission is graded, apart from the notebook and the assignment: one options object.

The command line, :func:`grader.pipeline.grade`, :func:`grader.batch.run.grade_batch`, the
workers and the result cache's key all take a :class:`GradeOptions`; every default is written
here, once.
"""

from __future__ import annotations

import dataclasses
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.limits import Limits

if t.TYPE_CHECKING:
    from grader.rubric import Assignment
    from grader.sandbox.confine import SandboxOptions

View = t.Literal["student", "instructor"]
"""Whom a report is written for: ``instructor`` sees everything; ``student`` sees hidden checks
as status and points only, and no flags."""


@dataclass(frozen=True)
class GradeOptions:
    """Everything but the notebook and the assignment that decides how a notebook is graded."""

    budget: str = "standard"
    """``smoke``, ``standard`` or ``full``: how much training each fit/evaluate/predict may do."""
    cell_timeout: float | None = None
    """Seconds one cell may run; the rubric's when None."""
    total_timeout: float | None = None
    """Seconds the whole notebook may run; the rubric's when None."""
    data_dir: Path | None = None
    """Real data (``cifar-10-batches-py``, ``mnist.npz``); Keras' cache, else synthetic, when
    None."""
    weights_dir: Path | None = None
    """ImageNet weights files; Keras' cache, else random weights, when None."""
    limits: Limits | None = None
    """Each kernel's resource limits; the rubric's ``[sandbox]`` table when None."""
    sandboxed: bool = True
    """Run kernels (and judges) in the sandbox; False only to debug trusted notebooks."""
    view: View = "instructor"
    """Whom ``report.html``/``report.md`` are for; ``result.json`` is always complete."""
    secret: str | None = None
    """The grader's secret (see :mod:`grader.data.secret`); this installation's when None."""

    def replace(self, **changes: t.Any) -> GradeOptions:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def limits_for(self, spec: Assignment) -> Limits:
        """The kernel's limits: these options', else the rubric's."""
        return self.limits or spec.limits

    def sandbox_for(self, spec: Assignment) -> SandboxOptions:
        """The sandbox of a kernel (and a judge) grading ``spec``."""
        from grader.sandbox.confine import SandboxOptions

        return SandboxOptions(
            enabled=self.sandboxed, limits=self.limits_for(spec), python=spec.python
        )


CHECK_DEFAULTS = GradeOptions(budget="smoke", view="student")
"""A student's self-check: the smoke budget, the student's view."""

KIT_BUDGETS = (CHECK_DEFAULTS.budget,)
"""The budgets a student kit is calibrated at unless others are named: the self-check's."""

GRADESCOPE_TIMEOUT = 600
"""Gradescope's autograder timeout (seconds) a bundle is built for unless told another."""
MAX_GRADESCOPE_TIMEOUT = 2400
"""The longest autograder timeout Gradescope's settings allow (seconds)."""
