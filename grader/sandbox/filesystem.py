"""What of the machine a sandbox sees: the system folders and the Python installation, less
any course material.

Every sandbox's file system is an allow-list built from these (see
:func:`grader.sandbox.confine.confine`); a source checkout on ``sys.path`` shows only its
``grader`` package, and assignments and reference solutions are covered wherever they lie.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
import typing as t
from collections.abc import Sequence
from pathlib import Path

# The system's read-only part of every sandbox (a link, such as /lib -> usr/lib, stays a link).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc")


# A folder holding one of these is a source checkout: only its grader package is shown.
CHECKOUT_MARKERS = ("pyproject.toml", "setup.py", ".git")


def python_paths(kernel_python: str | None = None) -> tuple[list[Path], list[tuple[str, str]]]:
    """What of the Python installation a sandbox needs, and links to keep its paths working.

    Returns the resolved folders of the interpreter, its prefixes, ``sys.path`` and
    ``PYTHONPATH``, and the grader package; and (path, target) links for each of those whose
    own path goes through a symbolic link. A source checkout on ``sys.path`` (an editable
    install puts the whole checkout there, with every assignment, solution and golden file) is
    replaced by its ``grader`` package. ``kernel_python``, a course's interpreter (a rubric's
    ``[execution] python``), adds its own installation.
    """
    package = Path(__file__).resolve().parent.parent  # grader/, not grader/sandbox/
    candidates = [
        sys.executable,
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *_interpreter_path(os.environ.get("PYTHONPATH", "")),
        str(package),
        *(_installation(kernel_python) if kernel_python else ()),
    ]
    found: list[Path] = []
    links: list[tuple[str, str]] = []
    for candidate in candidates:
        if not candidate or not os.path.isabs(candidate):
            continue
        resolved = Path(candidate).resolve()
        if not resolved.exists() or _is_checkout(resolved):
            continue
        found.append(resolved)
        plain = Path(os.path.abspath(candidate))
        if plain != resolved:
            links.append((str(plain), str(resolved)))
    for folder in _interpreter_path(os.environ.get("PYTHONPATH", "")):
        found += _linked_packages(Path(folder))
    shown = outermost(found)
    visible = [(p, target) for p, target in links if not _shown_as_is(Path(p), shown)]
    return shown, sorted(set(visible))


def _linked_packages(folder: Path) -> list[Path]:
    """Where the symbolic links directly in an import folder lead: a site-packages whose
    packages are links into a shared installation (Nix, a course's environment made of links)
    is imported through them, so the sandbox must show their targets too."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    targets = (Path(e.path).resolve() for e in entries if e.is_symlink())
    return [t for t in targets if t.exists() and not _is_checkout(t)]


@functools.cache
def _interpreter_path(pythonpath: str) -> tuple[str, ...]:
    """``sys.path`` of a fresh interpreter, as a sandboxed one starts: not this process's,
    whose first entry is the grader's script folder or working folder (which may hold the
    class's hand-in), and to which test runners add their own."""
    probe = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
        env={"PYTHONPATH": pythonpath, "HOME": "/nonexistent", "PATH": os.defpath},
    )
    return tuple(json.loads(probe.stdout))


@functools.cache
def _installation(python: str) -> tuple[str, ...]:
    """Another interpreter's own path, prefixes and ``sys.path`` (nothing when it does not
    run: :mod:`grader.execute.environment` refuses it before any sandbox is made)."""
    probe = subprocess.run(
        [
            python,
            "-c",
            "import json, sys; print(json.dumps([sys.executable, sys.prefix, sys.base_prefix, "
            "sys.exec_prefix, sys.base_exec_prefix, *sys.path[1:]]))",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={"HOME": "/nonexistent", "PATH": os.defpath},
    )
    try:
        paths = json.loads(probe.stdout)
    except ValueError:
        return ()
    return (python, *(str(p) for p in paths if isinstance(p, str)))


def course_material() -> list[Path]:
    """Folders no sandbox may see even inside an allowed tree: the course and its references.

    The course folder (see :mod:`grader.course`) holds every assignment (rubrics, solutions,
    example submissions) and the reference solutions; a grader installed by an older wheel
    may also hold ``grader/assignments`` and a top-level ``reference`` package in
    site-packages. Every folder of a sandboxed interpreter's path is searched for those, besides
    the configured course.
    """
    from grader.course import find_course

    found: list[Path] = []
    course = find_course()
    if course is not None:
        found += [course, course / "assignments"]
        # Its packages are references, except the grader itself in a source checkout.
        grader_package = Path(__file__).resolve().parent.parent
        found += [p.parent for p in course.glob("*/__init__.py") if p.parent != grader_package]
    reference = importlib.util.find_spec("reference")
    if reference is not None and reference.origin:
        found.append(Path(reference.origin).parent)
    for entry in _interpreter_path(os.environ.get("PYTHONPATH", "")):
        found += [Path(entry) / "grader" / "assignments", Path(entry) / "reference"]
    return sorted({p.resolve() for p in found if p.exists()})


def system_paths() -> tuple[list[Path], list[tuple[str, str]]]:
    """The system folders that exist here, and the ones that are links (``/lib -> usr/lib``)."""
    folders, links = [], []
    for name in SYSTEM_PATHS:
        if os.path.islink(name):
            links.append((name, os.readlink(name)))
        elif os.path.isdir(name):
            folders.append(Path(name))
    return folders, links


def _is_checkout(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in CHECKOUT_MARKERS)


def outermost(paths: t.Iterable[Path]) -> list[Path]:
    """The paths not inside another one of them, sorted."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(p != o and p.is_relative_to(o) for o in unique)]


def _shown_as_is(path: Path, shown: Sequence[Path]) -> bool:
    """Whether ``path`` appears inside a sandbox at its own name (its folder is mounted)."""
    parent = path.parent
    return parent.resolve() == parent and any(path.is_relative_to(s) for s in shown)
