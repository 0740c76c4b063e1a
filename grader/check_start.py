"""A self-check's kernel and judge, started before the rest of the grader is even imported.

``grader check`` grades one notebook while a student waits. Its kernel's start and ``import
keras`` (seconds), and its judge's, are on the way to the answer unless they begin first, so
this module imports only what starting them takes (the rubric, the sandbox, the kernel
manager), and the command starts them before it imports the pipeline (nbclient, the reports)
and before the data is loaded. The data files their sandboxes are made with are those this
installation prepared last time for the same data set, seed and secret
(:func:`grader.data.prepare.remembered_files`): the data is then loaded, and its files named
again, while they boot. A kernel or judge started for other files than those the data names
is not used (:meth:`grader.execute.warm.WarmPool.take` compares the whole sandbox key) and one
is started as before, so a wrong guess costs time, never a result.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

from grader.data.prepare import assignment_data, remembered_files
from grader.data.pretrained import find_weights
from grader.exceptions import GraderError
from grader.execute.environment import check_temp_folder
from grader.execute.kernel_setup import kernel_key
from grader.execute.warm import WarmPool, warm_judges_enabled, warm_kernels_enabled
from grader.judge.process import judge_key
from grader.notebook import assignment_of, read_notebook
from grader.options import GradeOptions
from grader.output_folder import prepare_output_folder
from grader.progress import phase
from grader.rubric.load import load_assignment
from grader.scratch import sweep

if t.TYPE_CHECKING:
    from grader.results import GradeResult


def start_check(notebook: Path, assignment: str | None, options: GradeOptions) -> WarmPool | None:
    """A pool holding ``notebook``'s kernel and judge, started now where they can be.

    Nothing is started for what the check will refuse (not a notebook, no assignment id, a
    folder that cannot take the report, a broken rubric), nor before this installation has
    prepared the assignment's data once: the check then says what is wrong, or starts them
    itself once the data is ready, as before.

    Args:
        notebook: the student's notebook.
        assignment: the assignment id; the notebook's metadata says it when None.
        options: the check's options.

    Returns:
        The pool to give :func:`grader.pipeline.check`, which the caller closes; None when
        warm kernels are switched off (``GRADER_WARM_KERNELS=0``).
    """
    if not warm_kernels_enabled():
        return None
    pool = WarmPool(judges=warm_judges_enabled())
    pool.ahead = False  # one notebook: nothing is started for a next one
    try:
        nb = read_notebook(notebook)  # with --assignment too: a damaged file starts nothing
        chosen = assignment or assignment_of(nb)
        if chosen is None:
            return pool
        prepare_output_folder(notebook.parent)
        spec = load_assignment(chosen)
        check_temp_folder()
        files = remembered_files(**assignment_data(spec, options))
        if files is None:
            return pool
        pretrained = [find_weights(name, options.weights_dir) for name in spec.pretrained]
        key = kernel_key(spec, files, pretrained, options)
        phase("starting the kernel and the judge")
        pool.refill(key)
        pool.refill_judge(judge_key(options.sandbox_for(spec), spec, files, dict(key.env)))
    except (GraderError, OSError, RuntimeError):
        pass  # the check meets the same problem and says it in its own words
    return pool


def run_check(
    notebook: Path, assignment: str | None, options: GradeOptions, *, keep_warm: float = 0
) -> tuple[GradeResult, Path]:
    """``grader check``: the result and the HTML report's path.

    In the kernel prepared after the last check when one waits for this one (see
    :mod:`grader.check_ahead`); else with a kernel and judge started first thing
    (:func:`start_check`). With ``keep_warm`` minutes, the next check's kernel is then
    prepared in the background and kept that long.
    """
    from grader.check_ahead import prepare_next, take_prepared

    env = dict(os.environ)  # as the next command will start: this one may add to it
    served = take_prepared(notebook, assignment, options)
    if served is not None:
        result, report = served.result, served.report
    else:
        pool = start_check(notebook, assignment, options)
        try:
            from grader.pipeline import check

            result, report = check(notebook, assignment=assignment, options=options, warm=pool)
        finally:
            if pool is not None:
                pool.close()
    sweep()  # after the result, not before it: what graders killed outright left behind
    if keep_warm > 0:
        prepare_next(notebook, assignment, options, keep_warm, env)
    return result, report
