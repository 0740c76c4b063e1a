"""Code the grader runs in a PyTorch notebook's kernel, before and after the student's cells.

The PyTorch counterpart of :mod:`grader.kernel.cells`: templates in one place, so it is easy to
audit what a submission's kernel runs beyond the student's own code. The logic lives in
:mod:`grader.framework.pytorch.kernel.runtime`.
"""

from __future__ import annotations

import json
import typing as t

if t.TYPE_CHECKING:
    import nbformat

    from grader.rubric import Assignment

SETUP_TEMPLATE = """\
import grader.framework.pytorch.kernel.runtime as __grader_torch
__grader_torch.install(__import__("json").loads({config!r}))
"""

FINISH_TEMPLATE = """\
__grader_torch.finish(globals())
"""


def setup_code(config: dict[str, t.Any]) -> str:
    """The first cell: seeds, data, loop caps and records (see
    :func:`grader.framework.pytorch.kernel.runtime.install`)."""
    return SETUP_TEMPLATE.format(config=json.dumps(config, sort_keys=True))


def finish_code() -> str:
    """The last cell: takes the roles not tied to a cell and writes the last records."""
    return FINISH_TEMPLATE


def kernel_options(spec: Assignment, nb: nbformat.NotebookNode) -> dict[str, t.Any]:
    """The ``torch`` part of the kernel's configuration.

    ``cell_ids`` lists the code cells that will run, in order (nbclient skips empty ones), so
    the kernel can tell from a cell's execution count which cell just ended.
    """
    assert spec.torch is not None
    return {
        "input_shape": list(spec.torch.input_shape),
        "capture": dict(spec.torch.capture),
        "cell_ids": [
            str(cell.get("id", ""))
            for cell in nb.cells
            if cell.cell_type == "code" and cell.source.strip()
        ],
    }
