"""A real grade through a warm kernel: the same verdicts as its golden, after a hostile notebook.

One worker process grades a hostile notebook, then the full-marks example in the kernel that
was started (Keras imported) while the hostile one ran, judged by the judge started then too.
The second must match its golden exactly, accuracy included, and find nothing the first left
behind.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from grader.batch import workers
from grader.batch.workers import Task, close_warm_kernel, grade_task
from tests.conftest import ROOT, SMOKE
from tests.execute.test_warm import LEAVE

pytestmark = pytest.mark.notebook
GOLDENS = ROOT / "tests" / "goldens" / "cifar10_transfer"
EXAMPLES = ROOT / "assignments" / "cifar10_transfer" / "submissions"

# The honest notebook's first cell looks for what the hostile one left; it must find nothing.
PROBE = """
import os
for folder in (os.path.expanduser("~"), "/tmp", "/var/tmp", "/dev/shm"):
    assert not os.path.exists(os.path.join(folder, "left-by-a")), folder
assert "LEFT_BY_A" not in os.environ
"""


def test_warm_kernel_grades_full_marks_as_its_golden_after_a_hostile_notebook() -> None:
    hostile = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LEAVE)])
    honest = nbformat.read(EXAMPLES / "full_marks.ipynb", as_version=4)
    honest.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    pool = workers._warm_pool()
    assert pool is not None, "warm kernels are switched off ($GRADER_WARM_KERNELS)"
    served, judged = pool.served, pool.judged
    try:
        a = grade_task(
            Task("mallory", nbformat.writes(hostile).encode(), "cifar10_transfer", SMOKE)
        )
        b = grade_task(Task("ada", nbformat.writes(honest).encode(), "cifar10_transfer", SMOKE))
    finally:
        close_warm_kernel()
    assert not a.failure and not b.failure, (a.failure, b.failure)
    # mallory ran in the kernel started first thing, ada in the one started while mallory ran.
    assert pool.served == served + 2
    # ada was judged by the judge started while mallory ran (mallory's own was started cold).
    assert pool.judged == judged + 1
    result = b.result
    assert result is not None
    assert result.cells[0].status == "ok", result.cells[0]
    golden = json.loads((GOLDENS / "full_marks.json").read_text())
    assert {c.id: c.status for c in result.checks} == golden["checks"]
    assert result.score == golden["score"]
