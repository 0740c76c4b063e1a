"""Code the grader runs in the student's kernel, before and after the student's cells.

Kept as templates in one place so it is easy to audit what a submission's kernel executes
beyond the student's own code. The logic lives in :mod:`grader.kernel.runtime`.
"""

from __future__ import annotations

import json
import typing as t

# Tag put on injected cells so they can be told apart from the student's.
INJECTED_TAG = "grader-injected"

SETUP_TEMPLATE = """\
import grader.kernel.runtime as __grader_runtime
__grader_runtime.install(__import__("json").loads({config!r}))
"""

FINISH_TEMPLATE = """\
__grader_runtime.finish(globals())
"""


def setup_code(config: dict[str, t.Any]) -> str:
    """The first cell: seeds, data, budget and fit capture (see ``kernel_runtime.install``)."""
    return SETUP_TEMPLATE.format(config=json.dumps(config, sort_keys=True))


def finish_code() -> str:
    """The last cell: saves the rubric's models and data variables for the grader to judge."""
    return FINISH_TEMPLATE
