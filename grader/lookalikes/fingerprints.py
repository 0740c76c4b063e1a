"""Fingerprints of notebook cells, for the look-alike finder (:mod:`grader.lookalikes.finder`).

Code cells are tokenised and normalised first: comments, white space and line breaks inside a
statement vanish; every identifier a student can rename becomes ``V`` (keywords, builtins,
attribute names and keyword-argument names stay, since they are the API, not the student's
choice); every number becomes ``N`` and every string ``S``. Written text (markdown cells) is
compared by its words, case folded. Each cell's k-grams are then winnowed (as MOSS does), each
cell on its own.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import io
import keyword
import re
import tokenize
import typing as t
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CODE_K = 12
"""Tokens per k-gram of code: shorter runs (one ``model.add(...)`` line is about 15 tokens)
are too common to mean anything."""
CODE_WINDOW = 6
"""Winnowing window for code: any run of ``CODE_K + CODE_WINDOW - 1`` equal tokens is
guaranteed to share a fingerprint."""
TEXT_K = 7
"""Words per k-gram of text."""
TEXT_WINDOW = 5
MAX_PLACES = 8
"""Cells of one submission a fingerprint may occur in before it is ignored there."""

_KEEP = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "cls"}
_FALLBACK_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"[^\"\n]*\"|'[^'\n]*'|\S")
_WORD = re.compile(r"\w+")
_MAGIC = re.compile(r"^\s*[!%]")


@dataclass(frozen=True)
class Cell:
    """One cell of a submission as the finder sees it."""

    index: int
    """Position in the notebook (all cells counted)."""
    kind: t.Literal["code", "text"]
    source: str


@dataclass
class Fingerprints:
    """Fingerprint -> where it occurs (cell, first line, last line), per kind."""

    code: dict[int, list[tuple[int, int, int]]] = field(default_factory=lambda: defaultdict(list))
    text: dict[int, list[tuple[int, int, int]]] = field(default_factory=lambda: defaultdict(list))


# --- normalisation -------------------------------------------------------------------------


def code_tokens(source: str) -> list[tuple[str, int]]:
    """Normalised tokens of Python code, each with its 0-based line.

    IPython magics and shell lines (``%time``, ``!pip``) are dropped; code that does not
    tokenise (a syntax error) is split by a simpler rule, so a broken cell still compares.
    """
    lines = ["" if _MAGIC.match(line) else line for line in source.splitlines()]
    text = "\n".join(lines) + "\n"
    try:
        return _python_tokens(text)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return _fallback_tokens(lines)


def _python_tokens(text: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    raw = [
        tok
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type
        not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENCODING,
            tokenize.ENDMARKER,
        )
    ]
    depth = 0
    for i, tok in enumerate(raw):
        line = tok.start[0] - 1
        if tok.type == tokenize.NEWLINE:
            out.append((";", line))
        elif tok.type == tokenize.NAME:
            after = raw[i + 1].string if i + 1 < len(raw) else ""
            before = raw[i - 1].string if i else ""
            api = before == "." or (depth > 0 and after == "=")
            out.append((tok.string if api or tok.string in _KEEP else "V", line))
        elif tok.type == tokenize.NUMBER:
            out.append(("N", line))
        elif tok.type == tokenize.STRING:
            out.append(("S", line))
        else:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth = max(0, depth - 1)
            out.append((tok.string, line))
    return out


def _fallback_tokens(lines: Sequence[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for number, line in enumerate(lines):
        code = line.split("#", 1)[0]
        for match in _FALLBACK_TOKEN.finditer(code):
            word = match.group()
            if word[0].isalpha() or word[0] == "_":
                out.append((word if word in _KEEP else "V", number))
            elif word[0].isdigit():
                out.append(("N", number))
            elif word[0] in "\"'":
                out.append(("S", number))
            else:
                out.append((word, number))
        if out and out[-1][0] != ";":
            out.append((";", number))
    return out


def text_tokens(source: str) -> list[tuple[str, int]]:
    """Words of written text, case folded, each with its 0-based line."""
    return [
        (word.casefold(), number)
        for number, line in enumerate(source.splitlines())
        for word in _WORD.findall(line)
    ]


# --- fingerprints --------------------------------------------------------------------------

_TOKEN_IDS: dict[str, int] = {}


def _token_id(token: str) -> int:
    # Python salts str hashes per process; token ids from a digest keep fingerprints (and so
    # the pairs found) the same in every run.
    found = _TOKEN_IDS.get(token)
    if found is None:
        found = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
        _TOKEN_IDS[token] = found
    return found


def winnow(tokens: Sequence[tuple[str, int]], k: int, window: int) -> list[tuple[int, int, int]]:
    """Winnowed fingerprints of a token sequence (Schleimer, Wilkerson and Aiken, 2003).

    Args:
        tokens: ``(token, line)`` pairs.
        k: tokens per k-gram.
        window: k-grams per window; the rightmost smallest hash of each window is kept.

    Returns:
        ``(hash, first line, last line)`` of every selected k-gram, in order.
    """
    if len(tokens) < k:
        return []
    ids = [_token_id(tok) for tok, _ in tokens]
    # Hashes of int tuples are not salted: stable across runs, and computed in C.
    hashes = [hash(tuple(ids[i : i + k])) for i in range(len(ids) - k + 1)]
    picked: list[tuple[int, int, int]] = []
    last = -1
    for start in range(max(1, len(hashes) - window + 1)):
        span = hashes[start : start + window]
        smallest = min(span)
        at = start + len(span) - 1 - span[::-1].index(smallest)
        if at != last:
            picked.append((smallest, tokens[at][1], tokens[at + k - 1][1]))
            last = at
    return picked


def fingerprint_cells(
    cells: Iterable[Cell], *, max_places: int | None = MAX_PLACES
) -> Fingerprints:
    """Fingerprints of a submission's cells, each cell on its own (order does not matter).

    Each fingerprint is kept once per cell (where it first occurs), and not at all when it
    occurs in more than ``max_places`` cells (None: no limit, for the template, every
    fingerprint of which is excluded): a passage repeated over and over is padding,
    not evidence, and comparing every place of it in one submission with every place in
    another was the finder's only quadratic step (two notebooks repeating one word 8,000
    times took 74 s). A fingerprint two submissions share then costs at most
    ``max_places ** 2`` pairs of places.
    """
    found = Fingerprints()
    for cell in cells:
        table = found.code if cell.kind == "code" else found.text
        seen: set[int] = set()
        for h, first, last in cell_prints(cell.kind, cell.source):
            if h not in seen:
                seen.add(h)
                table[h].append((cell.index, first, last))
    for table in (found.code, found.text):
        for h in [h for h, places in table.items() if max_places and len(places) > max_places]:
            del table[h]
    return found


@functools.lru_cache(maxsize=8192)
def cell_prints(kind: str, source: str) -> tuple[tuple[int, int, int], ...]:
    # Every submission carries the template's cells: each distinct cell is fingerprinted once.
    if kind == "code":
        return tuple(winnow(code_tokens(source), CODE_K, CODE_WINDOW))
    return tuple(winnow(text_tokens(source), TEXT_K, TEXT_WINDOW))


def notebook_cells(nb: Mapping[str, t.Any]) -> list[Cell]:
    """The code and markdown cells of a notebook (nbformat 4 dictionary)."""
    cells: list[Cell] = []
    found = nb.get("cells", [])
    for index, cell in enumerate(found if isinstance(found, list) else []):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        text = "".join(map(str, source)) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code":
            cells.append(Cell(index, "code", text))
        elif cell.get("cell_type") == "markdown":
            cells.append(Cell(index, "text", text))
    return cells
