"""What an instructor builds to hand out: ``grader gradescope-bundle`` (Gradescope's
autograder zip) and ``grader kit build`` (a student kit)."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.options import budget_option, data_options
from grader.options import GRADESCOPE_TIMEOUT, KIT_BUDGETS, MAX_GRADESCOPE_TIMEOUT, GradeOptions

DEFAULTS = GradeOptions()


@click.command("gradescope-bundle")
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


@click.group()
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
