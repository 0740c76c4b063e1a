"""Command line: parses options and calls the library; never shows a traceback for bad input.

Every :class:`~grader.exceptions.GraderError` becomes one line on stderr and its exit code, in
one place (:class:`_Group`); ``grader --verbose ...`` adds the traceback and the error's
details. Defaults come from :class:`~grader.options.GradeOptions`, written once.

Exit codes:
    0  graded (whatever the score)
    1  the grader itself failed (a bug: the traceback is shown)
    2  bad input: missing file, not a notebook, unknown assignment or budget, bad option
    3  malformed rubric (assignment.toml)
    4  a data set on disk is incomplete or not in the official format
    5  the reference could not be trained for calibration
    6  the notebook kernel could not be started
    7  the Dask scheduler given with --scheduler could not be reached
    8  grader validate found problems with an assignment
    9  grader review: the output folder is not a graded class, or its review database is
       unreadable
"""

from __future__ import annotations

import traceback
import typing as t
from pathlib import Path

import click

from grader.cli_options import budget_option, data_options, limit_options, limits_from, view_option
from grader.exceptions import GraderError, InputError
from grader.options import (
    CHECK_DEFAULTS,
    GRADESCOPE_TIMEOUT,
    KIT_BUDGETS,
    MAX_GRADESCOPE_TIMEOUT,
    GradeOptions,
)

if t.TYPE_CHECKING:
    from grader.batch.run import BatchSummary

DEFAULTS = GradeOptions()


class _Group(click.Group):
    """Turns a :class:`GraderError` into one line and its exit code, for every command."""

    def invoke(self, ctx: click.Context) -> t.Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            # A subcommand's bad option is bad input like any other: one line, not click's
            # usage block (the group's own options keep click's handling).
            if exc.ctx is None or exc.ctx is ctx:
                raise
            click.secho(
                f"error: {exc.format_message()} (see `{exc.ctx.command_path} --help`)",
                fg="red",
                err=True,
            )
            ctx.exit(exc.exit_code)
        except GraderError as exc:
            click.secho(f"error: {exc.message.splitlines()[0]}", fg="red", err=True)
            if (ctx.obj or {}).get("verbose"):
                click.echo(traceback.format_exc(), err=True)
                if exc.details:
                    click.echo(exc.details, err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keras-notebook-grader")
@click.option("-v", "--verbose", is_flag=True, help="On an error, show the traceback too.")
@click.option(
    "--course",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The course folder (assignments/ and the reference package, or a student kit) "
    "[default: $GRADER_COURSE, the config file's `course`, else the source checkout].",
)
@click.pass_context
def main(ctx: click.Context, verbose: bool, course: Path | None) -> None:
    """Grade Keras notebook assignments by judging the models they build."""
    ctx.obj = {"verbose": verbose}
    if course is not None:
        from grader.course import use_course

        # Errors here are raised before _Group.invoke's handler: report them the same way.
        try:
            use_course(course)
        except GraderError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            ctx.exit(exc.exit_code)


@main.command()
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-a", "--assignment", required=True, help="Assignment id or folder.")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Results go to OUT/<student id>/.",
)
@budget_option(DEFAULTS.budget)
@click.option("--timeout", type=float, default=None, help="Seconds the whole notebook may run "
              "[default: from the rubric].")  # fmt: skip
@click.option("--cell-timeout", type=float, default=None, help="Seconds one cell may run "
              "[default: from the rubric].")  # fmt: skip
@data_options
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Notebooks graded at once, each in its own kernel [default: as many as the free cores "
    "hold, each notebook counted at the cores it keeps busy (1 on 2 cores), fewer when memory "
    "is short].",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Grade on a running Dask cluster (tcp://host:8786) instead of local workers.",
)
@click.option(
    "--roster",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="CSV mapping student ids to names (a Canvas gradebook export works).",
)
@click.option("--force", is_flag=True, help="Grade every notebook again, ignoring the cache.")
@click.option(
    "--canvas-column",
    default=None,
    help="Score column header in canvas.csv, e.g. 'HW 3 (123456)' [default: assignment title].",
)
@click.option(
    "--lms",
    type=click.Choice(["canvas", "moodle", "blackboard", "nbgrader", "gradescope", "folder"]),
    default=None,
    help="The platform the hand-in comes from; its naming alone gives student ids "
    "[default: found from the hand-in's shape].",
)
@click.option(
    "--blackboard-column",
    default=None,
    metavar="COLUMN_ID",
    help="Grade Center Column ID that blackboard.csv updates [default: a new column].",
)
@click.option(
    "--one-student",
    is_flag=True,
    help="SUBMISSIONS are one student's files (Gradescope's submission folder): grade the "
    "assignment's notebook into OUT/submission/ and list the others as not graded.",
)
@view_option(DEFAULTS.view)
@click.option(
    "--no-sandbox",
    is_flag=True,
    help="Run kernels without isolation or limits. For debugging trusted notebooks only.",
)
@limit_options
def grade(
    submissions: tuple[Path, ...],
    assignment: str,
    out: Path,
    budget: str,
    timeout: float | None,
    cell_timeout: float | None,
    data_dir: Path | None,
    weights_dir: Path | None,
    jobs: int | None,
    scheduler: str | None,
    roster: Path | None,
    force: bool,
    canvas_column: str | None,
    lms: str | None,
    blackboard_column: str | None,
    one_student: bool,
    view: t.Literal["student", "instructor"],
    no_sandbox: bool,
    **limits: int | None,
) -> None:
    """Grade SUBMISSIONS: notebooks, folders, Canvas, Moodle or Blackboard zips, Gradescope
    exports, nbgrader courses.

    Writes OUT/<student id>/ per submission, gradebook.csv, canvas.csv and the class report
    OUT/index.html; canvas_feedback.zip, moodle.csv, blackboard.csv when the hand-in came from
    that LMS. Running the same command again grades only what is not finished.

    Every kernel runs in a sandbox (no network, limits, a fresh folder); the rubric's
    [sandbox] table sets the limits and the --*-limit options override them. A file that is
    not a notebook, or is damaged, gets a result with that outcome and the batch goes on.
    """
    from grader.batch.progress import batch_observer
    from grader.batch.run import grade_batch
    from grader.batch.workers import default_jobs
    from grader.report.class_table import print_table

    options = GradeOptions(
        budget=budget,
        cell_timeout=cell_timeout,
        total_timeout=timeout,
        data_dir=data_dir,
        weights_dir=weights_dir,
        limits=limits_from(assignment, limits),
        sandboxed=not no_sandbox,
        view=view,
    )
    with batch_observer() as observer:
        summary = grade_batch(
            list(submissions),
            assignment=assignment,
            out=out,
            options=options,
            jobs=jobs or default_jobs(budget),
            scheduler=scheduler,
            roster=roster,
            force=force,
            canvas_column=canvas_column,
            observer=observer,
            single=one_student,
            lms=lms,
            blackboard_column=blackboard_column,
        )
    print_table([e.result for e in summary.entries])
    _print_summary(summary, out)


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


@main.command()
@click.argument("notebook", type=click.Path(path_type=Path))
@click.option(
    "-a",
    "--assignment",
    default=None,
    help="Assignment id [default: read from the notebook's metadata].",
)
@budget_option(CHECK_DEFAULTS.budget)
@data_options
@view_option(CHECK_DEFAULTS.view)
@click.option(
    "--keep-warm",
    type=click.FloatRange(min=0),
    default=0,
    metavar="MINUTES",
    help="After the check, prepare the next one in the background: a fresh sandboxed kernel "
    "and judge for this assignment, with its data, kept MINUTES minutes for your next check "
    "from this folder (which then skips their start). They hold about 1 GB of memory while "
    "they wait; a kernel is used for one check only, never one a notebook already ran in. "
    "[default: 0, off]",
)
def check(
    notebook: Path,
    assignment: str | None,
    budget: str,
    data_dir: Path | None,
    weights_dir: Path | None,
    view: t.Literal["student", "instructor"],
    keep_warm: float,
) -> None:
    """Self-check NOTEBOOK: quick grade, full report in the terminal and beside the notebook.

    Inside a student kit (see `grader kit build`), the kit is the course: its thresholds were
    measured when it was built, so no reference is trained here.
    """
    from grader.course import use_kit_around
    from grader.progress import PhaseDisplay

    options = CHECK_DEFAULTS.replace(
        budget=budget, data_dir=data_dir, weights_dir=weights_dir, view=view
    )
    with PhaseDisplay():
        use_kit_around(notebook.parent)
        # Before the pipeline's modules are imported and the data loaded: the kernel and the
        # judge boot meanwhile.
        from grader.check_start import run_check

        result, report = run_check(notebook, assignment, options, keep_warm=keep_warm)
    from grader.report.terminal import print_report

    print_report(result, view)
    click.echo(f"score {result.score:g}/{result.max_score:g}; report: {report}")


@main.command()
@click.argument("result_json", type=click.Path(path_type=Path))
@view_option("student")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "md"]),
    default="text",
    show_default=True,
    help="text prints to the terminal; html and md write report files.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="File to write (html, md) [default: <view>.report.<format> beside RESULT_JSON].",
)
def report(
    result_json: Path, view: t.Literal["student", "instructor"], fmt: str, out: Path | None
) -> None:
    """Render RESULT_JSON (a result.json) again, for students or for the instructor."""
    from grader.report.render import render_html, render_markdown
    from grader.report.terminal import print_report
    from grader.results import write_atomic

    result = _read_result(result_json)
    if fmt == "text":
        print_report(result, view)
        return
    text = render_html(result, view) if fmt == "html" else render_markdown(result, view)
    path = out or result_json.parent / f"{view}.report.{fmt}"
    write_atomic(path, text)
    click.echo(str(path))


def _read_result(path: Path) -> t.Any:
    from grader.results import GradeResult

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return GradeResult.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as exc:  # JSON errors are ValueErrors
        raise InputError(
            f"{path}: not a grader result.json ({type(exc).__name__}: {exc}); "
            "give the result.json that `grader grade` wrote"
        ) from exc


@main.command()
def schema() -> None:
    """Print the JSON Schema of result.json."""
    import json

    from grader.results import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@main.command("gradescope-bundle")
@click.argument("assignment")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("autograder.zip"),
    show_default=True,
)
@budget_option(DEFAULTS.budget)
@data_options
@click.option(
    "--fetch/--no-fetch",
    default=True,
    show_default=True,
    help="Let setup.sh download the official data and weights not carried (checked against "
    "Keras' digests); --no-fetch grades on synthetic data and random weights.",
)
@click.option(
    "--gradescope-timeout",
    type=click.IntRange(60, MAX_GRADESCOPE_TIMEOUT),
    default=GRADESCOPE_TIMEOUT,
    show_default=True,
    help="The autograder timeout set in Gradescope (seconds); each run stays under it.",
)
def gradescope_bundle(
    assignment: str,
    out: Path,
    budget: str,
    data_dir: Path | None,
    weights_dir: Path | None,
    fetch: bool,
    gradescope_timeout: int,
) -> None:
    """Build the Gradescope autograder zip (setup.sh, run_autograder) for ASSIGNMENT.

    --data-dir and --weights-dir carry real data and weights in the zip, with their SHA-256;
    what is not carried is downloaded by setup.sh when Gradescope builds the image.
    """
    from grader.export.gradescope import build_bundle
    from grader.output_folder import prepare_output_folder

    # Checked before the reference is calibrated, which can take minutes.
    prepare_output_folder(out.parent, advice="give --out a path in a folder you can write to")
    path = build_bundle(
        assignment,
        out=out,
        budget=budget,
        data_dir=data_dir,
        weights_dir=weights_dir,
        fetch=fetch,
        gradescope_timeout=gradescope_timeout,
    )
    click.echo(f"Gradescope autograder: {path} (upload it as the assignment's autograder)")


@main.command()
@click.argument("solution", type=click.Path(path_type=Path))
@click.option(
    "-o", "--out", type=click.Path(path_type=Path), required=True, help="The student notebook."
)
@click.option(
    "-a", "--assignment", default=None, help="Assignment id [default: the solution's metadata]."
)
def release(solution: Path, out: Path, assignment: str | None) -> None:
    """Make the student notebook from SOLUTION: strip solution regions, lock the other cells."""
    from grader.authoring.release import release_file

    done = release_file(solution, out, assignment=assignment)
    click.echo(
        f"{done.path}: assignment {done.assignment}; {done.student_cells} cell(s) to complete, "
        f"{done.locked_cells} locked"
    )


@main.command()
@click.argument("assignment")
@budget_option(CHECK_DEFAULTS.budget)
@data_options
@click.option(
    "--mutants",
    is_flag=True,
    help="Also grade the rubric's one-defect examples: each must lose only its defect's points.",
)
def validate(
    assignment: str,
    budget: str,
    data_dir: Path | None,
    weights_dir: Path | None,
    mutants: bool,
) -> None:
    """Check ASSIGNMENT: rubric, reference, solution at full marks, template at 0."""
    from grader.authoring.validate import validate as validate_one
    from grader.exceptions import ValidationError

    options = GradeOptions(budget=budget, data_dir=data_dir, weights_dir=weights_dir)
    found = validate_one(assignment, options=options, mutants=mutants)
    shown = [("solution", found.solution), ("template", found.template)]
    shown += [(f"mutant {name}", result) for name, result in found.mutants.items()]
    for role, result in shown:
        if result is not None:
            click.echo(f"{role}: {result.score:g}/{result.max_score:g}")
    for problem in found.problems:
        click.secho(f"- {problem}", fg="red")
    if not found.ok:
        raise ValidationError(found.assignment.id, found.problems)
    click.echo(f"{found.assignment.id}: valid ({len(found.assignment.checks)} checks)")


@main.command(name="list")
def list_assignments() -> None:
    """List the assignments available, with their checks and points."""
    from rich.console import Console
    from rich.table import Table

    from grader.rubric import available, load_assignment

    console = Console()
    for name in available():
        spec = load_assignment(name)
        table = Table(
            title=f"{spec.id}: {spec.title}",
            caption=f"data {spec.dataset}; {spec.max_score:g} points",
            title_justify="left",
        )
        # Ids are what instructors type and grep for: never wrapped.
        table.add_column("check", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column("points", justify="right")
        table.add_column("what is judged")
        for check in spec.checks:
            table.add_row(check.id, check.kind, f"{check.points:g}", check.title)
        console.print(table)


@main.group()
def kit() -> None:
    """Student kits: what students may have to check their work, without the answers."""


@kit.command("build")
@click.argument("assignments", nargs=-1)
@click.option(
    "-o", "--out", type=click.Path(path_type=Path), required=True, help="Folder to write into."
)
@click.option(
    "--budget",
    "budgets",
    multiple=True,
    default=KIT_BUDGETS,
    show_default=True,
    help="A budget students may self-check at (repeat for several); each is calibrated now.",
)
@click.option(
    "--wheel",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The grader's wheel to ship [default: built from the source checkout].",
)
@data_options
def kit_build(
    assignments: tuple[str, ...],
    out: Path,
    budgets: tuple[str, ...],
    wheel: Path | None,
    data_dir: Path | None,
    weights_dir: Path | None,
) -> None:
    """Build the student kit of ASSIGNMENTS (default: every assignment of the course)."""
    from grader.kit.build import build_kit
    from grader.output_folder import prepare_output_folder

    prepare_output_folder(out)  # before minutes of calibration, not after
    built = build_kit(
        assignments,
        out=out,
        budgets=budgets,
        data_dir=data_dir,
        weights_dir=weights_dir,
        wheel=wheel,
    )
    click.echo(
        f"kit: {built.folder} and {built.zip} ({len(built.assignments)} assignment(s), "
        f"{built.calibrations} calibration(s)); give students the zip"
    )


def _add_review() -> None:
    # The review desk (Flask) is a package of its own, imported only to register its command.
    from grader.review.cli import review

    main.add_command(review)


_add_review()
