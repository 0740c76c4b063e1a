"""Command line: parses options and calls the library; never shows a traceback for bad input.

One module per family of commands (:mod:`grader.cli.grading`, :mod:`grader.cli.self_check`,
:mod:`grader.cli.results`, :mod:`grader.cli.build`, :mod:`grader.cli.authoring`; the review
desk's in :mod:`grader.review.cli`), the options they share in :mod:`grader.cli.options`; this
module is the group that holds them.

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

from grader.cli.authoring import list_assignments, release, validate
from grader.cli.build import gradescope_bundle, kit
from grader.cli.grading import grade
from grader.cli.results import report, schema
from grader.cli.self_check import check
from grader.exceptions import GraderError
from grader.stop_signals import unwinding_on_stop


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
    # Ended by SIGTERM or a closed terminal, a command cleans up as on Ctrl-C.
    ctx.with_resource(unwinding_on_stop())
    ctx.obj = {"verbose": verbose}
    if course is not None:
        from grader.course import use_course

        # Errors here are raised before _Group.invoke's handler: report them the same way.
        try:
            use_course(course)
        except GraderError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            ctx.exit(exc.exit_code)


main.add_command(grade)
main.add_command(check)
main.add_command(report)
main.add_command(schema)
main.add_command(gradescope_bundle)
main.add_command(release)
main.add_command(validate)
main.add_command(list_assignments)
main.add_command(kit)


def _add_review() -> None:
    # The review desk (Flask) is a package of its own, imported only to register its command.
    from grader.review.cli import review

    main.add_command(review)


_add_review()
