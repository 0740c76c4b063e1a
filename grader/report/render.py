"""Turn a :class:`~grader.results.GradeResult` into feedback people read.

Two files per submission (``report.html``, self-contained, and ``report.md``) and two terminal
tables (a gradebook across submissions, and one submission's checks for the self-check).
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

import jinja2
from markupsafe import Markup

from grader.budget import describe_limits
from grader.options import View
from grader.report.charts import last_value, svg_line_chart
from grader.report.escape import markdown_code, markdown_fence, markdown_text
from grader.report.facts import (
    LAYER_OP_TEXT,
    cell_hint,
    confusions,
    fit_curves,
    for_view,
    layer_diffs,
    raw_evidence,
)
from grader.report.formats import format_number, percent, status_counts, status_icon
from grader.results import GradeResult, write_atomic
from grader.score import final_score

TRACEBACK_LINES = 25
"""How many trailing traceback lines a report shows; the end is where the student's error is."""


HTML_TEMPLATE = "report.html.j2"
MARKDOWN_TEMPLATE = "report.md.j2"


TEMPLATES = "templates"
"""The folder of this package that holds every report's template (it ships in the wheel)."""


def templates_dir() -> Path:
    """The report templates' folder, the same in a source checkout and an installed wheel."""
    return Path(__file__).parent / TEMPLATES


@functools.cache
def jinja_environment(markdown: bool = False) -> jinja2.Environment:
    """The reports' Jinja2 environment (every template of the grader's renders in it)."""
    # Both are autoescaped: HTML by Jinja2's HTML escaping, Markdown by `_markdown_finalize`,
    # which makes every `{{ ... }}` inert Markdown unless a filter (`code`, `fence`) already did.
    # A template cannot forget to escape a field, whoever edits it later.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("grader.report", TEMPLATES),
        autoescape=True,
        finalize=_markdown_finalize if markdown else None,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        svg_line_chart=svg_line_chart,
        status_icon=status_icon,
        cell_hint=cell_hint,
        raw_evidence=raw_evidence,
        traceback_lines=TRACEBACK_LINES,
        op_text=LAYER_OP_TEXT,
    )
    env.filters.update(
        num=format_number,
        percent=percent,
        last_value=last_value,
        tail=_tail,
        code=_code_filter,
        fence=_fence_filter,
    )
    return env


def _markdown_finalize(value: object) -> Markup:
    if isinstance(value, Markup):
        return value  # already Markdown: a filter's or a macro's output, or the template's own
    if isinstance(value, jinja2.Undefined):
        return _escaped("")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _escaped(str(value))
    return _escaped(markdown_text(value))


def _code_filter(text: object) -> Markup:
    return _escaped(markdown_code(text))


def _fence_filter(text: object, info: str = "") -> Markup:
    return _escaped(markdown_fence(text, info))


def _escaped(markdown: str) -> Markup:
    # In the Markdown environment, Markup marks text that is already inert Markdown (it is
    # never HTML-escaped again): only the three functions above produce it.
    return Markup(markdown)  # noqa: S704


def render_html(result: GradeResult, view: View = "instructor") -> str:
    """Render the self-contained HTML feedback report for one submission.

    Args:
        result: The graded submission.
        view: ``instructor`` (everything) or ``student`` (hidden checks as status and points
            only); see :func:`grader.report.facts.for_view`.

    Returns:
        An HTML5 document with inline CSS and inline SVG charts, and no external references.
    """
    shown = for_view(result, view)
    return (
        jinja_environment()
        .get_template(HTML_TEMPLATE)
        .render(result=shown, view=view, **_summary(shown))
    )


def render_markdown(result: GradeResult, view: View = "instructor") -> str:
    """Render the same facts as the HTML report as Markdown (without charts).

    Args:
        result: The graded submission.
        view: ``instructor`` or ``student``, as for :func:`render_html`.

    Returns:
        GitHub-flavoured Markdown text.
    """
    shown = for_view(result, view)
    text = (
        jinja_environment(markdown=True)
        .get_template(MARKDOWN_TEMPLATE)
        .render(result=shown, view=view, **_summary(shown))
    )
    # Optional trailing sections leave blank lines behind; end the file with exactly one newline.
    return text.rstrip("\n") + "\n"


def write_reports(
    result: GradeResult, folder: Path, *, stem: str = "report", view: View = "instructor"
) -> dict[str, Path]:
    """Write ``<stem>.html`` and ``<stem>.md`` into ``folder``, each atomically.

    Args:
        result: The graded submission.
        folder: Destination folder; created when missing.
        stem: File name without suffix. It may contain dots (``hw.report``): the suffix is
            appended, never substituted.
        view: ``instructor`` or ``student``, as for :func:`render_html`.

    Returns:
        ``{"html": path, "markdown": path}``.
    """
    folder = Path(folder)
    # Render both before writing either, so a template error never leaves a lone stale twin.
    rendered = render_reports(result, view, stem=stem)
    paths = {"html": folder / f"{stem}.html", "markdown": folder / f"{stem}.md"}
    write_atomic(paths["html"], rendered[paths["html"].name])
    write_atomic(paths["markdown"], rendered[paths["markdown"].name])
    return paths


def render_reports(
    result: GradeResult, view: View = "instructor", *, stem: str = "report"
) -> dict[str, str]:
    """The texts :func:`write_reports` writes, by file name (``report.html``, ``report.md``).

    Args:
        result: The graded submission.
        view: ``instructor`` or ``student``, as for :func:`render_html`.
        stem: File name without suffix.

    Returns:
        ``{"<stem>.html": html, "<stem>.md": markdown}``.
    """
    return {f"{stem}.html": render_html(result, view), f"{stem}.md": render_markdown(result, view)}


# --- charts -----------------------------------------------------------------------------------


# --- formatting helpers -----------------------------------------------------------------------


def _tail(text: str, lines: int = TRACEBACK_LINES) -> str:
    kept = text.rstrip("\n").split("\n")
    if len(kept) <= lines:
        return "\n".join(kept)
    return f"… ({len(kept) - lines} earlier lines omitted)\n" + "\n".join(kept[-lines:])


def _summary(result: GradeResult) -> dict[str, t.Any]:
    """Derived facts both templates show, computed once here rather than in template logic."""
    failed_cells = [c for c in result.cells if c.status in ("error", "timeout")]
    return {
        "percent": percent(result.score, result.max_score),
        "status_counts": status_counts(result.checks),
        # What to fix, first: the checks that did not pass, the first cell that failed.
        "fix_checks": [c for c in result.checks if c.status != "pass"],
        "first_failed_cell": failed_cells[0] if failed_cells else None,
        "failed_cells": failed_cells,
        "skipped_cells": sum(1 for c in result.cells if c.status == "skipped"),
        "limits_text": describe_limits(result.budget_limits),
        "layer_diffs": layer_diffs(result.checks),
        "fit_curves": fit_curves(result),
        "confusions": confusions(result.checks),
        "final": final_score(result),  # manual points and overrides (the review desk)
    }
