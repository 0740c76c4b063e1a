"""The merge rule: a person's decisions written into a result.

The score they give is the rule of :mod:`grader.score`. The automatic verdict is never
replaced: ``checks[]`` keeps it, and ``overrides[]`` sits beside it.

``result.json`` on disk is always ``merged(automatic result, review database)``:
:func:`automatic_part` strips what an earlier merge added, so merging again after a re-grade
or after more decisions gives the same file as merging once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from grader.results import CheckOverride, GradeResult, ManualAnswer


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
