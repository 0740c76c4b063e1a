"""What the Gradescope bundle carries of the grader and of the course: the grader's source with
the ``pyproject.toml`` and the pinned dependencies that install it, the assignment without
what only the instructor needs, and the reference modules the assignment imports."""

from __future__ import annotations

import ast
import json
import re
import sys
from importlib import metadata
from pathlib import Path

import grader
from grader.exceptions import InputError
from grader.rubric import Assignment

SOURCE = "grader-src"
"""Folder in the bundle holding an installable copy of the grader."""

COURSE = "course"
"""Folder in the bundle holding the course: the assignment (no example submissions) and its
reference package; the grader finds it through ``$GRADER_COURSE``."""

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "keras-notebook-grader"
version = {version}
requires-python = ">=3.11"
dependencies = {dependencies}

[project.scripts]
grader = "grader.cli:main"

[tool.hatch.build.targets.wheel]
packages = ["grader"]
"""


def requirements_lock(extras: tuple[str, ...] = ()) -> str:
    """Every distribution the installed grader depends on, pinned to its installed version.

    The closure of the grader's requirements (markers evaluated here, extras followed), so
    the image grades with the very libraries the instructor's machine does.

    Args:
        extras: the grader's extras the image needs too (``torch`` for a PyTorch assignment).

    Raises:
        InputError: the grader, or one of its requirements, is not installed.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    queue: list[tuple[str, str]] = [("keras-notebook-grader", extra) for extra in ("", *extras)]
    while queue:
        name, extra = queue.pop()
        if (canonicalize_name(name), extra) in seen:
            continue
        seen.add((canonicalize_name(name), extra))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError as exc:
            raise InputError(f"{name} is not installed; run `pip install .` first") from exc
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
                continue
            key = canonicalize_name(requirement.name)
            try:
                pins[key] = metadata.version(requirement.name)
            except metadata.PackageNotFoundError as exc:
                raise InputError(
                    f"{requirement.name} (needed by {name}) is not installed; "
                    "run `pip install .` first"
                ) from exc
            queue += [(requirement.name, "")] + [(requirement.name, e) for e in requirement.extras]
    pins.pop("keras-notebook-grader", None)
    header = (
        "# The grader's dependencies as installed where the bundle was built "
        f"(Python {'.'.join(map(str, sys.version_info[:3]))}).\n"
    )
    return header + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


INSTRUCTOR_ONLY = ("submissions", "solution.ipynb")
"""What an assignment's folder holds that grading never reads: the examples and the solution."""


def source_files(spec: Assignment) -> dict[str, Path]:
    """Archive name -> file: the grader package (its templates inside); the course: the rubric,
    the released notebook, the sandbox's files and this assignment's reference module with the
    modules of its package it imports (no solution, no other assignment's reference)."""
    files: dict[str, Path] = {}

    def add_tree(folder: Path, prefix: str, skip: tuple[str, ...] = ()) -> None:
        for path in folder.rglob("*"):
            rel = path.relative_to(folder)
            if not path.is_file() or "__pycache__" in rel.parts or rel.parts[0] in skip:
                continue
            files[f"{prefix}/{rel.as_posix()}"] = path

    package = Path(grader.__file__).parent
    add_tree(package, f"{SOURCE}/grader", skip=("assignments",))
    add_tree(spec.folder, f"{COURSE}/assignments/{spec.id}", skip=INSTRUCTOR_ONLY)
    top = reference_dir(spec)
    for path in reference_modules(spec.reference, top):
        files[f"{COURSE}/{top.name}/{path.relative_to(top).as_posix()}"] = path
    return files


def reference_modules(module: str, top: Path) -> list[Path]:
    """The files of ``module`` (in the package at ``top``) and of every module of that package it
    imports, transitively, with the ``__init__.py`` of each package on the way.

    Read from the source (``import`` statements), not by importing: nothing of the course runs.
    """
    found: set[Path] = set()
    parsed: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        if parts[0] != top.name or name in parsed:
            continue
        parsed.add(name)
        base = top.joinpath(*parts[1:])
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if not path.is_file():
            continue  # a name imported from a module, not a module
        packages = (top.joinpath(*parts[1:i], "__init__.py") for i in range(1, len(parts)))
        found |= {init for init in packages if init.is_file()}
        found.add(path)
        here = parts if path.name == "__init__.py" else parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                origin = here[: len(here) - node.level + 1] if node.level else []
                stem = ".".join([*origin, *([node.module] if node.module else [])])
                pending += [stem] + [f"{stem}.{alias.name}" for alias in node.names]
    return sorted(found)


def reference_dir(spec: Assignment) -> Path:
    top = spec.reference_dir()
    if top is None:
        raise InputError(
            f"reference package of {spec.reference!r} is not in the course folder {spec.course}"
        )
    return top


def pyproject(extras: tuple[str, ...] = ()) -> str:
    """The bundle's ``pyproject.toml``: the grader's dependencies, and those of ``extras``
    (a PyTorch assignment's image needs the ``torch`` extra) as plain dependencies."""
    try:
        version = metadata.version("keras-notebook-grader")
        requires = metadata.requires("keras-notebook-grader") or []
    except metadata.PackageNotFoundError as exc:
        raise InputError(
            "the grader is not installed, so its dependencies are unknown; run `pip install .`"
        ) from exc
    dependencies = [r for r in requires if "extra ==" not in r]
    for extra in extras:
        clause = re.compile(rf"""\s*(and\s+)?extra\s*==\s*['"]{re.escape(extra)}['"]""")
        dependencies += [clause.sub("", r).rstrip("; ") for r in requires if clause.search(r)]
    return PYPROJECT.format(
        version=json.dumps(version), dependencies=json.dumps(dependencies, indent=4)
    )
