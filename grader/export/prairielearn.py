"""PrairieLearn: an external grader's ``results.json``.

PrairieLearn's external graders write ``/grade/results/results.json`` (PrairieLearn docs,
"External grading": the results format): ``gradable`` (false: the submission could not be
graded and does not use up an attempt), ``score`` in [0, 1], ``message``, ``output``,
``images`` (each ``{"label", "url"}``, the URL a ``data:`` URI) and ``tests[]``, each with
``name``, ``description``, ``points``, ``max_points``, ``message``, ``output`` and ``images``.
Every submission's is written to ``OUT/<student id>/prairielearn.json``; an external grader's
entrypoint runs ``grader grade /grade/student --one-student ... --out /grade/out`` and copies
``/grade/out/submission/prairielearn.json`` to ``/grade/results/results.json``.

Images are SVG (the report's own charts): the training curves beside the reference's, and each
visible accuracy check's confusion matrix. PrairieLearn shows them with ``<img>``, where an SVG
runs no script.
"""

from __future__ import annotations

import base64
import html
import json
import typing as t

from grader.report.charts import svg_line_chart
from grader.report.facts import Confusion, confusions, fit_curves, for_view
from grader.report.formats import format_number
from grader.results import GradeResult
from grader.score import effective_check_scores, final_score

_SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'


def prairielearn_results(
    result: GradeResult, *, failure: str = "", report: str | None = None
) -> dict[str, t.Any]:
    """``results.json`` in PrairieLearn's external grader format.

    Args:
        result: the graded submission, shown in the student view.
        failure: why the notebook could not be graded; the result is then not ``gradable``.
        report: the student's Markdown report of ``result``, when the caller has rendered it
            already; None renders it here.
    """
    from grader.report.render import render_markdown

    shown = for_view(result, "student")
    final = final_score(shown)
    points = effective_check_scores(shown)
    earned = final.automatic + final.manual
    score = min(1.0, max(0.0, earned / final.max_score)) if final.max_score > 0 else 0.0
    images_by_check = {c.check.id: c for c in confusions(shown.checks) if not c.check.hidden}
    tests = []
    for check in shown.checks:
        message = check.message
        if check.status != "pass" and check.hint:
            message = f"{message}\nHint: {check.hint}".strip()
        test: dict[str, t.Any] = {
            "name": check.title,
            "description": check.id,
            "points": points[check.id],
            "max_points": check.max_score,
            "message": message,
            "output": "",
            "images": [],
        }
        if check.id in images_by_check:
            test["images"].append(
                {
                    "label": f"Confusion matrix: {check.title}",
                    "url": _data_uri(confusion_svg(images_by_check[check.id])),
                }
            )
        tests.append(test)
    summary = f"Score {format_number(earned)}/{format_number(final.max_score)}."
    if final.pending:
        summary += f" {len(final.pending)} answer(s) graded by hand are pending."
    return {
        "gradable": not failure,
        "score": 0.0 if failure else round(score, 6),
        "message": f"Not graded: {failure}" if failure else summary,
        "output": render_markdown(result, "student") if report is None else report,
        "images": _curve_images(shown),
        "tests": tests,
    }


def prairielearn_json(result: GradeResult, *, failure: str = "", report: str | None = None) -> str:
    """:func:`prairielearn_results` as JSON text."""
    data = prairielearn_results(result, failure=failure, report=report)
    return json.dumps(data, indent=2) + "\n"


def _curve_images(result: GradeResult) -> list[dict[str, str]]:
    images = []
    for curves in fit_curves(result):
        for panel in curves.panels:
            series = {f"yours: {k}": v for k, v in panel.student.items()}
            series.update({f"reference: {k}": v for k, v in panel.reference.items()})
            title = f"Fit {curves.number} ({curves.fit.model}): {panel.metric}"
            svg = str(svg_line_chart(series, title, y_range=panel.y_range))
            images.append({"label": title, "url": _data_uri(svg)})
    return images


def confusion_svg(confusion: Confusion) -> str:
    """The confusion matrix as a standalone SVG: one cell per (true, predicted) pair, shaded by
    the share of its true class."""
    cell, left, top = 28, 90, 20
    width = left + cell * len(confusion.columns) + 10
    height = top + cell * len(confusion.rows) + 30
    parts = [
        f'<svg {_SVG_NS} viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img"><title>{html.escape(confusion.check.title)}: confusion matrix</title>'
    ]
    for i, row in enumerate(confusion.rows):
        total = confusion.row_total(i) or 1
        y = top + i * cell
        name = html.escape(confusion.names.get(row, str(row)))
        parts.append(
            f'<text x="{left - 4}" y="{y + 18}" text-anchor="end" font-size="10">{name}</text>'
        )
        for j, _ in enumerate(confusion.columns):
            count = confusion.counts[i][j]
            shade = round(255 - 200 * count / total)
            x = left + j * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                f'fill="rgb({shade},{shade},255)" stroke="#fff"/>'
                f'<text x="{x + cell / 2}" y="{y + 18}" text-anchor="middle" font-size="9">'
                f"{count}</text>"
            )
    parts.append(
        f'<text x="{left + cell * len(confusion.columns) / 2}" y="{height - 8}" '
        'text-anchor="middle" font-size="10">predicted class (columns, in label order)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _data_uri(svg: str) -> str:
    if _SVG_NS not in svg:
        svg = svg.replace("<svg ", f"<svg {_SVG_NS} ", 1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
