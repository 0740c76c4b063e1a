"""The class report, ``index.html``: one self-contained page with the score histogram, the pass
rate of every check, the submissions flagged, failed or not graded, and the slowest."""

from __future__ import annotations

import statistics
import typing as t
from collections.abc import Sequence

from grader.export.entry import BatchEntry
from grader.export.gradebook import check_columns
from grader.report.formats import STATUS_ICONS
from grader.report.render import jinja_environment
from grader.score import final_score

if t.TYPE_CHECKING:
    from grader.lookalikes.finder import LookalikePair

CLASS_REPORT_TEMPLATE = "class_report.html.j2"
HISTOGRAM_BINS = 10
SLOWEST = 10


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
        lookalikes: look-alike pairs (:mod:`grader.lookalikes.finder`), shown with their
            matching parts side by side.
    """
    env = jinja_environment()
    # A file that is not a notebook has no score: it is listed as not graded, never as a 0.
    graded = [e for e in entries if not e.not_graded]
    scores = [e.result.score for e in graded]
    max_score = max((e.result.max_score for e in entries), default=0.0)
    return env.get_template(CLASS_REPORT_TEMPLATE).render(
        title=title,
        budget=budget,
        entries=entries,
        counts={s: sum(e.status == s for e in entries) for s in ("graded", "cached", "done")},
        failed=[e for e in entries if e.not_graded],
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
                "not_judged": statuses.count("not_judged"),
                "rate": passed / len(statuses) if statuses else 0.0,
            }
        )
    return rows
