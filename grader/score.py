"""The score rule: what a submission scores once every review decision is applied.

``final = sum over checks (the override's points where one exists, else the check's own)
+ sum over manual items (the points a person gave)``. While any manual item is pending the
final score is unknown (``None``), never a silent 0: exports write ``pending``. The automatic
verdict is never replaced: ``checks[]`` keeps it, and ``overrides[]`` sits beside it. The
review desk (:mod:`grader.review.merge`) writes the decisions into a result; reports and
exports read the score through :func:`final_score`.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.report.formats import format_number
from grader.results import GradeResult


@dataclass(frozen=True)
class FinalScore:
    """A submission's score with every review decision applied."""

    score: float | None
    """Automatic points (overrides applied) plus manual points; ``None`` while any manual item
    is pending."""
    max_score: float
    """Automatic and manual points available."""
    automatic: float
    """Points of the automatic checks with overrides applied."""
    manual: float
    """Points of the manual items graded so far."""
    pending: tuple[str, ...]
    """Ids of the manual items still waiting for a person."""

    @property
    def text(self) -> str:
        """The score for a gradebook cell: a number, or ``pending``."""
        return "pending" if self.score is None else format_number(self.score)


def effective_check_scores(result: GradeResult) -> dict[str, float]:
    """Check id -> the points that count: an override's, else the automatic ones."""
    overrides = {o.check: o.score for o in result.overrides}
    return {c.id: overrides.get(c.id, c.score) for c in result.checks}


def final_score(result: GradeResult) -> FinalScore:
    """Apply the score rule to a result (see the module's docstring)."""
    automatic = round(sum(effective_check_scores(result).values()), 6)
    manual = round(sum(m.score or 0.0 for m in result.manual if m.status == "graded"), 6)
    pending = tuple(m.id for m in result.manual if m.status != "graded")
    return FinalScore(
        score=None if pending else round(automatic + manual, 6),
        max_score=round(result.max_score + sum(m.max_score for m in result.manual), 6),
        automatic=automatic,
        manual=manual,
        pending=pending,
    )
