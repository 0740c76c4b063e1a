"""The whole report in a terminal: the facts of ``report.html``, as rich tables, without charts.

:func:`grader.report.render.print_checks` is the short form ``grader check`` starts with; this
adds the layer-by-layer diff, the final metrics beside the reference's, the confusion matrices
and the failed cells with their hints."""

from __future__ import annotations

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader.budget import describe_limits
from grader.options import View
from grader.report.escape import printable_copy
from grader.report.facts import (
    LAYER_OP_TEXT,
    Confusion,
    LayerDiff,
    cell_hint,
    confusions,
    fit_curves,
    for_view,
    layer_diffs,
)
from grader.report.render import (
    TRACEBACK_LINES,
    format_number,
    print_checks,
    status_icon,
)
from grader.results import GradeResult


def print_report(result: GradeResult, view: View, console: Console | None = None) -> None:
    """Print everything the HTML report shows, for ``view``, except the charts.

    Args:
        result: The graded submission (complete; redacted here for ``view``).
        view: ``student`` or ``instructor`` (see :func:`grader.report.facts.for_view`).
        console: Where to print; a fresh stdout console when omitted.
    """
    console = console or Console()
    # As grader.report.render.print_table: rich Text only, from a copy without control characters.
    shown = printable_copy(for_view(result, view))
    limits = describe_limits(shown.budget_limits)
    console.print(
        Text(
            f"{view.capitalize()} view. Budget {shown.budget} ({limits or 'no caps'}); "
            f"data {shown.data.source}: {shown.data.description}; seed {shown.seed}.",
            style="dim",
        )
    )
    for notice in shown.notices:
        console.print(Text(f"• {notice}"))
    print_checks(shown, console)
    for diff in layer_diffs(shown.checks):
        if diff.differences or diff.trainable_differences:
            console.print(_layer_table(diff))
        else:
            # Seven identical rows say less than one line in a terminal.
            console.print(Text(f"{diff.check.id}: {diff.summary}, as the reference's."))
    _print_fits(shown, console)
    for confusion in confusions(shown.checks):
        console.print(_confusion_table(confusion))
    _print_failed_cells(shown, console)


def _marked(text: str, differs: bool) -> Text:
    return Text(f"≠ {text}", style="bold reverse") if differs else Text(text)


def _layer_table(diff: LayerDiff) -> Table:
    check = diff.check
    table = Table(
        title=Text(
            f"{check.id}: {status_icon(check.status)} {check.status}, "
            f"{diff.summary} (≠ marks a differing field)"
        ),
        show_lines=True,
    )
    table.add_column("#", justify="right")
    table.add_column("Expected (reference)", overflow="fold")
    table.add_column("Submitted", overflow="fold")
    table.add_column("Result", overflow="fold")
    for row in diff.rows:
        cells = []
        for side, gap in (("expected", "extra layer"), ("actual", "missing from your model")):
            layer = row[side]
            if layer is None:
                cells.append(Text(gap, style="italic"))
                continue
            mark = side == "actual"
            text = Text()
            text.append_text(
                _marked(f"{layer['type']} {layer['name']}", mark and row["op"] == "replaced")
            )
            for key, value in layer["config"].items():
                text.append("\n")
                text.append_text(_marked(f"{key}={value}", mark and key in row["differing"]))
            text.append("\n")
            text.append_text(
                _marked(
                    f"output {layer['output_shape']}", mark and "output_shape" in row["differing"]
                )
            )
            text.append("\n")
            text.append_text(
                _marked(f"{layer['params']:,} params", mark and "params" in row["differing"])
            )
            text.append("\n")
            text.append_text(
                _marked(
                    "trainable" if layer["trainable"] else "frozen",
                    mark and row["trainable_differs"],
                )
            )
            cells.append(text)
        result = LAYER_OP_TEXT[row["op"]] + (
            "; trainable flag differs" if row["trainable_differs"] else ""
        )
        table.add_row(str(row["position"]), *cells, Text(result))
    params = diff.parameters
    if params:
        expected, actual = params["expected"], params["actual"]
        table.caption = Text(
            f"parameters, trainable / non-trainable: expected {expected['trainable']:,} / "
            f"{expected['non_trainable']:,}; submitted {actual['trainable']:,} / "
            f"{actual['non_trainable']:,}"
        )
    return table


def _print_fits(result: GradeResult, console: Console) -> None:
    curves = fit_curves(result)
    if not curves:
        return
    table = Table(
        title=Text("Training runs: final metrics, yours and the reference's (same budget)")
    )
    for name in ("#", "Model", "Epochs", "Samples", "Final metrics", "Reference"):
        table.add_column(name, overflow="fold")

    def last(history: dict[str, list[float]]) -> str:
        return "; ".join(f"{k} {format_number(v[-1], 4) if v else '—'}" for k, v in history.items())

    for fc in curves:
        fit = fc.fit
        table.add_row(
            *(
                Text(cell)
                for cell in (
                    str(fc.number),
                    fit.model,
                    f"{fit.epochs_run}/{fit.epochs_requested}",
                    f"{fit.samples_used}/{fit.samples_requested}",
                    last(fit.history) or "no history",
                    last(fc.reference.history) if fc.reference else "none",
                )
            )
        )
    console.print(table)


def _confusion_table(c: Confusion) -> Table:
    table = Table(
        title=Text(
            f"{c.check.id}: confusion on held-back images (rows true, columns predicted; "
            "[correct] counts in brackets)"
        )
    )
    table.add_column(Text("True \\ predicted"))
    for label in c.columns:
        table.add_column(Text(c.names[label]), justify="right")
    table.add_column("Correct", justify="right")
    for i, label in enumerate(c.rows):
        counts = [
            Text(f"[{n}]", style="bold") if column == label else Text(str(n))
            for column, n in zip(c.columns, c.counts[i], strict=True)
        ]
        table.add_row(
            Text(c.names[label]), *counts, Text(f"{100 * c.recall(i):.0f}% of {c.row_total(i)}")
        )
    return table


def _print_failed_cells(result: GradeResult, console: Console) -> None:
    for cell in result.cells:
        if cell.status not in ("error", "timeout"):
            continue
        console.print(
            Text.assemble(
                (f"Cell {cell.index}: {status_icon(cell.status)} {cell.status}", "bold"),
                f" after {cell.duration_s:.1f} s",
            )
        )
        console.print(Padding(Text(cell.source.rstrip()), (0, 0, 0, 2)))
        if cell.error_name or cell.error_value:
            console.print(Text(f"  {cell.error_name}: {cell.error_value}", style="bold red"))
        hint = cell_hint(cell)
        if hint:
            console.print(Text.assemble("  ", ("Hint: ", "bold"), hint))
        if cell.traceback:
            lines = cell.traceback.rstrip("\n").split("\n")[-TRACEBACK_LINES:]
            console.print(Padding(Text("\n".join(lines), style="dim"), (0, 0, 0, 2)))
