"""A class's grades in a terminal: one row per submission, one column per check, and the
outcome of each submission that hit a limit (``grader grade`` prints it after a batch)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.report.escape import printable_copy
from grader.report.formats import (
    RICH_STYLES,
    format_number,
    percent,
    status_counts,
    status_icon,
)
from grader.results import GradeResult


def print_table(results: Sequence[GradeResult], console: Console | None = None) -> None:
    """Print a gradebook: one row per submission, one column per check.

    Args:
        results: Graded submissions, in the order to show them.
        console: Where to print; a fresh stdout console when omitted.
    """
    console = console or Console()
    # Student text is printed as rich Text (never parsed for markup), from a copy without
    # control characters (no escape sequence, terminal link or carriage return gets through).
    results = [printable_copy(_gradebook_fields(result)) for result in results]
    check_ids: list[str] = []
    for result in results:
        for check in result.checks:
            if check.id not in check_ids:
                check_ids.append(check.id)

    table = Table(
        title="Grades (✔ pass, ✘ fail, ⚠ error; points earned)",
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
                        style=RICH_STYLES.get(found.status, ""),
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


def _gradebook_fields(result: GradeResult) -> GradeResult:
    """``result`` without what the gradebook never prints: copying a class's check details
    (layer lists, confusion matrices) for the table took longer than restoring the class."""
    return dataclasses.replace(
        result,
        checks=[dataclasses.replace(c, details={}, message="", hint="") for c in result.checks],
        cells=[],
        fits=[],
        reference_fits=[],
        notices=[],
        flags=[],
        manual=[],
        locked_cells=[],
    )


def _print_outcomes(results: Sequence[GradeResult], console: Console) -> None:
    """One line per submission that hit a limit or could not be run, naming the outcome."""
    for result in results:
        if result.outcome != "ok":
            first = next((i.detail for i in result.incidents if i.outcome == result.outcome), "")
            console.print(
                Text(f"{result.submission}: {result.outcome}", style="yellow")
                + Text(f" ({first})" if first else "")
            )


def _gradebook_caption(results: Sequence[GradeResult]) -> str:
    if not results:
        return "No submissions."
    total = sum(r.score for r in results)
    total_max = sum(r.max_score for r in results)
    counts = status_counts([c for r in results for c in r.checks])
    mean = total / len(results)
    mean_max = total_max / len(results)
    statuses = ", ".join(f"{status_icon(s)} {n} {s}" for s, n in counts.items())
    return (
        f"{len(results)} submission{'s' if len(results) != 1 else ''}; "
        f"mean {format_number(mean, 4)}/{format_number(mean_max, 4)} "
        f"({percent(total, total_max)}); checks: {statuses}"
    )
