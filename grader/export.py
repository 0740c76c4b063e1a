"""What a batch hands to people and to the LMS: gradebooks, Gradescope results, a class report.

- ``gradebook.csv``: one row per submission, one column per check, and the total.
- ``canvas.csv``: the columns Canvas' gradebook import expects (``Student, ID, SIS User ID,
  SIS Login ID, Section``, the assignment, and a ``Points Possible`` row).
- ``<id>/results.json``: Gradescope's autograder results format.
- ``index.html``: the class report (score histogram, pass rate of every check, the slowest and
  the failing submissions, with links to their reports).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from grader.escape import csv_text
from grader.feedback import for_view
from grader.report import STATUS_ICONS, format_number, templates_dir
from grader.results import GradeResult, write_atomic
from grader.review.merge import effective_check_scores, final_score

if t.TYPE_CHECKING:
    from grader.batch import RosterEntry
    from grader.review.similarity import LookalikePair

EntryStatus = t.Literal["graded", "cached", "done", "failed"]
CLASS_REPORT_TEMPLATE = "class_report.html.j2"
HISTOGRAM_BINS = 10
SLOWEST = 10
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


@dataclass(frozen=True)
class BatchEntry:
    """One submission of a batch, as the gradebooks and the class report see it."""

    student_id: str
    name: str
    status: EntryStatus
    """``graded`` now; ``cached`` (same notebook graded before, result reused); ``done``
    (already in the output folder from an earlier run); ``failed`` (could not be graded)."""
    result: GradeResult
    """The result without cells and fit histories, which the class views do not need."""
    seconds: float
    """Seconds grading took when the notebook was executed, in this run or an earlier one
    (0 when it could not be graded)."""
    reason: str = ""
    """Why a failed submission could not be graded."""
    source: str = ""
    """The notebook's path as found in the hand-in."""
    worker: str = ""
    """Where it was executed in this run (a Dask worker's address, or this process)."""


def check_columns(entries: Sequence[BatchEntry]) -> list[tuple[str, str, float]]:
    """``(id, title, points)`` of every check, in rubric order."""
    seen: dict[str, tuple[str, str, float]] = {}
    for entry in entries:
        for check in entry.result.checks:
            seen.setdefault(check.id, (check.id, check.title, check.max_score))
    return list(seen.values())


def gradebook_csv(entries: Sequence[BatchEntry]) -> str:
    """The class gradebook: student, status, the points of every check, total and maximum.

    Checks show the points that count (an instructor's override where there is one). When the
    rubric has manual items or a check was overridden, review columns follow the checks: each
    manual item's points or ``pending``, ``automatic`` (the checks' total as graded) and
    ``overrides``; ``total`` is then ``pending`` until every manual item is graded, never a
    silent 0 (see :mod:`grader.review.merge`).
    """
    columns = check_columns(entries)
    manual = _manual_columns(entries)
    reviewed = bool(manual) or any(e.result.overrides for e in entries)
    extra = [*manual, "automatic", "overrides"] if reviewed else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [csv_text(h) for h in ("student_id", "name", "status", *[c[0] for c in columns], *extra)]
        + ["total", "max_score"]
    )
    for entry in entries:
        points = effective_check_scores(entry.result)
        final = final_score(entry.result)
        review: list[str] = []
        if reviewed:
            answers = {m.id: m for m in entry.result.manual}
            for item in manual:
                found = answers.get(item)
                review.append(
                    ""
                    if found is None
                    else "pending"
                    if found.status != "graded" or found.score is None
                    else format_number(found.score)
                )
            review.append(format_number(entry.result.score))
            review.append(
                csv_text(
                    "; ".join(
                        f"{o.check}: {format_number(o.automatic_score)} -> "
                        f"{format_number(o.score)} ({o.reason})"
                        for o in entry.result.overrides
                    )
                )
            )
        # Text cells (names and ids come from LMS exports and rosters) are neutralised; the
        # numbers are the grader's own and stay numbers.
        writer.writerow(
            [
                csv_text(entry.student_id),
                csv_text(entry.name),
                csv_text(entry.status),
                *[format_number(points[c[0]]) if c[0] in points else "" for c in columns],
                *review,
                final.text,
                format_number(final.max_score),
            ]
        )
    return buf.getvalue()


def _manual_columns(entries: Sequence[BatchEntry]) -> list[str]:
    seen: dict[str, None] = {}
    for entry in entries:
        for item in entry.result.manual:
            seen.setdefault(item.id, None)
    return list(seen)


def canvas_csv(
    entries: Sequence[BatchEntry],
    *,
    column: str,
    points_possible: float,
    roster: Mapping[str, RosterEntry] | None = None,
) -> str:
    """A CSV that Canvas' gradebook imports.

    Args:
        entries: the batch; ``student_id`` must be the Canvas user id (as in Canvas' zip).
        column: the assignment's column header, as in Canvas' own export
            (``Homework 3 (123456)``) so Canvas matches it to the existing assignment.
        points_possible: the assignment's maximum (manual items included).
        roster: names, SIS ids and sections, when known.

    A submission with manual items still pending gets an empty score: Canvas leaves it
    ungraded rather than importing a 0.
    """
    roster = roster or {}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_text(c) for c in (*CANVAS_COLUMNS, column)])
    writer.writerow(["    Points Possible", "", "", "", "", format_number(points_possible)])
    for entry in entries:
        known = roster.get(entry.student_id)
        text = [
            (known.name if known else "") or entry.name or entry.student_id,
            known.id if known else entry.student_id,
            known.sis_user_id if known else "",
            known.sis_login_id if known else "",
            known.section if known else "",
        ]
        final = final_score(entry.result)
        score = "" if final.score is None else format_number(final.score)
        writer.writerow([*(csv_text(cell) for cell in text), score])
    return buf.getvalue()


def gradescope_results(result: GradeResult, *, failure: str = "") -> dict[str, t.Any]:
    """``results.json`` in Gradescope's autograder format, one test per check.

    Args:
        result: the graded submission; Gradescope shows it to the student, so it is rendered
            in the student view (hidden checks as status and points only).
        failure: why the notebook could not be graded, shown at the top.
    """
    result = for_view(result, "student")
    overrides = {o.check: o for o in result.overrides}
    final = final_score(result)
    tests = []
    for number, check in enumerate(result.checks, start=1):
        output = check.message
        if check.status != "pass" and check.hint:
            output = f"{output}\nHint: {check.hint}".strip()
        score = check.score
        if check.id in overrides:
            score = overrides[check.id].score
            output = (
                f"{output}\nAdjusted by your instructor from {format_number(check.score)} to "
                f"{format_number(score)} points: {overrides[check.id].reason}"
            ).strip()
        tests.append(
            {
                "name": f"{check.title} ({check.id})",
                "number": str(number),
                "score": score,
                "max_score": check.max_score,
                "status": "passed" if check.status == "pass" else "failed",
                "output": output,
                "visibility": "visible",
                "tags": [check.id.split(".")[0]],
            }
        )
    for number, item in enumerate(result.manual, start=len(tests) + 1):
        test: dict[str, t.Any] = {
            "name": f"{item.title} ({item.id})",
            "number": str(number),
            "max_score": item.max_score,
            "visibility": "visible",
            "tags": ["manual"],
        }
        if item.status == "graded" and item.score is not None:
            met = "".join(f"\n- {c}" for c in item.criteria)
            test["score"] = item.score
            test["output"] = (f"{item.comment}\n" if item.comment else "") + (
                f"Criteria met:{met}" if met else ""
            )
        else:
            # No score at all rather than 0: the points are not decided yet.
            test["output"] = "Pending: your instructor grades this answer by hand."
        tests.append(test)
    lines = [f"Not graded: {failure}"] if failure else []
    if final.pending:
        lines += [
            f"Score so far {format_number(final.automatic + final.manual)}/"
            f"{format_number(final.max_score)}: {len(final.pending)} answer(s) graded by hand "
            "are pending."
        ]
    else:
        lines += [
            f"Score {format_number(t.cast(float, final.score))}/{format_number(final.max_score)}."
        ]
    lines += result.notices
    return {
        "score": final.automatic + final.manual if final.pending else final.score,
        "execution_time": round(result.timings.get("total", 0.0)),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def gradescope_json(result: GradeResult, *, failure: str = "") -> str:
    """:func:`gradescope_results` as JSON text."""
    return json.dumps(gradescope_results(result, failure=failure), indent=2) + "\n"


def render_class_report(
    entries: Sequence[BatchEntry],
    *,
    title: str,
    budget: str,
    lookalikes: Sequence[LookalikePair] = (),
) -> str:
    """The class report as one self-contained HTML page.

    Args:
        entries: the batch, in gradebook order.
        title: the assignment's title.
        budget: the budget the class was graded at.
        lookalikes: look-alike pairs (:mod:`grader.review.similarity`), shown with their
            matching parts side by side.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    graded = [e for e in entries if e.status != "failed"]
    scores = [e.result.score for e in graded]
    max_score = max((e.result.max_score for e in entries), default=0.0)
    return env.get_template(CLASS_REPORT_TEMPLATE).render(
        title=title,
        budget=budget,
        entries=entries,
        counts={s: sum(e.status == s for e in entries) for s in ("graded", "cached", "done")},
        failed=[e for e in entries if e.status == "failed"],
        flagged=[e for e in graded if e.result.flags],
        graded_count=len(graded),
        max_score=max_score,
        mean=statistics.fmean(scores) if scores else None,
        median=statistics.median(scores) if scores else None,
        histogram=histogram(scores, max_score),
        checks=check_pass_rates(graded),
        slowest=sorted((e for e in graded if e.seconds > 0), key=lambda e: -e.seconds)[:SLOWEST],
        below_full=sorted(
            (e for e in graded if any(c.status != "pass" for c in e.result.checks)),
            key=lambda e: (e.result.score, e.student_id),
        ),
        icons=STATUS_ICONS,
        lookalikes=lookalikes,
        pending=[e for e in entries if final_score(e.result).pending],
    )


def histogram(scores: Sequence[float], max_score: float) -> list[dict[str, t.Any]]:
    """Scores counted in :data:`HISTOGRAM_BINS` equal bins from 0 to ``max_score``.

    The last bin includes full marks.
    """
    if max_score <= 0:
        return []
    width = max_score / HISTOGRAM_BINS
    counts = [0] * HISTOGRAM_BINS
    for score in scores:
        counts[min(HISTOGRAM_BINS - 1, max(0, int(score / width)))] += 1
    return [{"low": i * width, "high": (i + 1) * width, "count": n} for i, n in enumerate(counts)]


def check_pass_rates(entries: Sequence[BatchEntry]) -> list[dict[str, t.Any]]:
    """For every check: how many submissions passed it, failed it, or could not be judged."""
    rows = []
    for check_id, title, points in check_columns(entries):
        statuses = [c.status for e in entries for c in e.result.checks if c.id == check_id]
        passed = statuses.count("pass")
        rows.append(
            {
                "id": check_id,
                "title": title,
                "points": points,
                "passed": passed,
                "failed": statuses.count("fail"),
                "error": statuses.count("error"),
                "rate": passed / len(statuses) if statuses else 0.0,
            }
        )
    return rows


def write_class_outputs(
    entries: Sequence[BatchEntry],
    out: Path,
    *,
    title: str,
    budget: str,
    canvas_column: str,
    points_possible: float,
    roster: Mapping[str, RosterEntry] | None = None,
    lookalikes: Sequence[LookalikePair] = (),
) -> dict[str, Path]:
    """Write ``gradebook.csv``, ``canvas.csv`` and ``index.html`` into ``out``, each atomically.

    Returns:
        ``{"gradebook": path, "canvas": path, "report": path}``.
    """
    paths = {
        "gradebook": out / "gradebook.csv",
        "canvas": out / "canvas.csv",
        "report": out / "index.html",
    }
    write_atomic(paths["gradebook"], gradebook_csv(entries))
    write_atomic(
        paths["canvas"],
        canvas_csv(entries, column=canvas_column, points_possible=points_possible, roster=roster),
    )
    write_atomic(
        paths["report"],
        render_class_report(entries, title=title, budget=budget, lookalikes=lookalikes),
    )
    return paths
