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
def check(
    notebook: Path,
    assignment: str | None,
    budget: str,
    data_dir: Path | None,
    weights_dir: Path | None,
    view: t.Literal["student", "instructor"],
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
        # Before the pipeline's modules are imported and the data loaded: they boot meanwhile.
        from grader.check_start import start_check

        pool = start_check(notebook, assignment, options)
        try:
            from grader.pipeline import check as check_one

            result, report = check_one(notebook, assignment=assignment, options=options, warm=pool)
        finally:
            if pool is not None:
                pool.close()
    from grader.report.terminal import print_report

    print_report(result, view)
    click.echo(f"score {result.score:g}/{result.max_score:g}; report: {report}")
