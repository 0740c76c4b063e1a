"""``[[manual]]`` tables of ``assignment.toml``: the items a person grades, with their criteria.

Example::

    [[manual]]
    id = "written.transfer"
    title = "Explain what we did with transfer learning"
    points = 10
    prompt = "Explain what we did with transfer learning"  # the cell the answer follows
    # cell = "answer-transfer"                             # or the answer cell's id
    # answer = "markdown"                                  # kind of the answer cells
    [[manual.criteria]]
    text = "Says the first five layers were reused from the model trained on classes 0-4"
    points = 4
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.exceptions import RubricError

AnswerKind = t.Literal["markdown", "code"]
ANSWER_KINDS: tuple[AnswerKind, ...] = ("markdown", "code")
_KEYS = {"id", "title", "points", "prompt", "cell", "answer", "criteria"}
_CRITERION_KEYS = {"text", "points"}


@dataclass(frozen=True)
class Criterion:
    """One line of a marking scheme: what the answer should do, and what it is worth."""

    text: str
    """What a grader looks for, e.g. ``mentions shuffling``."""
    points: float
    """Points it adds when ticked."""


@dataclass(frozen=True)
class ManualItem:
    """A rubric item graded by a person: where its answer is, its points and criteria."""

    id: str
    """Stable id, unique among checks and items, e.g. ``written.transfer``."""
    title: str
    """The question, as the grader and the student see it."""
    points: float
    """Points available; a grader may give any amount from 0 to this."""
    prompt: str = ""
    """Text of the cell the answer follows (matched ignoring case and white space)."""
    cell: str = ""
    """The answer cell's nbformat id; tried before ``prompt``."""
    answer: AnswerKind = "markdown"
    """Kind of the answer cells that follow the prompt: ``markdown`` or ``code``."""
    criteria: tuple[Criterion, ...] = ()
    """The marking scheme; ticking criteria proposes their points' sum."""


def parse_manual(raw: object, path: Path, check_ids: t.Collection[str] = ()) -> list[ManualItem]:
    """Parse the ``[[manual]]`` tables of a rubric.

    Args:
        raw: the value of the top-level ``manual`` key (a list of tables).
        path: the rubric file, named in every error.
        check_ids: the rubric's check ids; an item may not reuse one.

    Returns:
        The items, in rubric order.

    Raises:
        RubricError: a key is missing, unknown or of the wrong type; an item has neither
            ``prompt`` nor ``cell``; ids collide; criteria add up to more than the points.
    """
    if not isinstance(raw, list):
        raise RubricError.at(path, "manual", "expected [[manual]] tables")
    items: list[ManualItem] = []
    seen = set(check_ids)
    for i, entry in enumerate(raw):
        where = f"manual[{i}]"
        if not isinstance(entry, dict):
            raise RubricError.at(path, where, "expected a [[manual]] table")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise RubricError.at(path, where, f"unknown key(s) {', '.join(unknown)}")
        item_id = _get(entry, "id", str, path, where)
        if item_id in seen:
            raise RubricError.at(path, f"{where}.id", f"{item_id!r} is already a check or item id")
        seen.add(item_id)
        points = float(_get(entry, "points", (int, float), path, where))
        if points <= 0:
            raise RubricError.at(
                path, f"{where}.points", f"expected a positive number, got {points}"
            )
        prompt = _get(entry, "prompt", str, path, where, "").strip()
        cell = _get(entry, "cell", str, path, where, "").strip()
        if not prompt and not cell:
            raise RubricError.at(
                path, where, "needs `prompt` (the text the answer follows) or `cell` (its id)"
            )
        kind = _get(entry, "answer", str, path, where, "markdown")
        if kind not in ANSWER_KINDS:
            raise RubricError.at(path, f"{where}.answer", f"expected one of {ANSWER_KINDS}")
        criteria = _criteria(entry.get("criteria", []), path, f"{where}.criteria")
        total = sum(c.points for c in criteria)
        if total > points + 1e-9:
            raise RubricError.at(
                path,
                f"{where}.criteria",
                f"criteria add up to {total:g}, more than points {points:g}",
            )
        items.append(
            ManualItem(
                id=item_id,
                title=_get(entry, "title", str, path, where),
                points=points,
                prompt=prompt,
                cell=cell,
                answer=t.cast(AnswerKind, kind),
                criteria=tuple(criteria),
            )
        )
    return items


def _criteria(raw: object, path: Path, where: str) -> list[Criterion]:
    if not isinstance(raw, list):
        raise RubricError.at(path, where, "expected [[manual.criteria]] tables")
    found = []
    for j, entry in enumerate(raw):
        here = f"{where}[{j}]"
        if not isinstance(entry, dict):
            raise RubricError.at(path, here, "expected a table with `text` and `points`")
        unknown = sorted(set(entry) - _CRITERION_KEYS)
        if unknown:
            raise RubricError.at(path, here, f"unknown key(s) {', '.join(unknown)}")
        points = float(_get(entry, "points", (int, float), path, here))
        if points < 0:
            raise RubricError.at(path, f"{here}.points", "expected a number >= 0")
        found.append(Criterion(text=_get(entry, "text", str, path, here), points=points))
    return found


def _get(
    table: dict[str, t.Any],
    key: str,
    kind: type | tuple[type, ...],
    path: Path,
    where: str,
    default: t.Any = ...,
) -> t.Any:
    if key not in table:
        if default is ...:
            raise RubricError.at(path, f"{where}.{key}", "is required")
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise RubricError.at(path, f"{where}.{key}", f"expected {names}, got {value!r}")
    return value
