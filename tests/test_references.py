"""Every cross-reference in the grader's docstrings names something that exists.

A renamed module or function leaves its old name behind in prose, where no import fails. Here
every Sphinx-style reference (:mod:`x`, :func:`x`, :class:`x`, :meth:`x`, :data:`x`,
:attr:`x`, :exc:`x`) in a docstring of ``grader/`` is resolved by importing and ``getattr``;
a short name is looked up from the module (and the class) whose docstring holds it. Every
``grader COMMAND`` a docstring names must be a command of the click CLI.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from grader.cli import main
from tests.conftest import ROOT

GRADER = ROOT / "grader"
ROLE = re.compile(r":(mod|func|class|meth|data|attr|exc):`([^`]+)`")
# A command is quoted: `grader grade OUT`, ``grader kit build``; prose says "the grader ...".
COMMAND = re.compile(r"[`\"]grader ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


@dataclass(frozen=True)
class Reference:
    """One reference found in a docstring."""

    file: str
    line: int
    module: str
    """The module whose docstring holds it."""
    cls: str
    """The enclosing class, or empty."""
    role: str
    target: str


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def docstrings(tree: ast.Module) -> t.Iterator[tuple[int, str, str]]:
    """(line, enclosing class, text) of every string statement: docstrings of modules,
    classes and functions, and the docstrings under attributes."""

    def walk(node: ast.AST, cls: str) -> t.Iterator[tuple[int, str, str]]:
        for child in ast.iter_child_nodes(node):
            if (
                isinstance(child, ast.Expr)
                and isinstance(child.value, ast.Constant)
                and isinstance(child.value.value, str)
            ):
                yield child.lineno, cls, child.value.value
            inner = child.name if isinstance(child, ast.ClassDef) else cls
            yield from walk(child, inner)

    yield from walk(tree, "")


def references() -> list[Reference]:
    found = []
    for path in sorted(GRADER.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        name = module_name(path)
        for line, cls, text in docstrings(tree):
            for match in ROLE.finditer(text):
                target = match.group(2)
                # ``title <target>`` names its target in angle brackets.
                target = re.sub(r"^.*<(.+)>$", r"\1", target).lstrip("~").removesuffix("()")
                rel = str(path.relative_to(ROOT))
                found.append(Reference(rel, line, name, cls, match.group(1), target))
    return found


def commands() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(GRADER.rglob("*.py")):
        for line, _, text in docstrings(ast.parse(path.read_text("utf-8"))):
            for match in COMMAND.finditer(text):
                words = tuple(w for w in match.groups() if w)
                found.append((str(path.relative_to(ROOT)), line, " ".join(words)))
    return found


def _attribute(owner: object, name: str) -> object:
    """``getattr``, and for a class also the fields it declares (a dataclass field without a
    default, an attribute set in ``__init__``), which are no class attributes."""
    if hasattr(owner, name):
        return getattr(owner, name)
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in getattr(klass, "__annotations__", {}):
                return klass
            init = klass.__dict__.get("__init__")
            code = getattr(init, "__code__", None)
            if code is not None and name in code.co_names:
                return klass
    raise AttributeError(name)


def resolve(dotted: str) -> object:
    """The object ``dotted`` names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            found = _attribute(found, part)
        return found
    raise ImportError(dotted)


def resolves(ref: Reference) -> bool:
    """Whether the reference names something, tried as written, then from its module and
    class (as Sphinx does for short names)."""
    candidates = [ref.target]
    if not ref.target.startswith("grader."):
        candidates.append(f"{ref.module}.{ref.target}")
        if ref.cls:
            candidates.append(f"{ref.module}.{ref.cls}.{ref.target}")
        if ref.role == "meth" or ref.role == "attr":
            # A method named from another class's docstring of the same module.
            module = importlib.import_module(ref.module)
            candidates += [
                f"{ref.module}.{name}.{ref.target}"
                for name, value in vars(module).items()
                if isinstance(value, type)
            ]
    if ref.role == "exc" and hasattr(builtins, ref.target):
        return True
    for dotted in candidates:
        try:
            resolve(dotted)
        except (ImportError, AttributeError):
            continue
        return True
    return False


REFERENCES = references()


def test_docstrings_hold_references_to_check() -> None:
    # The walk finds them: a broken pattern would make the next test pass on nothing.
    assert len(REFERENCES) > 200
    assert any(r.target == "grader.score" for r in REFERENCES)


@pytest.mark.parametrize("module", sorted({r.module for r in REFERENCES}))
def test_every_reference_in_a_docstring_resolves(module: str) -> None:
    broken = [
        f"{r.file}:{r.line}: :{r.role}:`{r.target}`"
        for r in REFERENCES
        if r.module == module and not resolves(r)
    ]
    assert not broken, "\n".join(broken)


def test_a_stale_reference_is_caught() -> None:
    stale = Reference("grader/x.py", 1, "grader.report.render", "", "func", "render_pdf")
    assert not resolves(stale)
    assert not resolves(Reference("grader/x.py", 1, "grader", "", "mod", "grader.capture"))
    assert resolves(Reference("grader/x.py", 1, "grader.score", "", "func", "final_score"))
    # A dataclass field without a default is no class attribute, yet it is documented.
    field = Reference("grader/x.py", 1, "grader.results", "", "attr", "GradeResult.max_score")
    assert resolves(field)
    assert not resolves(dataclasses.replace(field, target="GradeResult.maxscore"))


def unknown_command(words: str) -> bool:
    """Whether ``grader WORDS`` is no command; a group's second word must be its command."""
    first, _, rest = words.partition(" ")
    command = main.commands.get(first)
    if command is None:
        return True
    if isinstance(command, click.Group) and rest:
        return rest.split(" ")[0] not in command.commands
    return False


def test_every_command_a_docstring_names_exists() -> None:
    found = commands()
    assert len(found) > 20 and "kit build" in {words for _, _, words in found}
    unknown = [
        f"{file}:{line}: grader {words}" for file, line, words in found if unknown_command(words)
    ]
    assert not unknown, "\n".join(unknown)


def test_a_stale_command_is_caught() -> None:
    assert unknown_command("list-checks") and unknown_command("kit bulid")
    assert not unknown_command("kit build") and not unknown_command("check notebook")
    assert not unknown_command("kit")
