"""Student kits: self-checks without the answers.

In a notebook of a kit (see :mod:`grader.kit.build`)::

    from grader import kit
    kit.check()        # the live kernel's models, judged now by the production checks
    kit.full_check()   # the saved notebook re-run at a small budget (says how long first)

:mod:`grader.kit.live` does the work; importing this package imports neither Keras nor
anything of a course.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from grader.kit.live import LiveReport


def check(
    namespace: dict[str, t.Any] | None = None, *, assignment: str | None = None
) -> LiveReport:
    """Judge the live kernel's models now; see :func:`grader.kit.live.check`."""
    from grader.kit.live import check as live_check

    return live_check(namespace, assignment=assignment)


def full_check(notebook: str | None = None, *, budget: str = "smoke") -> t.Any:
    """Re-run the saved notebook at ``budget``; see :func:`grader.kit.live.full_check`."""
    from grader.kit.live import full_check as run_full

    return run_full(notebook, budget=budget)
