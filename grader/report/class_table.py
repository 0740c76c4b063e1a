"""A class's grades in a terminal: one row per submission, one column per check, and the
outcome of each submission that hit a limit (``grader grade`` prints it after a batch)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
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

    Nothing is ever cut: scores and points keep their full width, long submission ids fold
    onto more lines, and check columns that do not fit the console's width go to a second
    table (and a third...) with the same rows.

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
    rows = [_row(result, check_ids) for result in results]
    # Full check ids as headers when they fit; numbered columns and a legend when they don't.
    headers = check_ids
    groups = _fitting_groups(console, headers, rows)
    if len(groups) > 1:
        headers = [str(i) for i in range(1, len(check_ids) + 1)]
        groups = _fitting_groups(console, headers, rows)
    for n, group in enumerate(groups):
        table = _table(headers, rows, group)
        if n == 0:
            table.title = "Grades (✔ pass, ✘ fail, ⚠ error; points earned)"
        if n == len(groups) - 1:
            table.caption = Text(_gradebook_caption(results))
        console.print(table)
    if headers is not check_ids:
        console.print(
            Text("  ".join(f"{i}={c}" for i, c in enumerate(check_ids, start=1)), style="dim")
        )
    _print_outcomes(results, console)


Row = list[Text]
"""A submission's cells: its id, its score, then one per check."""


def _row(result: GradeResult, check_ids: Sequence[str]) -> Row:
    by_id = {check.id: check for check in result.checks}
    row = [
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
    return row


def _table(headers: Sequence[str], rows: Sequence[Row], group: Sequence[int]) -> Table:
    """The table of the check columns ``group`` (indices into ``headers``), beside each
    submission's id and score."""
    table = Table(box=box.SIMPLE_HEAD, show_lines=False, collapse_padding=True)
    # Ids fold rather than lose their end: two students' ids often differ only there.
    longest_id = max((row[0].cell_len for row in rows), default=10)
    table.add_column("Submission", overflow="fold", min_width=min(longest_id, 12))
    # A score is never shortened: its column is as wide as its widest value.
    table.add_column(
        "Score",
        justify="right",
        no_wrap=True,
        min_width=max((row[1].cell_len for row in rows), default=5),
    )
    for i in group:
        widest = max((row[2 + i].cell_len for row in rows), default=1)
        table.add_column(
            Text(headers[i]),
            justify="center",
            no_wrap=True,
            min_width=max(widest, cell_len(headers[i]), 4),
        )
    for row in rows:
        table.add_row(row[0], row[1], *(row[2 + i] for i in group))
    return table


def _fitting_groups(
    console: Console, headers: Sequence[str], rows: Sequence[Row]
) -> list[list[int]]:
    """The check columns split into groups, each making a table no wider than the console
    (at least one column per group, however narrow the console)."""
    # Measured on one row of each column's widest cell (the id at the width it folds to),
    # on an unbounded console: rich caps a measurement at the console's width.
    widest: Row = [Text("x" * min(max((r[0].cell_len for r in rows), default=10), 12))]
    for column in range(1, 2 + len(headers)):
        widest.append(max((row[column] for row in rows), key=lambda c: c.cell_len, default=Text()))
    unbounded = console.options.update_width(1_000_000)
    groups: list[list[int]] = [[]]
    for i in range(len(headers)):
        trial = _table(headers, [widest], [*groups[-1], i])
        if groups[-1] and Measurement.get(console, unbounded, trial).minimum > console.width:
            groups.append([])
        groups[-1].append(i)
    return groups


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
