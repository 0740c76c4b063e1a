"""Layout figures of the ``grader`` package: import cycles, sizes, parameter counts.

    .venv/bin/python tools/layout_metrics.py [--root PATH] [--top N]

Prints, for the package under ``--root`` (default: this checkout):

- the import graph from runtime imports only (an import under ``if TYPE_CHECKING:`` costs
  nothing at run time and is left out; one inside a function is kept, and counted as deferred):
  the cycles between modules, first counting every runtime import, then only those run when
  the module is imported (module level), and the pairs of subpackages that import each other;
- the longest modules and the longest functions, in lines;
- the functions with the most parameters (``self`` and ``cls`` not counted), and how many
  take more than six;
- the size of README.md.

docs/layout.md keeps the figures before and after a refactor of the package's layout.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "grader"
MANY_PARAMETERS = 6


@dataclass(frozen=True)
class Import:
    """One runtime import of a module of the package by another."""

    source: str
    target: str
    deferred: bool
    """True when it runs inside a function, not when the module is imported."""


@dataclass(frozen=True)
class Function:
    """A function or method, with where it is and its size."""

    name: str
    """``module:qualified.name``."""
    lines: int
    parameters: int


@dataclass
class Package:
    """What the metrics are computed from: every module's lines, imports and functions."""

    module_lines: dict[str, int] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module at ``path`` (a package is named by its ``__init__``).

    Example:
        >>> module_name(Path("/r/grader/batch/__init__.py"), Path("/r"))
        'grader.batch'
    """
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    # `TYPE_CHECKING`, `t.TYPE_CHECKING`, `typing.TYPE_CHECKING`.
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


ImportNode = ast.Import | ast.ImportFrom


def _imports(tree: ast.Module) -> Iterator[tuple[ImportNode, bool]]:
    """Every import the module runs, with whether it runs inside a function."""

    def visit(node: ast.AST, deferred: bool) -> Iterator[tuple[ImportNode, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, deferred
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for orelse in child.orelse:
                    yield from visit_one(orelse, deferred)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from visit(child, True)
            else:
                yield from visit(child, deferred)

    def visit_one(node: ast.AST, deferred: bool) -> Iterator[tuple[ImportNode, bool]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, deferred
        else:
            yield from visit(node, deferred)

    yield from visit(tree, False)


def _targets(node: ImportNode, module: str, is_package: bool) -> list[str]:
    """The dotted names an import refers to, relative imports resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        # A module's `.` is its package; a package's `.` is itself.
        keep = len(parts) - node.level + (1 if is_package else 0)
        base = ".".join(parts[:keep] + ([base] if base else []))
    return [f"{base}.{alias.name}" for alias in node.names]


def _resolve(name: str, modules: set[str]) -> str | None:
    """The package's module ``name`` refers to: itself, or the module holding that name."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _functions(tree: ast.Module, module: str) -> Iterator[Function]:
    def visit(node: ast.AST, prefix: str, in_class: bool) -> Iterator[Function]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.", True)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                args = child.args
                names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
                names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
                if in_class and names[:1] in (["self"], ["cls"]):
                    names = names[1:]
                end = child.end_lineno or child.lineno
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                yield Function(f"{module}:{prefix}{child.name}", end - start + 1, len(names))
                yield from visit(child, f"{prefix}{child.name}.", False)
            else:
                yield from visit(child, prefix, in_class)

    yield from visit(tree, "", False)


def read_package(root: Path, package: str = PACKAGE) -> Package:
    """Parse every module of ``root/package``: lines, runtime imports within it, functions."""
    paths = sorted((root / package).rglob("*.py"))
    names = {module_name(path, root): path for path in paths}
    found = Package()
    for name, path in names.items():
        source = path.read_text(encoding="utf-8")
        found.module_lines[name] = len(source.splitlines())
        tree = ast.parse(source, filename=str(path))
        is_package = path.name == "__init__.py"
        for node, deferred in _imports(tree):
            for target in _targets(node, name, is_package):
                resolved = _resolve(target, set(names))
                if resolved is not None and resolved != name:
                    found.imports.append(Import(name, resolved, deferred))
        found.functions.extend(_functions(tree, name))
    found.imports = sorted(set(found.imports), key=lambda i: (i.source, i.target, i.deferred))
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: every strongly connected set of two or more modules (Tarjan).

    Example:
        >>> cycles({"a": {"b"}, "b": {"a", "c"}, "c": set()})
        [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return sorted(found)


def graph(imports: list[Import], *, deferred: bool) -> dict[str, set[str]]:
    """Module to modules it imports; ``deferred=False`` keeps module-level imports only."""
    edges: dict[str, set[str]] = defaultdict(set)
    for imp in imports:
        if deferred or not imp.deferred:
            edges[imp.source].add(imp.target)
    return dict(edges)


def unit(module: str) -> str:
    """The subpackage a module belongs to; a top-level module is a unit of its own.

    Example:
        >>> unit("grader.batch.run"), unit("grader.cli"), unit("grader")
        ('batch/', 'cli.py', '__init__.py')
    """
    parts = module.split(".")[1:]
    if not parts:
        return "__init__.py"
    return f"{parts[0]}/" if len(module.split(".")) > 2 else f"{parts[0]}.py"


def two_way_pairs(imports: list[Import], packages: set[str]) -> list[tuple[str, str, int, int]]:
    """Subpackages that import each other, with the count of imports each way."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for imp in imports:
        a, b = unit(imp.source), unit(imp.target)
        if a != b and a in packages and b in packages:
            counts[(a, b)] += 1
    return sorted(
        (a, b, n, counts[(b, a)]) for (a, b), n in counts.items() if a < b and (b, a) in counts
    )


def report(root: Path, top: int) -> str:
    """Every figure, as the lines this script prints."""
    pkg = read_package(root)
    units = {unit(m) for m in pkg.module_lines}
    packages = {u for u in units if u.endswith("/")}
    deferred = sum(imp.deferred for imp in pkg.imports)
    out = [
        f"{PACKAGE}: {len(pkg.module_lines)} modules, {sum(pkg.module_lines.values())} lines, "
        f"{len(packages)} subpackages; {len(pkg.imports)} runtime imports between its modules "
        f"({deferred} deferred into functions; TYPE_CHECKING imports left out)",
    ]
    for title, edges in (
        ("Import cycles, every runtime import", graph(pkg.imports, deferred=True)),
        ("Import cycles, module-level imports only", graph(pkg.imports, deferred=False)),
    ):
        found = cycles(edges)
        out.append(f"{title}: {len(found)}")
        out += [f"  {len(group)} modules: {', '.join(group)}" for group in found]
    pairs = two_way_pairs(pkg.imports, packages)
    out.append(f"Subpackages importing each other: {len(pairs)} pairs")
    out += [f"  {a} <-> {b} ({n} and {m} imports)" for a, b, n, m in pairs]
    longest = sorted(pkg.module_lines.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    out.append("Longest modules (lines):")
    out += [f"  {lines:5d}  {name}" for name, lines in longest]
    functions = sorted(pkg.functions, key=lambda f: (-f.lines, f.name))[:top]
    out.append("Longest functions (lines):")
    out += [f"  {f.lines:5d}  {f.name}" for f in functions]
    many = [f for f in pkg.functions if f.parameters > MANY_PARAMETERS]
    widest = sorted(pkg.functions, key=lambda f: (-f.parameters, f.name))[:top]
    out.append(
        f"Most parameters (self/cls not counted); {len(many)} of {len(pkg.functions)} "
        f"functions take more than {MANY_PARAMETERS}:"
    )
    out += [f"  {f.parameters:5d}  {f.name}" for f in widest]
    readme = root / "README.md"
    size = readme.stat().st_size if readme.exists() else 0
    out.append(f"README.md: {size} bytes ({size / 1024:.1f} KiB)")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this one)")
    parser.add_argument("--top", type=int, default=5, help="rows in each ranking (default 5)")
    args = parser.parse_args()
    print(report(args.root.resolve(), args.top))


if __name__ == "__main__":
    main()
