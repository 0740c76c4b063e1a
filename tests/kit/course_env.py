"""A course environment without a download: a fresh virtual environment that sees only what a
course has (TensorFlow, Keras, Jupyter's kernel machinery, the libraries notebooks import).

Those distributions, with everything they need, are taken from this environment: each one's
top-level files and folders (and its ``.dist-info``) are linked into one folder, and a ``.pth``
file in the new environment adds that folder to its ``sys.path``, as ``--system-site-packages``
would show a system-wide installation. pip sees them as installed; what the grader needs
beyond them (click, rich, Jinja2...) is absent, as in a student's environment.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.kit.wheels import COURSE_PROVIDES


@dataclass(frozen=True)
class CourseEnv:
    venv: Path
    site: Path
    """The new environment's own site-packages (empty but for pip and the ``.pth``)."""
    course: Path
    """The folder of linked course distributions."""
    distributions: list[str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self) -> dict[str, str]:
        """An environment for commands in it: offline, no course or path of this checkout's."""
        env = {k: v for k, v in os.environ.items() if k not in ("GRADER_COURSE", "PYTHONPATH")}
        env["PIP_CONFIG_FILE"] = os.devnull  # no index configured anywhere
        env["PIP_NO_INDEX"] = "1"
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env['PATH']}"
        return env


def course_closure() -> list[importlib.metadata.Distribution]:
    """The course's distributions installed here, with what they need, transitively."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = [Requirement(name) for name in sorted(COURSE_PROVIDES)]
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        if name in found or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a course library this environment lacks (e.g. pandas): not in it either
        found[name] = dist
        pending += [Requirement(r) for r in dist.requires or []]
    return list(found.values())


def make_course_env(dest: Path) -> CourseEnv:
    """A fresh virtual environment in ``dest`` that has only the course's packages."""
    course = dest / "course-site"
    course.mkdir(parents=True)
    names = []
    for dist in course_closure():
        names.append(str(dist.metadata["Name"]))
        site = Path(str(dist.locate_file("")))
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            link = course / top
            if (site / top).exists() and not link.exists():
                link.symlink_to(site / top)
    venv = dest / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "course.pth").write_text(f"{course}\n")
    return CourseEnv(venv, Path(purelib), course, sorted(names, key=str.lower))


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
