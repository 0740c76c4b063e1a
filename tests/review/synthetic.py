"""Synthetic classes for the look-alike finder: independent work, and planted copies.

Independent "students" are made of real, unrelated Python: functions drawn from the standard
library's own sources, and written answers made of sentences from its docstrings, each student
drawing its own. A planted copy takes another student's work and disguises it as students do:
every variable renamed, cells shuffled, comments replaced, spacing changed, and a few words of
the written answers changed.
"""

from __future__ import annotations

import ast
import io
import random
import re
import sysconfig
import textwrap
import tokenize
from pathlib import Path

from grader.lookalikes.fingerprints import Cell

MODULE_LIMIT = 160
"""Standard-library modules read (sorted by name), enough for 300 students' disjoint draws."""


def _pools() -> tuple[list[str], list[str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    functions: dict[str, None] = {}
    sentences: dict[str, None] = {}
    for path in sorted(stdlib.glob("*.py"))[:MODULE_LIMIT]:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines = text.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
                # Sliced by line numbers: ast.get_source_segment re-splits the file each call.
                body = lines[node.lineno - 1 : node.end_lineno]
                source = textwrap.dedent("\n".join(body))
                if 8 <= len(body) <= 40 and "\t" not in source and not node.decorator_list:
                    functions.setdefault(source, None)
                doc = ast.get_docstring(node)
                for sentence in re.split(r"(?<=\.)\s+", doc or ""):
                    if 6 <= len(sentence.split()) <= 40:
                        sentences.setdefault(" ".join(sentence.split()), None)
    return list(functions), list(sentences)


FUNCTIONS, SENTENCES = _pools()


def student(functions: list[str], sentences: list[str], template: list[Cell]) -> list[Cell]:
    """Independent work: the template's cells, five functions and two written answers of four
    sentences, taken off the pools (no two students draw the same function or sentence)."""
    cells = list(template)
    for _ in range(5):
        cells.append(Cell(len(cells), "code", functions.pop()))
    for _ in range(2):
        text = " ".join(sentences.pop() for _ in range(4))
        cells.append(Cell(len(cells), "text", text))
    return cells


def disguised(cells: list[Cell], rng: random.Random) -> list[Cell]:
    """A copy of ``cells`` as a student hides one: renamed, reordered, re-commented, reworded."""
    changed = []
    for cell in cells:
        if cell.kind == "code":
            changed.append(_renamed(cell.source, rng))
        else:
            words = cell.source.split(" ")
            for at in rng.sample(range(len(words)), max(1, len(words) // 15)):
                words[at] = rng.choice(["really", "basically", "thus", "indeed"])
            changed.append(" ".join(words))
    kinds = [c.kind for c in cells]
    order = list(range(len(cells)))
    rng.shuffle(order)
    return [Cell(n, kinds[i], changed[i]) for n, i in enumerate(order)]


def _renamed(source: str, rng: random.Random) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    bound = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    bound |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    bound -= {"self", "cls"}
    names = {name: f"my_{name[::-1]}_{rng.randint(0, 99)}" for name in bound}
    out: list[tokenize.TokenInfo] = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for n, tok in enumerate(tokens):
        # As a student renames: variables, never attributes or keyword-argument names.
        after = tokens[n + 1].string if n + 1 < len(tokens) else ""
        api = (out and out[-1].string == ".") or after == "="
        if tok.type == tokenize.NAME and tok.string in names and not api:
            tok = tok._replace(string=names[tok.string])
        elif tok.type == tokenize.COMMENT:
            tok = tok._replace(string="# " + rng.choice(["step", "helper", "see notes", "done"]))
        out.append(tok)
    # Spacing changes too: untokenize in its compatibility mode re-spaces every token.
    return tokenize.untokenize([(t.type, t.string) for t in out])


def synthetic_class(
    size: int, plants: int, template: list[Cell], seed: int = 17
) -> tuple[dict[str, list[Cell]], set[tuple[str, str]]]:
    """``size`` independent students, of whom the last ``plants`` copied an earlier one.

    Returns:
        Student id -> cells, and the planted pairs as sorted ``(id, id)``.
    """
    rng = random.Random(seed)
    functions, sentences = list(FUNCTIONS), list(SENTENCES)
    rng.shuffle(functions)
    rng.shuffle(sentences)
    students: dict[str, list[Cell]] = {}
    honest = size - plants
    for n in range(honest):
        students[f"s{n:03d}"] = student(functions, sentences, template)
    planted = set()
    for n in range(honest, size):
        source = f"s{rng.randrange(honest):03d}"
        sid = f"s{n:03d}"
        students[sid] = disguised(students[source], rng)
        planted.add((source, sid))
    return students, planted
