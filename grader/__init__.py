"""A grader for Keras notebook assignments that judges the models, not the printed output.

Public API::

    from grader import grade, grade_notebook, check, load_assignment
    result = grade(Path("hw.ipynb"), assignment="cifar10_transfer", out=Path("out"))
    graded = grade_notebook(Path("hw.ipynb"), assignment="cifar10_transfer")  # writes nothing

Names are imported on first use: the student's kernel imports ``grader.kernel.runtime`` and
should not pay for nbclient, Jinja2 and rich.
"""

from __future__ import annotations

import importlib
import typing as t

_EXPORTS = {
    "GraderError": "grader.exceptions",
    "InputError": "grader.exceptions",
    "NotANotebookError": "grader.exceptions",
    "UnknownAssignmentError": "grader.exceptions",
    "RubricError": "grader.exceptions",
    "DataError": "grader.exceptions",
    "CalibrationError": "grader.exceptions",
    "ExecutionError": "grader.exceptions",
    "grade": "grader.pipeline",
    "grade_notebook": "grader.pipeline",
    "grade_batch": "grader.batch.run",
    "check": "grader.pipeline",
    "GradeResult": "grader.results",
    "CheckResult": "grader.results",
    "CellResult": "grader.results",
    "Assignment": "grader.rubric",
    "load_assignment": "grader.rubric",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> t.Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
