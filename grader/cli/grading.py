"""``grader grade``: a class's submissions graded, with its gradebooks and class report."""

from __future__ import annotations

import dataclasses
import typing as t
from pathlib import Path

import click

from grader.batch.lms_names import PLATFORMS
from grader.cli.options import (
    LIMIT_OPTIONS,
    budget_option,
    data_options,
    limit_options,
    limits_from,
    options,
    pass_as,
    view_option,
)
from grader.options import GradeOptions

if t.TYPE_CHECKING:
    from grader.batch.run import BatchSummary

DEFAULTS = GradeOptions()

grade_options = options(
    click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path)),
    click.option("-a", "--assignment", required=True, help="Assignment id or folder."),
    click.option(
        "-o",
        "--out",
        type=click.Path(path_type=Path),
        default=Path("out"),
        show_default=True,
        help="Results go to OUT/<student id>/.",
    ),
    budget_option(DEFAULTS.budget),
    click.option(
        "--timeout",
        type=float,
        default=None,
        help="Seconds the whole notebook may run [default: from the rubric].",
    ),
    click.option(
        "--cell-timeout",
        type=float,
        default=None,
        help="Seconds one cell may run [default: from the rubric].",
    ),
    data_options,
    click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=1),
        default=None,
        help="Notebooks graded at once, each in its own kernel [default: as many as the free "
        "cores hold, each notebook counted at the cores it keeps busy (1 on 2 cores), fewer when "
        "memory is short].",
    ),
    click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Grade on a running Dask cluster (tcp://host:8786) instead of local workers.",
    ),
    click.option(
        "--roster",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="CSV mapping student ids to names (a Canvas gradebook export works).",
    ),
    click.option("--force", is_flag=True, help="Grade every notebook again, ignoring the cache."),
    click.option(
        "--canvas-column",
        default=None,
        help="Score column header in canvas.csv, e.g. 'HW 3 (123456)' [default: assignment title].",
    ),
    click.option(
        "--lms",
        type=click.Choice(PLATFORMS),
        default=None,
        help="The platform the hand-in comes from; its naming alone gives student ids "
        "[default: found from the hand-in's shape].",
    ),
    click.option(
        "--blackboard-column",
        default=None,
        metavar="COLUMN_ID",
        help="Grade Center Column ID that blackboard.csv updates [default: a new column].",
    ),
    click.option(
        "--one-student",
        is_flag=True,
        help="SUBMISSIONS are one student's files (Gradescope's submission folder): grade the "
        "assignment's notebook into OUT/submission/ and list the others as not graded.",
    ),
    view_option(DEFAULTS.view),
    click.option(
        "--no-sandbox",
        is_flag=True,
        help="Run kernels without isolation or limits. For debugging trusted notebooks only.",
    ),
    limit_options,
)
"""Every option of ``grader grade``, in the order ``--help`` lists them."""


@dataclasses.dataclass(frozen=True)
class GradeRequest:
    """``grader grade``'s parameters, gathered once from what click parsed."""

    submissions: tuple[Path, ...]
    assignment: str
    out: Path
    budget: str
    timeout: float | None
    cell_timeout: float | None
    data_dir: Path | None
    weights_dir: Path | None
    jobs: int | None
    scheduler: str | None
    roster: Path | None
    force: bool
    canvas_column: str | None
    lms: str | None
    blackboard_column: str | None
    one_student: bool
    view: t.Literal["student", "instructor"]
    no_sandbox: bool
    limits: dict[str, int | None]
    """The ``--*-limit`` options given, by option name (see :data:`LIMIT_OPTIONS`)."""

    @classmethod
    def from_params(cls, **params: t.Any) -> GradeRequest:
        """The request from click's keyword arguments, the limit options gathered apart."""
        limits = {name: params.pop(name) for name in LIMIT_OPTIONS}
        return cls(**params, limits=limits)

    def grade_options(self) -> GradeOptions:
        """How each notebook is graded: the rubric's limits with the overrides given."""
        return GradeOptions(
            budget=self.budget,
            cell_timeout=self.cell_timeout,
            total_timeout=self.timeout,
            data_dir=self.data_dir,
            weights_dir=self.weights_dir,
            limits=limits_from(self.assignment, self.limits),
            sandboxed=not self.no_sandbox,
            view=self.view,
        )

    def job_count(self) -> int:
        """``--jobs``, else as many as this machine holds at the budget."""
        from grader.batch.workers import default_jobs

        return self.jobs or default_jobs(self.budget)


@click.command()
@grade_options
@pass_as(GradeRequest.from_params)
def grade(request: GradeRequest) -> None:
    """Grade SUBMISSIONS: notebooks, folders, Canvas, Moodle or Blackboard zips, Gradescope
    exports, nbgrader courses.

    Writes OUT/<student id>/ per submission, gradebook.csv, canvas.csv and the class report
    OUT/index.html; canvas_feedback.zip, moodle.csv, blackboard.csv when the hand-in came from
    that LMS. Running the same command again grades only what is not finished.

    Every kernel runs in a sandbox (no network, limits, a fresh folder); the rubric's
    [sandbox] table sets the limits and the --*-limit options override them. A file that is
    not a notebook, or is damaged, gets a result with that outcome and the batch goes on.
    """
    from grader.report.class_table import print_table

    summary = _grade_batch(request)
    print_table([e.result for e in summary.entries])
    _print_summary(summary, request.out)


def _grade_batch(request: GradeRequest) -> BatchSummary:
    from grader.batch.progress import batch_observer
    from grader.batch.run import grade_batch

    with batch_observer() as observer:
        return grade_batch(
            list(request.submissions),
            assignment=request.assignment,
            out=request.out,
            options=request.grade_options(),
            jobs=request.job_count(),
            scheduler=request.scheduler,
            roster=request.roster,
            force=request.force,
            canvas_column=request.canvas_column,
            observer=observer,
            single=request.one_student,
            lms=request.lms,
            blackboard_column=request.blackboard_column,
        )


def _print_summary(summary: BatchSummary, out: Path) -> None:
    """What the batch did: counts, what was not graded or ignored, where its outputs are."""
    counts = {s: sum(e.status == s for e in summary.entries) for s in ("graded", "cached", "done")}
    failed = [e for e in summary.entries if e.status == "failed"]
    click.echo(
        f"{len(summary.entries)} submissions in {summary.seconds:.1f} s: {counts['graded']} graded "
        f"({summary.where}), {counts['cached']} from the cache, {counts['done']} already done, "
        f"{len(failed)} not graded"
    )
    for entry in failed:
        click.secho(f"  not graded: {entry.student_id}: {entry.reason}", fg="yellow")
    if summary.ignored:
        click.echo(f"ignored (not notebooks): {', '.join(summary.ignored)}")
    for line in summary.set_aside:
        click.echo(f"not graded, another notebook of the student is: {line}")
    click.echo(f"results and reports: {out}/<student id>/")
    click.echo(f"class report: {summary.outputs['report']}")
    books = ("gradebook", "canvas", "moodle", "blackboard", "canvas_feedback")
    click.echo(
        f"gradebooks: {', '.join(str(summary.outputs[k]) for k in books if k in summary.outputs)}"
    )
    for warning in summary.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
