"""Look-alike submissions: winnowed k-gram fingerprints (as MOSS) and an inverted index.

Code cells are tokenised and normalised first (:mod:`grader.lookalikes.fingerprints`): comments,
white space and line breaks inside a statement vanish; every identifier a student can rename
becomes ``V`` (keywords, builtins, attribute names and keyword-argument names stay, since they
are the API, not the student's choice); every number becomes ``N`` and every string ``S``.
Renaming variables, re-spacing, re-commenting or changing constants therefore changes nothing.
Each cell is fingerprinted on its own, so reordering cells changes nothing either. Written text
(markdown cells) is compared by its words, case folded.

Fingerprints of the released template (``student.ipynb``: its code and its markdown) are
removed from every submission: code the course gave everyone is no evidence. So is any
fingerprint that more than ``common_limit`` submissions share (MOSS's ``-m``): in a large
class, what many wrote alike is the exercise's idiom, not copying.

Pairs are found through an inverted index (fingerprint -> submissions), never by comparing
every pair of texts: the work grows with the fingerprints two submissions actually share.

A pair above the threshold is a flag for a person to look at, with the matching parts side
by side; it never changes a score.
"""

from __future__ import annotations

import itertools
import json
import time
import typing as t
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.lookalikes.fingerprints import Cell, Fingerprints, fingerprint_cells, notebook_cells
from grader.results import write_atomic

FILENAME = "lookalikes.json"
MAX_NOTEBOOK_BYTES = 64 * 2**20
"""An executed notebook larger than this is left out of the search (its size is outputs, not
code)."""
DEFAULT_THRESHOLD = 0.6
"""Share of the smaller submission's fingerprints found in the other one."""
MIN_SHARED = 8
"""Fingerprints two submissions must share before a share is worth reporting: a one-line
answer contained in another says nothing."""
PARTS_SHOWN = 6
"""Matching cell pairs kept per look-alike pair."""
TIME_LIMIT_S = 60.0
"""Seconds the finder may take in a batch (300 submissions take a few)."""


@dataclass(frozen=True)
class MatchedPart:
    """Two cells, one from each submission, that share fingerprints."""

    kind: t.Literal["code", "text"]
    a_cell: int
    b_cell: int
    a_source: str
    b_source: str
    a_lines: list[int]
    """0-based lines of ``a_source`` covered by shared fingerprints."""
    b_lines: list[int]
    shared: int
    """Fingerprints the two cells share."""


@dataclass(frozen=True)
class LookalikePair:
    """Two submissions that look alike, and where."""

    a: str
    b: str
    code_score: float
    """Share of the smaller submission's code fingerprints found in the other's (0-1)."""
    text_score: float
    """The same for written text."""
    shared_code: int
    shared_text: int
    parts: list[MatchedPart] = field(default_factory=list)

    @property
    def score(self) -> float:
        return max(self.code_score, self.text_score)

    def describe(self, student: str) -> str:
        """One line for the flag of ``student`` (one of the pair)."""
        other = self.b if student == self.a else self.a
        return (
            f"looks like {other}'s submission: code {self.code_score:.0%} "
            f"({self.shared_code} fingerprints), text {self.text_score:.0%} "
            f"({self.shared_text} fingerprints)"
        )


# --- the finder ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Findings:
    """What the finder found in a class."""

    pairs: list[LookalikePair]
    """Pairs above the threshold, most alike first."""
    submissions: int
    threshold: float
    common_limit: int
    """Fingerprints shared by more submissions than this were ignored."""
    cut_short: str = ""
    """Why the finder stopped before comparing everything; empty when it did not."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Findings:
        raw = json.loads(text)
        pairs = [
            LookalikePair(**{**p, "parts": [MatchedPart(**m) for m in p["parts"]]})
            for p in raw["pairs"]
        ]
        return cls(
            pairs,
            raw["submissions"],
            raw["threshold"],
            raw["common_limit"],
            str(raw.get("cut_short", "")),
        )

    def lines_for(self, student: str) -> list[str]:
        """One flag line per pair ``student`` is in."""
        return [p.describe(student) for p in self.pairs if student in (p.a, p.b)]


def find_lookalikes(
    submissions: Mapping[str, Sequence[Cell]],
    *,
    template: Sequence[Cell] = (),
    threshold: float = DEFAULT_THRESHOLD,
    common_limit: int | None = None,
    time_limit_s: float = TIME_LIMIT_S,
) -> Findings:
    """Pairs of submissions whose code or written text look alike.

    The work is linear in the fingerprints (see :func:`fingerprint_cells` for the cap that
    keeps it so), and ``time_limit_s`` bounds it whatever the class holds: past it, what was
    compared is returned and ``cut_short`` says so. The batch's gradebooks wait for it.

    Args:
        submissions: student id -> cells.
        template: the released notebook's cells; their fingerprints are ignored everywhere.
        threshold: a pair is kept when the share of the smaller side's code or text
            fingerprints found in the other reaches this (and they share at least
            :data:`MIN_SHARED`).
        common_limit: ignore fingerprints in more submissions than this; by default
            ``max(10, 10% of the class)``.
        time_limit_s: seconds the finder may take.

    Returns:
        The pairs, most alike first, each with its matching parts.
    """
    deadline = time.monotonic() + time_limit_s
    everyone = sorted(submissions)
    limit = common_limit if common_limit is not None else max(10, len(everyone) // 10)
    base = fingerprint_cells(template, max_places=None)
    prints = _fingerprints(submissions, everyone, deadline)
    ids = sorted(prints)
    cut_short = ""
    if len(ids) < len(everyone):
        cut_short = (
            f"stopped after {time_limit_s:g} s: {len(ids)} of {len(everyone)} submissions compared"
        )
    found = [prints[sid] for sid in ids]
    shared = {kind: _Shared.count(kind, found, base, limit) for kind in KINDS}
    pairs = []
    for a, b in sorted(set(shared["code"].counts) | set(shared["text"].counts)):
        if time.monotonic() > deadline:
            cut_short = (
                cut_short or f"stopped after {time_limit_s:g} s, before every pair was scored"
            )
            break
        scores = {kind: shared[kind].score(a, b) for kind in KINDS}
        if max(scores["code"][0], scores["text"][0]) >= threshold:
            pairs.append(_pair(ids[a], ids[b], scores, prints, submissions, base))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return Findings(pairs, len(ids), threshold, limit, cut_short)


KINDS: tuple[t.Literal["code", "text"], ...] = ("code", "text")


def _fingerprints(
    submissions: Mapping[str, Sequence[Cell]], ids: Sequence[str], deadline: float
) -> dict[str, Fingerprints]:
    """Each submission's fingerprints, in ``ids``' order, until ``deadline``."""
    prints: dict[str, Fingerprints] = {}
    for sid in ids:
        if time.monotonic() > deadline:
            break
        prints[sid] = fingerprint_cells(submissions[sid])
    return prints


@dataclass(frozen=True)
class _Shared:
    """One kind's fingerprints (code or text) that pairs of submissions share, found through
    an inverted index; submissions numbered by their place in the sorted ids."""

    counts: Counter[tuple[int, int]]
    """(a, b), a < b -> fingerprints both hold."""
    sizes: list[int]
    """Each submission's fingerprints of this kind, the template's left out."""

    @classmethod
    def count(
        cls, kind: str, prints: Sequence[Fingerprints], base: Fingerprints, limit: int
    ) -> _Shared:
        """Index every fingerprint not in ``base``; count those at most ``limit`` share."""
        excluded = set(getattr(base, kind))
        index: dict[int, list[int]] = defaultdict(list)
        sizes = []
        for n, found in enumerate(prints):
            kept = [h for h in getattr(found, kind) if h not in excluded]
            sizes.append(len(kept))
            for h in kept:
                index[h].append(n)
        counts: Counter[tuple[int, int]] = Counter()
        for owners in index.values():
            if 2 <= len(owners) <= limit:
                counts.update(itertools.combinations(owners, 2))
        return cls(counts, sizes)

    def score(self, a: int, b: int) -> tuple[float, int]:
        """The share of the smaller side's fingerprints found in the other (0 below
        :data:`MIN_SHARED` shared), and how many are shared."""
        n = self.counts.get((a, b), 0)
        smaller = min(self.sizes[a], self.sizes[b])
        return (n / smaller if smaller and n >= MIN_SHARED else 0.0, n)


def _pair(
    sa: str,
    sb: str,
    scores: Mapping[t.Literal["code", "text"], tuple[float, int]],
    prints: Mapping[str, Fingerprints],
    submissions: Mapping[str, Sequence[Cell]],
    base: Fingerprints,
) -> LookalikePair:
    """The pair of ``sa`` and ``sb``, with its scores and its matching parts."""
    sources = {sid: {c.index: c.source for c in submissions[sid]} for sid in (sa, sb)}
    return LookalikePair(
        a=sa,
        b=sb,
        code_score=round(scores["code"][0], 4),
        text_score=round(scores["text"][0], 4),
        shared_code=scores["code"][1],
        shared_text=scores["text"][1],
        parts=_parts(prints[sa], prints[sb], sources[sa], sources[sb], base),
    )


def _parts(
    a: Fingerprints,
    b: Fingerprints,
    a_sources: Mapping[int, str],
    b_sources: Mapping[int, str],
    base: Fingerprints,
) -> list[MatchedPart]:
    found: dict[tuple[str, int, int], tuple[set[int], set[int], int]] = {}
    for kind in KINDS:
        mine, theirs, excluded = getattr(a, kind), getattr(b, kind), getattr(base, kind)
        for h in mine.keys() & theirs.keys():
            if h in excluded:
                continue
            for (ca, fa, la), (cb, fb, lb) in itertools.product(mine[h], theirs[h]):
                lines_a, lines_b, n = found.get((kind, ca, cb), (set(), set(), 0))
                lines_a.update(range(fa, la + 1))
                lines_b.update(range(fb, lb + 1))
                found[(kind, ca, cb)] = (lines_a, lines_b, n + 1)
    best = sorted(found.items(), key=lambda item: -item[1][2])[:PARTS_SHOWN]
    return [
        MatchedPart(
            kind=t.cast(t.Literal["code", "text"], kind),
            a_cell=ca,
            b_cell=cb,
            a_source=a_sources.get(ca, ""),
            b_source=b_sources.get(cb, ""),
            a_lines=sorted(lines_a),
            b_lines=sorted(lines_b),
            shared=n,
        )
        for (kind, ca, cb), (lines_a, lines_b, n) in best
    ]


# --- an output folder ----------------------------------------------------------------------


def read_notebook_cells(path: Path) -> list[Cell]:
    """The cells of a notebook file; none when it cannot be read as JSON."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return []
    return notebook_cells(raw) if isinstance(raw, dict) else []


def find_in_folder(
    out: Path,
    students: Iterable[str],
    *,
    template: Path | None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Findings:
    """Compare the ``executed.ipynb`` of each student in an output folder, and save the pairs.

    A notebook larger than :data:`MAX_NOTEBOOK_BYTES`, or missing, is left out.

    Args:
        out: the graded class's folder.
        students: the student ids (sub-folders) to compare.
        template: the released student notebook, whose code and text are ignored.
        threshold: see :func:`find_lookalikes`.

    Returns:
        The findings, also written to ``OUT/lookalikes.json``.
    """
    notebooks = {sid: Path(out) / sid / "executed.ipynb" for sid in students}
    cells = {
        sid: read_notebook_cells(path)
        for sid, path in notebooks.items()
        if path.is_file() and path.stat().st_size <= MAX_NOTEBOOK_BYTES
    }
    base = read_notebook_cells(template) if template is not None and template.is_file() else []
    found = find_lookalikes(
        {sid: c for sid, c in cells.items() if c}, template=base, threshold=threshold
    )
    write_atomic(Path(out) / FILENAME, found.to_json())
    return found


def load_findings(out: Path) -> Findings | None:
    """``OUT/lookalikes.json``, when a run wrote one."""
    path = Path(out) / FILENAME
    try:
        return Findings.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
