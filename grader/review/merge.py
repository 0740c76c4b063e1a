"""The merge rule: what a submission scores once people have reviewed it.

``final = sum over checks (the override's points where one exists, else the check's own)
+ sum over manual items (the points a person gave)``. While any manual item is pending the
final score is unknown (``None``), never a silent 0: exports write ``pending``. The automatic
verdict is never replaced: ``checks[]`` keeps it, and ``overrides[]`` sits beside it.

``result.json`` on disk is always ``merged(automatic result, review database)``:
:func:`automatic_part` strips what an earlier merge added, so merging again after a re-grade
or after more decisions gives the same file as merging once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from grader.results import CheckOverride, GradeResult, ManualAnswer


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
        from grader.report.formats import format_number

        return "pending" if self.score is None else format_number(self.score)


def effective_check_scores(result: GradeResult) -> dict[str, float]:
    """Check id -> the points that count: an override's, else the automatic ones."""
    overrides = {o.check: o.score for o in result.overrides}
    return {c.id: overrides.get(c.id, c.score) for c in result.checks}


def final_score(result: GradeResult) -> FinalScore:
    """Apply the merge rule to a result (see the module's docstring)."""
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


def automatic_part(result: GradeResult) -> GradeResult:
    """The result as ``grader grade`` wrote it: manual items pending, no overrides."""
    return dataclasses.replace(
        result,
        manual=[
            ManualAnswer(
                id=m.id,
                title=m.title,
                max_score=m.max_score,
                answer=m.answer,
                answer_digest=m.answer_digest,
                cells=list(m.cells),
            )
            for m in result.manual
        ],
        overrides=[],
    )


@dataclass(frozen=True)
class ManualDecision:
    """A person's grade for one answer (as the review database holds it)."""

    points: float
    criteria: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class OverrideDecision:
    """A person's score for one check, and the automatic verdict it was made against."""

    score: float
    reason: str
    automatic_status: str
    automatic_score: float


def merged(
    result: GradeResult,
    *,
    manual: Mapping[tuple[str, str], ManualDecision],
    earlier_answers: Iterable[str] = (),
    overrides: Mapping[str, OverrideDecision],
) -> tuple[GradeResult, list[str]]:
    """Apply decisions to a result's automatic part.

    Args:
        result: a result; what an earlier merge added is stripped first.
        manual: ``(item id, answer digest) -> decision``; a decision applies only to the
            answer it was made on.
        earlier_answers: item ids that have a decision for another answer than this one: when
            no decision matches the current answer they are marked ``answer_changed``.
        overrides: check id -> decision; one made against another automatic verdict (status
            or points) than the check's current one no longer applies.

    Returns:
        The merged result, and the ids of the overrides that no longer apply (stale).
    """
    base = automatic_part(result)
    earlier = set(earlier_answers)
    answers = []
    for answer in base.manual:
        decision = manual.get((answer.id, answer.answer_digest))
        if decision is None:
            answers.append(dataclasses.replace(answer, answer_changed=answer.id in earlier))
            continue
        answers.append(
            dataclasses.replace(
                answer,
                status="graded",
                score=min(max(decision.points, 0.0), answer.max_score),
                criteria=list(decision.criteria),
                comment=decision.comment,
            )
        )
    applied, stale = [], []
    for check in base.checks:
        found = overrides.get(check.id)
        if found is None:
            continue
        if (
            found.automatic_status != check.status
            or abs(found.automatic_score - check.score) > 1e-9
        ):
            stale.append(check.id)
            continue
        applied.append(
            CheckOverride(
                check=check.id,
                score=min(max(found.score, 0.0), check.max_score),
                reason=found.reason,
                automatic_status=check.status,
                automatic_score=check.score,
            )
        )
    out = dataclasses.replace(base, manual=answers, overrides=applied)
    return out, stale


def is_reviewed(result: GradeResult) -> bool:
    """Whether the gradebooks need review columns for this result (items or overrides)."""
    return bool(result.manual or result.overrides)
