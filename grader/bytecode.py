"""Whether the heavy packages a kernel imports have compiled bytecode this user can use.

Python compiles a module's source at every import unless a ``.pyc`` lies beside it in
``__pycache__`` or the importing process may write one there. pip writes them at install; uv
only with ``--compile-bytecode``. The fork-servers that import Keras for the kernels and judges
run as ``python -I`` (``PYTHONDONTWRITEBYTECODE`` is ignored), so where this user may write the
packages' folders the first check writes them; where it may not (an installation shared by
users, a read-only image), every check compiles Keras and TensorFlow again: a 22 s check took
46 s on a 2-core machine (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterable
from pathlib import Path

HEAVY = ("keras", "tensorflow")
"""The packages whose compilation costs seconds: what a Keras kernel and judge import."""


def _may_write(folder: Path) -> bool:
    existing = folder if folder.exists() else folder.parent
    return os.access(existing, os.W_OK)


def uncompiled(
    packages: Iterable[str] = HEAVY, *, may_write: Callable[[Path], bool] = _may_write
) -> dict[str, Path]:
    """The installed ``packages`` whose ``__init__`` has no bytecode this user could write.

    Found without importing them (``importlib.util.find_spec`` of a top-level package reads
    no module). A package not installed, or installed without sources, is left out.

    Args:
        packages: top-level package names.
        may_write: whether this user may write a ``__pycache__`` folder (or create it).

    Returns:
        Each such package's folder, by name.
    """
    found = {}
    for name in packages:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(".py"):
            continue
        cached = Path(importlib.util.cache_from_source(origin))
        if not cached.is_file() and not may_write(cached.parent):
            found[name] = Path(origin).parent
    return found


def bytecode_warning(
    packages: Iterable[str] = HEAVY, *, may_write: Callable[[Path], bool] = _may_write
) -> str | None:
    """One line saying what to run, when :func:`uncompiled` finds any of ``packages``."""
    missing = uncompiled(packages, may_write=may_write)
    if not missing:
        return None
    folders = " ".join(sorted({str(folder.parent) for folder in missing.values()}))
    verb, them = ("has", "it") if len(missing) == 1 else ("have", "them")
    return (
        f"{', '.join(missing)} {verb} no compiled bytecode here and this user may not write it, "
        f"so every check compiles {them} again (tens of seconds); whoever installed {them} can "
        f"compile {them} once: python -m compileall -q {folders}"
    )
