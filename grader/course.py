"""Where the course lives: the grader and the course are separate things.

The installed grader carries no assignment, solution or reference. A *course folder* holds
``assignments/<id>/`` (rubric, notebooks, example submissions) and the reference package(s)
the rubrics name (``reference/``); this repository's root is one. It is found, first match
wins, from:

1. ``grader --course DIR`` (the CLI calls :func:`use_course`, which also sets the variable
   below so that worker processes find the same folder);
2. ``$GRADER_COURSE``;
3. ``course = "DIR"`` in ``$XDG_CONFIG_HOME/keras-notebook-grader/config.toml``
   (``~/.config/...``);
4. the source checkout the grader is imported from, when it has an ``assignments/`` folder
   (so ``make demo`` works from a checkout).

A student kit (see :mod:`grader.kit`) is a course folder too: it has ``assignments/`` and no
reference package.
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
import types
from pathlib import Path

from grader.exceptions import CourseError

ENV = "GRADER_COURSE"
CONFIG_NAME = "config.toml"
KIT_MARKER = "grader-kit.json"
"""The file that makes a folder a student kit (see :mod:`grader.kit.build`)."""

_chosen: Path | None = None


def config_file() -> Path:
    """The per-user configuration file that may name a default course folder."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "keras-notebook-grader" / CONFIG_NAME


def use_course(folder: Path | str) -> Path:
    """Make ``folder`` this process's course (and its children's, through ``$GRADER_COURSE``).

    Raises:
        CourseError: the folder has no ``assignments/`` folder.
    """
    global _chosen
    path = Path(folder).expanduser().resolve()
    if not (path / "assignments").is_dir():
        raise CourseError(
            f"{folder}: not a course folder (no assignments/ in it); pass the folder that "
            "holds assignments/ and the reference package"
        )
    _chosen = path
    os.environ[ENV] = str(path)
    return path


def _configured() -> Path | None:
    path = config_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CourseError(f"{path}: unreadable ({exc}); fix or delete it") from exc
    course = raw.get("course")
    if course is None:
        return None
    if not isinstance(course, str):
        raise CourseError(f"{path}: 'course' must be a folder name (a string)")
    return Path(course).expanduser()


def _checkout() -> Path | None:
    root = Path(__file__).resolve().parent.parent
    return root if (root / "assignments").is_dir() else None


def find_course() -> Path | None:
    """The course folder, or None when none is configured (see the module's docstring)."""
    if _chosen is not None:
        return _chosen
    given = os.environ.get(ENV)
    if given:
        return Path(given).expanduser().resolve()
    configured = _configured()
    if configured is not None:
        return configured.resolve()
    return _checkout()


def course_root() -> Path:
    """The course folder.

    Raises:
        CourseError: none is configured.
    """
    found = find_course()
    if found is None:
        raise CourseError(
            f'no course folder: pass --course DIR, set ${ENV}, or write course = "DIR" '
            f"in {config_file()}"
        )
    return found


def find_kit(start: Path) -> Path | None:
    """The student kit ``start`` lies in (a folder holding :data:`KIT_MARKER`), if any."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / KIT_MARKER).is_file():
            return folder
    return None


def use_kit_around(start: Path) -> Path | None:
    """Make the kit ``start`` lies in this process's course, unless a course was named.

    A student opens a kit's notebook inside the kit; ``--course`` and ``$GRADER_COURSE`` win.
    """
    if _chosen is not None or os.environ.get(ENV):
        return None
    kit = find_kit(start)
    return use_course(kit) if kit is not None else None


def course_of(assignment_folder: Path) -> Path:
    """The course folder an assignment folder belongs to (``<course>/assignments/<id>``)."""
    return Path(assignment_folder).resolve().parent.parent


def package_dir(module: str, course: Path) -> Path | None:
    """The folder of the top-level package of ``module`` inside ``course``, if it has one."""
    folder = course / module.split(".")[0]
    return folder if (folder / "__init__.py").is_file() else None


def import_reference(module: str, course: Path) -> types.ModuleType:
    """Import a reference module from its course folder.

    The course folder goes first on ``sys.path``. One course per process: a package of the
    same name already imported from elsewhere is an error, never silently used.

    Raises:
        CourseError: a package of that name was already imported from another folder.
        ModuleNotFoundError: the course has no such module.
    """
    top = module.split(".")[0]
    folder = package_dir(module, course)
    if folder is not None:
        loaded = sys.modules.get(top)
        where = getattr(loaded, "__file__", None)
        if loaded is not None and where and Path(where).resolve().parent != folder.resolve():
            raise CourseError(
                f"package {top!r} was already imported from {Path(where).parent}, not from "
                f"the course {course}; grade one course per process"
            )
        if str(course) not in sys.path:
            sys.path.insert(0, str(course))
    return importlib.import_module(module)
