"""What one grade is made with: decided once, before the notebook runs, then only read.

:func:`grader.pipeline.grade_notebook` builds a :class:`GradingContext` from the rubric, the
options and the prepared data, and every step after it (running the notebook, judging it,
assembling the result) reads what it needs from that one frozen value instead of a list of
parameters carried from function to function.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from grader.budget import Budget
    from grader.data.prepare import PreparedData
    from grader.data.pretrained import PretrainedWeights
    from grader.execute.warm import WarmKey, WarmPool
    from grader.options import GradeOptions
    from grader.rubric import Assignment
    from grader.sandbox.confine import SandboxOptions


@dataclass(frozen=True)
class GradingContext:
    """Everything about one grade that is known before its notebook runs."""

    spec: Assignment
    """The assignment's rubric, parsed once."""
    plan: Budget
    """The budget the notebook is graded at (``options.budget`` resolved by the rubric)."""
    options: GradeOptions
    """How it is graded: timeouts, data, limits, the report's view."""
    data: PreparedData
    """The data sets prepared for the kernel and the judge."""
    pretrained: list[PretrainedWeights]
    """The pretrained weights the rubric names, found once."""
    sandbox: SandboxOptions
    """The kernel's and the judge's confinement (``options.sandbox_for(spec)``)."""
    kernel: WarmKey
    """What the kernel's sandbox is made from (:func:`grader.execute.kernel_setup.kernel_key`):
    computed once, used to start the kernel early and to take it from the pool."""
    pool: WarmPool | None
    """Where warm kernels and judges come from; None starts them when they are needed."""
    started: float
    """When grading began (:func:`time.monotonic`): the result's ``total`` counts from it."""
