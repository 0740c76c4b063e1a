"""``grader report`` and ``grader schema``: a result.json rendered again, and its schema."""

from __future__ import annotations

import typing as t
from pathlib import Path

import click

from grader.cli.options import view_option
from grader.exceptions import InputError


@click.command()
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


@click.command()
def schema() -> None:
    """Print the JSON Schema of result.json."""
    import json

    from grader.results import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
