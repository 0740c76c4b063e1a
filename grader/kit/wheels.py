"""The wheels a student kit carries besides the grader's: what a course environment may lack.

Students install the kit offline into the environment they run Jupyter in, which has what the
course needs: TensorFlow and Keras, Jupyter's kernel machinery, and the libraries notebooks
import (:data:`COURSE_PROVIDES`). The grader needs a few packages more (click, rich, Jinja2,
PyYAML, tomli-w, ...): the kit carries a wheel of each, and of what they need in turn, so that
``pip install --no-index --find-links wheels keras-notebook-grader`` finds everything without
a network. pip keeps whatever is installed already and takes a wheel only for what is missing.

The wheels are made here, without a download, from the distributions installed in the grader's
own environment (the versions it was tested with): the files each one's ``RECORD`` lists, packed
by ``wheel pack``. A compiled package's wheel is for this machine's platform and Python, as its
tags say; pure-Python ones install anywhere.

TensorFlow is never among them: the grader requires ``keras`` and no TensorFlow distribution,
so pip leaves the course's own (``tensorflow``, ``tensorflow-cpu``, a GPU build) as it is.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.exceptions import KitError

COURSE_PROVIDES = frozenset(
    canonicalize_name(name)
    for name in (
        # The framework, in whichever build the course chose.
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        # Jupyter: what runs a kernel and reads notebooks.
        "ipykernel",
        "jupyter-client",
        "jupyter-core",
        "nbclient",
        "nbformat",
        # What deep-learning notebooks import.
        "numpy",
        "matplotlib",
        "pandas",
        "seaborn",
        "scikit-learn",
        "scipy",
        "pillow",
        "tqdm",
    )
)
"""Distributions a course environment has, with everything they need: never shipped."""

LEFT_IN_INFO = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
"""Files of an installed ``.dist-info`` that pip wrote at install time: not part of a wheel."""


def requirements(wheel: Path) -> list[Requirement]:
    """The core requirements (no extras) a wheel's metadata declares."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        headers = HeaderParser().parsestr(zf.read(meta).decode("utf-8"))
    return [Requirement(r) for r in headers.get_all("Requires-Dist") or []]


def needed(roots: Iterable[Requirement]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``roots`` need, transitively, less :data:`COURSE_PROVIDES`.

    Raises:
        KitError: a needed distribution is not installed here.
    """
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        if name in COURSE_PROVIDES or name in found:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise KitError(
                f"{req.name} (which the grader needs) is not installed here; install the "
                "grader's environment before building a kit"
            ) from exc
        found[name] = dist
        pending += [Requirement(r) for r in dist.requires or []]
    return [found[n] for n in sorted(found)]


def pack(dist: importlib.metadata.Distribution, dest: Path) -> Path:
    """A wheel of the installed ``dist`` in ``dest`` (console scripts are made again by pip)."""
    site = Path(str(dist.locate_file(""))).resolve()
    prefix = site.parents[2]  # <prefix>/lib/pythonX.Y/site-packages
    files = dist.files or []
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    data = info.removesuffix(".dist-info") + ".data"
    with tempfile.TemporaryDirectory(prefix="grader-kit-wheel-") as tmp:
        root = Path(tmp) / "unpacked"
        for file in files:
            if "__pycache__" in file.parts or (file.parts[0] == info and file.name in LEFT_IN_INFO):
                continue
            source = (site / file).resolve()
            if file.parts[0] != "..":
                target = root / file
            elif source.is_relative_to(prefix) and not source.is_relative_to(prefix / "bin"):
                target = root / data / "data" / source.relative_to(prefix)
            else:
                continue  # a console script: pip writes it from entry_points.txt
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        before = set(dest.glob("*.whl"))
        done = subprocess.run(
            [sys.executable, "-m", "wheel", "pack", "--dest-dir", str(dest), str(root)],
            capture_output=True,
            text=True,
        )
    made = set(dest.glob("*.whl")) - before
    if done.returncode != 0 or len(made) != 1:
        raise KitError(f"packing {info} into a wheel failed ({done.stderr.strip()[-300:]})")
    return made.pop()


def ship(grader_wheel: Path, dest: Path) -> list[Path]:
    """Wheels in ``dest`` of what the grader's wheel needs beyond a course environment.

    Raises:
        KitError: a needed distribution is not installed here, or could not be packed.
    """
    return [pack(dist, dest) for dist in needed(requirements(grader_wheel))]
