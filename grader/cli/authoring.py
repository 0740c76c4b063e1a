"""An instructor's assignments: ``grader release`` (the student notebook from the solution),
``grader validate`` and ``grader list``."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.options import budget_option, data_options
from grader.options import CHECK_DEFAULTS, GradeOptions


@click.command()
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


@click.command()
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


@click.command(name="list")
def list_assignments() -> None:
    """List the assignments available, with their checks and points."""
    from rich.console import Console
    from rich.table import Table

    from grader.rubric.load import available, load_assignment

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
