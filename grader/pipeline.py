"""One submission, end to end: rubric, data, calibration, execution, judging, result, reports.

Library first: :func:`grade` and :func:`check` are what the command line calls. Each step is a
function of its own below; :func:`grade` reads as the list of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.answers import collect_answers, missing_answers
from grader.assemble import Graded, assemble_result, sandbox_notices
from grader.authoring.locked_cells import restore_locked
from grader.budget import Budget
from grader.calibrate import Calibration, calibration
from grader.data.prepare import PreparedData, assignment_data, prepare_data
from grader.data.pretrained import PretrainedWeights, find_weights
from grader.exceptions import GraderError, InputError, NotANotebookError
from grader.execute.environment import check_environment
from grader.execute.kernel_setup import kernel_cells, kernel_config, kernel_key
from grader.execute.run import Execution, record_seconds, run_notebook
from grader.execute.warm import (
    WarmKernel,
    WarmKey,
    WarmPool,
    warm_kernels_enabled,
)
from grader.export.submission_files import submission_files, write_submission
from grader.grading import GradingContext
from grader.judge.evidence import MAX_EVIDENCE_BYTES, EvidenceCollector
from grader.judge.process import (
    JudgeKey,
    StartedJudge,
    judge_key,
    judge_request,
)
from grader.notebook import assignment_of, read_notebook
from grader.options import CHECK_DEFAULTS, GradeOptions
from grader.output_folder import prepare_output_folder
from grader.progress import phase
from grader.report.render import write_reports
from grader.results import GradeResult, ManualAnswer, unjudged_result
from grader.rubric import Assignment
from grader.rubric.load import load_assignment
from grader.sandbox.kernel import Sandbox, kernel_sandbox, place_submission
from grader.sandbox.limits import MB


@dataclass(frozen=True)
class GradedNotebook:
    """What grading one notebook decided: nothing of it is written yet."""

    result: GradeResult
    executed: nbformat.NotebookNode | None
    """The notebook with its outputs; None for a file refused as not a notebook."""
    spec: Assignment
    """The rubric it was graded against (its writer needs what Gradescope reveals)."""


def grade(
    submission: Path,
    *,
    assignment: str | Path | Assignment,
    out: Path,
    options: GradeOptions = GradeOptions(),  # noqa: B008 (frozen, shared safely)
    warm: WarmPool | None = None,
) -> GradeResult:
    """Grade one notebook and write ``result.json``, reports and the executed notebook.

    A file that is not a notebook, or a damaged one, still gets a result: every check fails
    and ``outcome`` says why (``not_a_notebook``, ``invalid_notebook``).

    Args:
        submission: the student's ``.ipynb``.
        assignment: an assignment id, folder, or an already loaded :class:`Assignment`.
        out: the submission's results go to ``out/<notebook stem>/``: ``result.json``, the
            reports, Gradescope's and PrairieLearn's files, ``executed.ipynb``
            (see :func:`grader.export.submission_files.write_submission`).
        options: budget, timeouts, data, limits, the report's view (see
            :class:`~grader.options.GradeOptions`).
        warm: where this notebook's kernel is started first thing (it boots while the
            grader prepares), and, in a process that grades one notebook after another, the
            next one while this one runs (see :mod:`grader.execute.warm`); None starts the
            kernel when the notebook is about to run.

    Returns:
        The result written to ``out/<stem>/result.json``, its floats unrounded.

    Raises:
        InputError: the submission does not exist, or an unknown budget.
        RubricError: the assignment's rubric is malformed.
        ExecutionError: the kernel could not be started.

    Example:
        >>> r = grade(Path("hw.ipynb"), assignment="cifar10_transfer", out=Path("out"))
        ... # doctest: +SKIP
    """
    graded = grade_notebook(submission, assignment=assignment, options=options, warm=warm)
    phase("writing the reports")
    files = submission_files(
        graded.result,
        executed_text(graded.executed),
        view=options.view,
        reveals=graded.spec.reveals(),
    )
    write_submission(Path(out) / Path(submission).stem, files)
    # The result as graded, its floats as computed (result.json rounds them), with the
    # timings result.json records: the reports' time counted.
    return dataclasses.replace(graded.result, timings=dict(files.result.timings))


def executed_text(notebook: nbformat.NotebookNode | None) -> str:
    """The executed notebook's JSON text, as ``executed.ipynb`` holds it ("" for None)."""
    if notebook is None:
        return ""
    return t.cast(str, nbformat.writes(notebook))  # type: ignore[no-untyped-call]


def grade_notebook(
    submission: Path,
    *,
    assignment: str | Path | Assignment,
    options: GradeOptions = GradeOptions(),  # noqa: B008 (frozen, shared safely)
    warm: WarmPool | None = None,
) -> GradedNotebook:
    """Grade one notebook and write nothing: the result and the executed notebook.

    Arguments and errors as for :func:`grade`, which writes what this returns. A batch's
    worker sends it to the process that writes the class's folder; a self-check writes the
    report beside the notebook.
    """
    started = time.monotonic()
    submission = Path(submission)
    laps: dict[str, float] = {}
    with record_seconds(laps, "rubric"):
        spec = assignment if isinstance(assignment, Assignment) else load_assignment(assignment)
        plan = spec.plan(options.budget)
        check_environment(spec)
    phase("preparing the data")
    with record_seconds(laps, "data"):
        data = _data(spec, options)
    try:
        nb = read_notebook(submission)
    except NotANotebookError as exc:
        return GradedNotebook(_refused(spec, plan, data, submission.stem, exc, started), None, spec)
    ctx = _context(spec, plan, data, options, warm, started)
    # The kernel boots (and imports Keras) while the grader restores locked cells, looks up
    # the calibration and starts the judge.
    _start_early(ctx)
    nb, manual, locked_changes = _restore_locked(spec, nb)
    # A kit carries its thresholds; a course checkout trains the reference once per budget.
    phase(
        "reading the kit's thresholds"
        if spec.kit is not None
        else "calibrating the reference (trained once per budget, then read from the cache)"
    )
    with record_seconds(laps, "calibrate"):
        reference = calibration(spec, plan, data, pretrained=ctx.pretrained)
    graded = _run_and_judge(ctx, submission, nb, reference)
    result = assemble_result(ctx, submission.stem, reference, graded, locked_changes, manual)
    _add_timings(result, laps, graded, started)
    return GradedNotebook(result, graded.execution.notebook, spec)


def _context(
    spec: Assignment,
    plan: Budget,
    data: PreparedData,
    options: GradeOptions,
    pool: WarmPool | None,
    started: float,
) -> GradingContext:
    """What the rest of this grade reads, decided once: the kernel's key among it."""
    pretrained = _pretrained(spec, options)
    return GradingContext(
        spec=spec,
        plan=plan,
        options=options,
        data=data,
        pretrained=pretrained,
        sandbox=options.sandbox_for(spec),
        kernel=kernel_key(spec, data, pretrained, options),
        pool=pool,
        started=started,
    )


def _pretrained(spec: Assignment, options: GradeOptions) -> list[PretrainedWeights]:
    return [find_weights(name, options.weights_dir) for name in spec.pretrained]


def _restore_locked(
    spec: Assignment, nb: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, list[ManualAnswer], list[t.Any]]:
    """The notebook with its locked cells restored, its written answers, and what was restored."""
    template = _released_template(spec)
    # Written answers as submitted, before locked cells are restored.
    manual = collect_answers(spec.manual, nb.cells, template.cells)
    nb, locked_changes = restore_locked(nb, template)
    return nb, manual, locked_changes


def _add_timings(
    result: GradeResult, laps: dict[str, float], graded: Graded, started: float
) -> None:
    result.timings.update(
        rubric=laps["rubric"],
        data=laps["data"],
        calibrate=laps["calibrate"],
        sandbox=graded.sandbox_seconds,
        **graded.execution.phases,
        total=time.monotonic() - started,
    )


def _data(spec: Assignment, options: GradeOptions) -> PreparedData:
    return prepare_data(**assignment_data(spec, options))


def _run_and_judge(
    ctx: GradingContext, submission: Path, nb: nbformat.NotebookNode, reference: Calibration
) -> Graded:
    """Run the notebook in its sandbox, take its evidence after each cell, and judge it.

    With a pool, the notebook runs in the pool's warm kernel when it was made for the same
    sandbox, and is judged by its warm judge likewise; the next warm kernel and judge are
    started while it runs (see :mod:`grader.execute.warm`).
    """
    spec, pool = ctx.spec, ctx.pool
    entered = time.monotonic()
    warm = pool.take(ctx.kernel) if pool is not None else None
    jkey = judge_key(ctx.sandbox, spec, ctx.data, dict(ctx.kernel.env))
    with contextlib.ExitStack() as stack:
        box = _kernel_box(ctx, stack, warm, submission)
        started_judge = _judge_for(stack, pool, jkey)
        # Everything it is asked is known now; it loads the data while the notebook runs.
        request = judge_request(
            spec, ctx.plan, ctx.data, started_judge.evidence, reference.figures, ctx.pretrained
        )
        started_judge.judge.send(request)
        sandbox_s = time.monotonic() - entered
        _start_next(pool, ctx.kernel, jkey)
        collector = EvidenceCollector(
            box.artefacts,
            started_judge.evidence,
            spec.roles,
            max_file_bytes=ctx.sandbox.limits.file_size_mb * MB,
            max_total_bytes=MAX_EVIDENCE_BYTES,
        )
        execution = _execute(ctx, nb, box, collector, warm)
        phase("judging the models")
        t0 = time.monotonic()
        findings = started_judge.judge.run(request, spec, timeout=spec.judge_timeout)
        judge_s = time.monotonic() - t0
    return Graded(
        execution,
        findings,
        collector.notes,
        sandbox_notices(box),
        judge_s,
        collector.restored_from,
        sandbox_s,
    )


def _kernel_box(
    ctx: GradingContext,
    stack: contextlib.ExitStack,
    warm: WarmKernel | None,
    submission: Path,
) -> Sandbox:
    """The warm kernel's sandbox given the submission, or a new one; ``stack`` releases it."""
    if warm is not None:
        stack.callback(warm.close)
        place_submission(warm.box, submission)
        return warm.box
    return stack.enter_context(
        kernel_sandbox(
            ctx.sandbox,
            submission=submission,
            data=ctx.data.kernel_file,
            extra_files=list(ctx.kernel.extra_files),
            hide=list(ctx.kernel.hide),
        )
    )


def _judge_for(stack: contextlib.ExitStack, pool: WarmPool | None, key: JudgeKey) -> StartedJudge:
    """The pool's warm judge for ``key``, or one started now; ``stack`` closes it."""
    # Used once, warm or started now (its Keras import then overlaps the run): killed with
    # its sandbox and evidence before the kernel's sandbox goes, whatever it judged.
    started_judge = (pool.take_judge(key) if pool is not None else None) or StartedJudge(key)
    stack.callback(started_judge.close)
    return started_judge


def _start_next(pool: WarmPool | None, key: WarmKey, jkey: JudgeKey) -> None:
    """Start the next submission's kernel and judge, to boot while this one runs."""
    if pool is None or not pool.ahead:
        return
    # They import Keras meanwhile. No warm one (no free uid, a full disk): the next one
    # starts cold.
    with contextlib.suppress(GraderError, OSError):
        pool.refill(key)
    with contextlib.suppress(GraderError, OSError):
        pool.refill_judge(jkey)


def _execute(
    ctx: GradingContext,
    nb: nbformat.NotebookNode,
    box: Sandbox,
    collector: EvidenceCollector,
    warm: WarmKernel | None,
) -> Execution:
    """Run the notebook between the grader's cells, taking its evidence after each cell."""
    spec, plan = ctx.spec, ctx.plan
    config = kernel_config(spec, plan, ctx.data, box, ctx.pretrained)
    setup, finish = kernel_cells(spec, nb, config)
    # Cells are counted as a student counts them: code cells, from 1.
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    number = {index: n for n, index in enumerate(code, start=1)}
    phase("starting the kernel and the grader's setup cell")
    execution = run_notebook(
        nb,
        workdir=box.work,
        setup=setup,
        finish=finish,
        cell_timeout=ctx.options.cell_timeout or spec.timeouts(plan.name).cell,
        total_timeout=ctx.options.total_timeout or spec.timeouts(plan.name).total,
        env=box.env(),
        sandbox=box,
        after_cell=collector.after_cell,
        started=warm.km if warm is not None else None,
        before_cell=lambda index: phase(
            f"running cell {number[index]}/{len(code)} (notebook cell {index})"
        ),
    )
    collector.at_end()
    return execution


def _start_early(ctx: GradingContext) -> None:
    """Start this submission's kernel now, so that it boots while the grader prepares."""
    if ctx.pool is None or ctx.pool.holding:
        return
    with contextlib.suppress(GraderError, OSError, RuntimeError):
        # It could not start early: it starts cold later, and says why if it cannot.
        ctx.pool.refill(ctx.kernel)


def _refused(
    spec: Assignment,
    plan: Budget,
    data: PreparedData,
    stem: str,
    error: NotANotebookError,
    started: float,
) -> GradeResult:
    """The result of a file that could not be run: every check fails, the outcome says why."""
    result = unjudged_result(
        spec,
        stem,
        f"not graded: {error.reason}",
        status="fail",
        budget=plan,
        data=data.info(),
        outcome=error.outcome,
    )
    result = dataclasses.replace(result, manual=missing_answers(spec.manual))
    result.timings["total"] = time.monotonic() - started
    return result


def _released_template(spec: Assignment) -> nbformat.NotebookNode:
    """The assignment's released student notebook: the authority on its locked cells."""
    if not spec.student_notebook.is_file():
        return t.cast(nbformat.NotebookNode, nbformat.v4.new_notebook())  # type: ignore[no-untyped-call]
    return read_notebook(spec.student_notebook)


def check(
    notebook: Path,
    *,
    assignment: str | Path | None = None,
    options: GradeOptions = CHECK_DEFAULTS,
    warm: WarmPool | None = None,
) -> tuple[GradeResult, Path]:
    """A student's self-check: grade at the smoke budget, write the HTML report beside the notebook.

    Args:
        notebook: the student's notebook.
        assignment: the assignment id; the notebook's metadata says it when None.
        options: the smoke budget and the student's view unless an instructor asks for more.
        warm: a pool whose kernel and judge were started for this check before the grader's
            modules were imported (:func:`grader.check_start.start_check`); its caller closes
            it. None: a pool is made here, and its kernel starts once the data is ready.

    Returns:
        The result and the path of the HTML report.

    Raises:
        InputError: not a notebook, no assignment id anywhere, or the notebook's folder cannot
            take the report (:class:`~grader.exceptions.OutputFolderError`).
    """
    nb = read_notebook(Path(notebook))
    chosen = assignment or assignment_of(nb)
    if chosen is None:
        raise InputError(f"{notebook}: no assignment id in its metadata; pass --assignment")
    # The report goes beside the notebook: a folder that cannot take it is found now, not
    # after the notebook has run.
    prepare_output_folder(
        Path(notebook).parent,
        advice="copy the notebook into a folder you can write to; the report is written beside it",
    )
    pool = warm if warm is not None else (WarmPool() if warm_kernels_enabled() else None)
    if pool is not None:
        pool.ahead = False  # one notebook: its own kernel starts first thing, no next one
    try:
        graded = grade_notebook(Path(notebook), assignment=chosen, options=options, warm=pool)
    finally:
        if pool is not None and warm is None:
            pool.close()
    # The reports are written once, beside the notebook: nothing else reads a check's
    # result.json or executed notebook.
    phase("writing the report")
    paths = write_reports(
        graded.result,
        Path(notebook).parent,
        stem=f"{Path(notebook).stem}.report",
        view=options.view,
    )
    return graded.result, paths["html"]


def prepare_reference(
    *,
    assignment: str | Path | Assignment,
    options: GradeOptions = GradeOptions(),  # noqa: B008
) -> dict[str, float]:
    """Prepare the data and calibrate the reference without grading anything.

    A batch does this once before its workers start, so they find the calibration cached.

    Returns:
        The reference's held-out accuracy per model role.
    """
    spec = assignment if isinstance(assignment, Assignment) else load_assignment(assignment)
    pretrained = _pretrained(spec, options)
    reference = calibration(
        spec, spec.plan(options.budget), _data(spec, options), pretrained=pretrained
    )
    return reference.figures
