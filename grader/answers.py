"""Find each ``[[manual]]`` item's answer in a submitted notebook, as text.

An item names its answer cell by id (``cell``), or by the prompt it answers (``prompt``): the
first cell, markdown or code, whose text contains the prompt (case and white space ignored;
course notebooks ask in markdown, and seed 001 asks in code comments). The answer is then
every non-empty cell of the item's ``answer`` kind that follows the prompt, up to the first
non-empty cell of another kind, the next item's prompt, or a cell of the released template
(the next instruction). A template cell right after the prompt is the answer's placeholder
(``*Your answer here*``): left as it was, it is no answer, and it is skipped. The cell id is
tried first: students often keep the released cells, but notebooks copied between files get
new ids, and the prompt still finds them.
"""

from __future__ import annotations

import hashlib
import re
import typing as t
from collections.abc import Mapping, Sequence

from grader.results import ManualAnswer
from grader.rubric.manual import ManualItem

_SPACE = re.compile(r"\s+")


def answer_digest(text: str) -> str:
    """SHA-256 (hex) of ``text`` with runs of white space collapsed and the ends stripped.

    Re-saving a notebook (trailing newlines, re-wrapped lines) keeps the digest; any change
    to a word gives a new one, and decisions made on the old answer are flagged.
    """
    return hashlib.sha256(_SPACE.sub(" ", text).strip().encode("utf-8")).hexdigest()


def collect_answers(
    items: Sequence[ManualItem],
    cells: Sequence[Mapping[str, t.Any]],
    template: Sequence[Mapping[str, t.Any]] = (),
) -> list[ManualAnswer]:
    """Each item's answer in ``cells`` (a notebook's ``cells``), ``pending``.

    Args:
        items: the rubric's ``[[manual]]`` items.
        cells: the submitted notebook's cells (nbformat 4 dictionaries).
        template: the released notebook's cells; they are never part of an answer.

    Returns:
        One :class:`ManualAnswer` per item, in rubric order; an answer not found has no cells
        and empty text.
    """
    texts = [_source(cell) for cell in cells]
    kinds = [str(cell.get("cell_type", "")) for cell in cells]
    released = {_folded(_source(cell)) for cell in template} - {""}
    prompts = [_folded(item.prompt) for item in items if item.prompt]
    found = []
    for item in items:
        at = _locate(item, cells, texts, kinds, released, prompts)
        text = "\n\n".join(texts[i].strip() for i in at)
        found.append(
            ManualAnswer(
                id=item.id,
                title=item.title,
                max_score=item.points,
                answer=text,
                answer_digest=answer_digest(text),
                cells=at,
            )
        )
    return found


def missing_answers(items: Sequence[ManualItem]) -> list[ManualAnswer]:
    """Every item ``pending`` with no answer: for a file that could not be read as a notebook."""
    return collect_answers(items, [])


def _locate(
    item: ManualItem,
    cells: Sequence[Mapping[str, t.Any]],
    texts: list[str],
    kinds: list[str],
    released: set[str],
    prompts: list[str],
) -> list[int]:
    if item.cell:
        for index, cell in enumerate(cells):
            if cell.get("id") == item.cell:
                return [index] if texts[index].strip() else []
    if not item.prompt:
        return []
    wanted = _folded(item.prompt)
    for index, text in enumerate(texts):
        if wanted not in _folded(text):
            continue
        answer: list[int] = []
        for after in range(index + 1, len(cells)):
            folded = _folded(texts[after])
            if folded in released:
                if after == index + 1:
                    continue  # the placeholder, left as released
                break
            if any(p in folded for p in prompts):
                break
            if kinds[after] != item.answer:
                # Empty cells of another kind (a blank code cell left by the template) do not
                # end the answer; anything else does.
                if texts[after].strip():
                    break
                continue
            if texts[after].strip():
                answer.append(after)
        return answer
    return []


def _source(cell: Mapping[str, t.Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def _folded(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()
