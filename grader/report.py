"""Turn a :class:`~grader.results.GradeResult` into feedback people read.

Two files per submission (``report.html``, self-contained, and ``report.md``) and two terminal
tables (a gradebook across submissions, and one submission's checks for the self-check).
"""

from __future__ import annotations

import functools
import math
import typing as t
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup
from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

import grader
from grader.escape import markdown_code, markdown_fence, markdown_text, printable_copy
from grader.feedback import (
    View,
    cell_hint,
    confusions,
    fit_curves,
    for_view,
    layer_diffs,
    raw_evidence,
)
from grader.results import CheckResult, GradeResult, write_atomic
from grader.review.merge import final_score

STATUS_ICONS: dict[str, str] = {
    "pass": "✔",
    "fail": "✘",
    "error": "⚠",
    "skipped": "\u2013",  # en dash
    "ok": "✔",
    "timeout": "⏱",
}
"""Icon shown next to every status word, so that status never depends on colour alone."""

_RICH_STYLES: dict[str, str] = {
    "pass": "green",
    "fail": "bold red",
    "error": "yellow",
    "skipped": "dim",
}

TRACEBACK_LINES = 25
"""How many trailing traceback lines a report shows; the end is where the student's error is."""

WIDE_CONSOLE = 140
"""Columns from which :func:`print_checks` fits messages and hints into its table."""

HTML_TEMPLATE = "report.html.j2"
MARKDOWN_TEMPLATE = "report.md.j2"


def templates_dir() -> Path:
    """Where the report templates live.

    Returns:
        ``grader/templates`` inside an installed wheel (the build copies the top-level
        ``templates/`` folder there), else the top-level ``templates/`` of a source checkout.
    """
    package = Path(grader.__file__).parent
    installed = package / "templates"
    if installed.is_dir():
        return installed
    return package.parent / "templates"


@functools.cache
def _environment(markdown: bool = False) -> jinja2.Environment:
    # Both are autoescaped: HTML by Jinja2's HTML escaping, Markdown by `_markdown_finalize`,
    # which makes every `{{ ... }}` inert Markdown unless a filter (`code`, `fence`) already did.
    # A template cannot forget to escape a field, whoever edits it later.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
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
    )
    env.filters.update(
        num=format_number,
        percent=_percent,
        last_value=_last_value,
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
            only); see :func:`grader.feedback.for_view`.

    Returns:
        An HTML5 document with inline CSS and inline SVG charts, and no external references.
    """
    shown = for_view(result, view)
    return (
        _environment()
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
        _environment(markdown=True)
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
    html, markdown = render_html(result, view), render_markdown(result, view)
    paths = {"html": folder / f"{stem}.html", "markdown": folder / f"{stem}.md"}
    write_atomic(paths["html"], html)
    write_atomic(paths["markdown"], markdown)
    return paths


def print_table(results: Sequence[GradeResult], console: Console | None = None) -> None:
    """Print a gradebook: one row per submission, one column per check.

    Args:
        results: Graded submissions, in the order to show them.
        console: Where to print; a fresh stdout console when omitted.
    """
    console = console or Console()
    # Student text is printed as rich Text (never parsed for markup), from a copy without
    # control characters (no escape sequence, terminal link or carriage return gets through).
    results = [printable_copy(result) for result in results]
    check_ids: list[str] = []
    for result in results:
        for check in result.checks:
            if check.id not in check_ids:
                check_ids.append(check.id)

    table = Table(
        title="Grades (✔ pass, ✘ fail, ⚠ error, – skipped; points earned)",  # noqa: RUF001
        box=box.SIMPLE_HEAD,
        show_lines=False,
        collapse_padding=True,
    )
    table.add_column("Submission", no_wrap=True)
    table.add_column("Score", justify="right", no_wrap=True)
    name_width = max((len(r.submission) for r in results), default=10)
    # Full check ids as headers when they fit; numbered columns and a legend when they don't.
    numbered = name_width + 20 + sum(len(c) + 3 for c in check_ids) > console.width
    for i, check_id in enumerate(check_ids, start=1):
        table.add_column(
            Text(str(i) if numbered else check_id), justify="center", no_wrap=True, min_width=4
        )
    for result in results:
        by_id = {check.id: check for check in result.checks}
        row: list[Text] = [
            Text(result.submission),
            Text(f"{format_number(result.score)}/{format_number(result.max_score)}"),
        ]
        for check_id in check_ids:
            found = by_id.get(check_id)
            if found is None:
                row.append(Text("—", style="dim"))
            else:
                # Icon and points only: a class gradebook must fit an 80-column terminal.
                row.append(
                    Text(
                        f"{status_icon(found.status)} {format_number(found.score)}",
                        style=_RICH_STYLES.get(found.status, ""),
                    )
                )
        table.add_row(*row)
    table.caption = Text(_gradebook_caption(results))
    console.print(table)
    if numbered:
        console.print(
            Text("  ".join(f"{i}={c}" for i, c in enumerate(check_ids, start=1)), style="dim")
        )
    _print_outcomes(results, console)


def _print_outcomes(results: Sequence[GradeResult], console: Console) -> None:
    """One line per submission that hit a limit or could not be run, naming the outcome."""
    for result in results:
        if result.outcome != "ok":
            first = next((i.detail for i in result.incidents if i.outcome == result.outcome), "")
            console.print(
                Text(f"{result.submission}: {result.outcome}", style="yellow")
                + Text(f" ({first})" if first else "")
            )


def print_checks(result: GradeResult, console: Console | None = None) -> None:
    """Print one submission's checks with messages, and hints where a check did not pass.

    On a console at least :data:`WIDE_CONSOLE` columns wide this is one table (check, status,
    points, message, hint). Narrower consoles get the table without the two text columns, and
    each message and hint printed beneath it at full width.

    Args:
        result: The graded submission.
        console: Where to print; a fresh stdout console when omitted.
    """
    console = console or Console()
    result = printable_copy(result)  # see print_table
    wide = console.width >= WIDE_CONSOLE
    table = Table(
        title=Text(
            f"{result.submission}: {format_number(result.score)}/"
            f"{format_number(result.max_score)} ({_percent(result.score, result.max_score)})"
        ),
        show_lines=wide,
    )
    table.add_column("Check", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    if wide:
        table.add_column("Message", overflow="fold")
        table.add_column("Hint", overflow="fold")
    for check in result.checks:
        cells = [Text(check.id), _status_text(check.status), Text(_points(check))]
        if wide:
            cells += [Text(check.message), Text(_visible_hint(check))]
        table.add_row(*cells)
    counts = _status_counts(result.checks)
    table.caption = Text(", ".join(f"{n} {status}" for status, n in counts.items() if n))
    console.print(table)
    for incident in result.incidents:
        console.print(Text(f"{incident.outcome}: {incident.detail}", style="yellow"))
    if wide:
        return
    # Squeezed into 20-column cells, messages become a word per line; printed beneath the table
    # they keep whole sentences, and phrases like "units is 64, expected 128" stay findable.
    for check in result.checks:
        hint = _visible_hint(check)
        if not check.message and not hint:
            continue
        console.print(Text.assemble((check.id, "bold"), " ", _status_text(check.status)))
        if check.message:
            console.print(Padding(Text(check.message), (0, 0, 0, 2), expand=False))
        if hint:
            hint_text = Text.assemble(("Hint: ", "bold"), hint)
            console.print(Padding(hint_text, (0, 0, 0, 2), expand=False))


def _visible_hint(check: CheckResult) -> str:
    # A passing check needs no advice; showing it would read as a criticism.
    return check.hint if check.status != "pass" else ""


# --- charts -----------------------------------------------------------------------------------

_W, _H = 320, 160
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 8, 22, 30
_COLOURS = ("#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0f766e")
# Dash patterns tell series apart in greyscale print and for colour-blind readers.
_DASHES = ("", "6 3", "2 2", "8 3 2 3")


def svg_line_chart(
    series: Mapping[str, Sequence[float]],
    title: str,
    *,
    y_label: str = "",
    y_range: tuple[float, float] | None = None,
) -> Markup:
    """Draw per-epoch series as a small inline SVG line chart.

    Args:
        series: Name -> one value per epoch. Non-finite values (NaN, inf) are skipped; a series
            with a single finite value is drawn as a dot.
        title: Accessible name of the chart (``<title>`` and ``aria-label``).
        y_label: Optional label of the vertical axis.
        y_range: Vertical range to draw, so that charts set side by side share a scale; the
            series' own range when None (values outside it are clamped to the frame).

    Returns:
        Safe markup for an ``<svg>`` element in a 320x160 viewBox; with no finite values at all
        it shows the axes and "no data".
    """
    # Every fragment is a literal Markup template filled by Markup.format, which escapes each
    # argument: series names and titles come from the student's notebook.
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    mid_x, mid_y = _LEFT + plot_w / 2, _TOP + plot_h / 2
    points = {
        name: [(i, float(v)) for i, v in enumerate(values) if _finite(v)]
        for name, values in series.items()
    }
    finite = [v for pts in points.values() for _, v in pts]
    n_epochs = max((len(values) for values in series.values()), default=0)

    # No xmlns: inline SVG in HTML5 does not need one, and the report stays free of URLs.
    parts: list[Markup] = [
        Markup(
            '<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            'aria-label="{title}" class="chart">'
        ).format(w=_W, h=_H, title=title),
        Markup("<title>{}</title><desc>{}</desc>").format(
            title, _chart_description(series, points)
        ),
        Markup(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#9ca3af" '
            'stroke-width="1"/>'
        ).format(_LEFT, _TOP, plot_w, plot_h),
        Markup('<text x="{:.1f}" y="{}" text-anchor="middle" font-size="10">epoch</text>').format(
            mid_x, _H - 4
        ),
    ]
    if y_label:
        parts.append(
            Markup(
                '<text x="10" y="{y:.1f}" text-anchor="middle" font-size="10" '
                'transform="rotate(-90 10 {y:.1f})">{label}</text>'
            ).format(y=mid_y, label=y_label)
        )

    if not finite:
        parts.append(
            Markup(
                '<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="11" '
                'fill="#4b5563">no data</text>'
            ).format(mid_x, mid_y + 4)
        )
        parts.append(Markup("</svg>"))
        return Markup("").join(parts)

    lo, hi = y_range if y_range is not None else (min(finite), max(finite))
    if hi == lo:
        # A flat line would divide by zero; centre it in a band around the value.
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad

    def x_of(i: int) -> float:
        if n_epochs <= 1:
            return mid_x
        return _LEFT + plot_w * i / (n_epochs - 1)

    def y_of(v: float) -> float:
        return _TOP + plot_h * (hi - min(max(v, lo), hi)) / (hi - lo)

    # Axis ticks: the value range and the first/last epoch (1-based, as Keras prints them).
    for value in (hi, (hi + lo) / 2, lo):
        parts.append(
            Markup('<text x="{}" y="{:.1f}" text-anchor="end" font-size="9">{}</text>').format(
                _LEFT - 3, y_of(value) + 3, format_number(value, 3)
            )
        )
    tick = Markup('<text x="{:.1f}" y="{}" text-anchor="{}" font-size="9">{}</text>')
    tick_y = _TOP + plot_h + 11
    if n_epochs <= 1:
        parts.append(tick.format(mid_x, tick_y, "middle", 1))
    else:
        parts.append(tick.format(_LEFT, tick_y, "start", 1))
        parts.append(tick.format(_LEFT + plot_w, tick_y, "end", n_epochs))

    legend_x = float(_LEFT)
    for k, (name, pts) in enumerate(points.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        dash = _DASHES[k % len(_DASHES)] or "none"
        if len(pts) >= 2:
            coords = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in pts)
            parts.append(
                Markup(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5" '
                    'stroke-dasharray="{}"/>'
                ).format(coords, colour, dash)
            )
        # Dots mark the epochs while they are few enough to tell apart, and always the last one.
        for i, v in pts if len(pts) <= 12 else pts[-1:]:
            parts.append(
                Markup('<circle cx="{:.1f}" cy="{:.1f}" r="2" fill="{}"/>').format(
                    x_of(i), y_of(v), colour
                )
            )
        # Legend entries sit in the top margin, one after another: sample line, then name.
        parts.append(
            Markup(
                '<line x1="{:.1f}" y1="11" x2="{:.1f}" y2="11" stroke="{}" '
                'stroke-width="1.5" stroke-dasharray="{}"/>'
            ).format(legend_x, legend_x + 14, colour, dash)
        )
        parts.append(
            Markup('<text x="{:.1f}" y="14" font-size="9">{}</text>').format(legend_x + 17, name)
        )
        legend_x += 24 + 5.5 * len(name)
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _chart_description(
    series: Mapping[str, Sequence[float]], points: Mapping[str, list[tuple[int, float]]]
) -> str:
    if not series:
        return "No series."
    described = []
    for name, values in series.items():
        pts = points.get(name, [])
        if pts:
            epochs = f"{len(values)} epoch{'s' if len(values) != 1 else ''}"
            described.append(f"{name}: {epochs}, last {format_number(pts[-1][1], 4)}")
        else:
            described.append(f"{name}: no finite values")
    return "; ".join(described) + "."


# --- formatting helpers -----------------------------------------------------------------------


def status_icon(status: str) -> str:
    """The icon that accompanies a check or cell status word (tick, cross, warning, dash)."""
    return STATUS_ICONS.get(status, "?")


def format_number(value: float | int, digits: int = 6) -> str:
    """Format a number compactly: ``10`` not ``10.0``, ``0.8123`` not ``0.812345678``.

    Args:
        value: The number; NaN and infinities are written as ``nan``/``inf``.
        digits: Significant digits kept.

    Returns:
        The text.
    """
    return f"{value:.{digits}g}"


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _percent(score: float, max_score: float) -> str:
    if max_score <= 0:
        return "n/a"
    return f"{100 * score / max_score:.0f}%"


def _last_value(values: Sequence[float]) -> str:
    finite = [v for v in values if _finite(v)]
    if finite:
        return format_number(finite[-1], 4)
    return "nan" if values else "—"


def _tail(text: str, lines: int = TRACEBACK_LINES) -> str:
    kept = text.rstrip("\n").split("\n")
    if len(kept) <= lines:
        return "\n".join(kept)
    return f"… ({len(kept) - lines} earlier lines omitted)\n" + "\n".join(kept[-lines:])


def _points(check: CheckResult) -> str:
    return f"{format_number(check.score)}/{format_number(check.max_score)}"


def _status_text(status: str, *, suffix: str = "") -> Text:
    return Text(f"{status_icon(status)} {status}{suffix}", style=_RICH_STYLES.get(status, ""))


def _status_counts(checks: Sequence[CheckResult]) -> dict[str, int]:
    counts = dict.fromkeys(("pass", "fail", "error", "skipped"), 0)
    for check in checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    return counts


def _gradebook_caption(results: Sequence[GradeResult]) -> str:
    if not results:
        return "No submissions."
    total = sum(r.score for r in results)
    total_max = sum(r.max_score for r in results)
    counts = _status_counts([c for r in results for c in r.checks])
    mean = total / len(results)
    mean_max = total_max / len(results)
    statuses = ", ".join(f"{status_icon(s)} {n} {s}" for s, n in counts.items())
    return (
        f"{len(results)} submission{'s' if len(results) != 1 else ''}; "
        f"mean {format_number(mean, 4)}/{format_number(mean_max, 4)} "
        f"({_percent(total, total_max)}); checks: {statuses}"
    )


def _summary(result: GradeResult) -> dict[str, t.Any]:
    """Derived facts both templates show, computed once here rather than in template logic."""
    failed_cells = [c for c in result.cells if c.status in ("error", "timeout")]
    return {
        "percent": _percent(result.score, result.max_score),
        "status_counts": _status_counts(result.checks),
        "failed_cells": failed_cells,
        "skipped_cells": sum(1 for c in result.cells if c.status == "skipped"),
        "limits_text": (
            ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.budget_limits.items())
            or "no caps"
        ),
        "layer_diffs": layer_diffs(result.checks),
        "fit_curves": fit_curves(result),
        "confusions": confusions(result.checks),
        "final": final_score(result),  # issue 17: manual points and overrides
    }
