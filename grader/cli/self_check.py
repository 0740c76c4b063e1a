"""``grader check``: a student's self-check of one notebook."""

from __future__ import annotations

import typing as t
from pathlib import Path

import click

from grader.cli.options import budget_option, data_options, view_option
from grader.options import CHECK_DEFAULTS


@click.command()
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
    from grader.bytecode import bytecode_warning

    # After the report, not before: the kernel and the judge were started first thing.
    warning = bytecode_warning()
    if warning is not None:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
