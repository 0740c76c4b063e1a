"""Graded results kept on disk, so an unchanged submission is never executed twice.

A result is reused only when everything that could change it is unchanged: the notebook's
bytes, the rubric and the reference it is calibrated from, the budget and timeouts, the data
source, the versions of the grader, Keras and TensorFlow, and the grader's own source and
templates (a fix to a source checkout re-grades without a new version number). Reading an
entry imports neither Keras nor nbclient, so a cached result comes back in milliseconds.

Beside the result, an entry keeps the files rendered from it (the reports, Gradescope's and
PrairieLearn's results), one set per :func:`render_key`: the student they name, the reports'
audience, and the templates and grader source that rendered them. Restoring a submission then
copies what its first grade wrote instead of rendering it again; any change to what rendering
depends on gives another key, so stale reports are never served.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import tempfile
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.calibrate import reference_source
from grader.data import cifar10
from grader.data import sets as datasets
from grader.data.cache import cache_dir
from grader.data.pretrained import find_weights
from grader.data.secret import fingerprint, grader_secret
from grader.framework import framework_of
from grader.options import GradeOptions, View
from grader.report.render import templates_dir
from grader.versions import versions

if t.TYPE_CHECKING:
    from grader.rubric import Assignment

RESULT = "result.json"
EXECUTED = "executed.ipynb"
RENDERED = "rendered"
"""Sub-folder of an entry holding one folder of rendered files per :func:`render_key`."""


@dataclass(frozen=True)
class CachedResult:
    """A result as it was written when the submission was graded."""

    result_json: str
    executed: str
    """The executed notebook's JSON text."""


def grading_context(spec: Assignment, options: GradeOptions) -> str:
    """Digest of everything but the notebook that decides a grade.

    Args:
        spec: the assignment; its ``assignment.toml`` and reference package are read as bytes.
        options: how the batch grades; its ``view`` (only the reports' audience) is left out,
            its ``secret`` only enters as a fingerprint.

    Returns:
        A hex digest; :func:`result_key` combines it with a notebook's digest.
    """
    h = hashlib.sha256()
    h.update(grader_source_digest().encode())
    h.update((spec.folder / "assignment.toml").read_bytes())
    h.update(reference_source(spec))
    h.update(
        json.dumps(
            {
                "budget": options.budget,
                "limits": spec.plan(options.budget).limits(),
                "cell_timeout": options.cell_timeout,
                "total_timeout": options.total_timeout,
                "data": _data_source(spec.dataset, options.data_dir),
                "pretrained": [
                    find_weights(a, options.weights_dir).fingerprint for a in spec.pretrained
                ],
                "versions": {**versions(), **framework_of(spec).versions()},
                "kernel_limits": dataclasses.asdict(options.limits_for(spec)),
                "sandboxed": options.sandboxed,
                "secret": fingerprint(options.secret or grader_secret()),
            },
            sort_keys=True,
        ).encode()
    )
    return h.hexdigest()


def result_key(notebook_digest: str, context: str) -> str:
    """The cache key of one notebook graded in one context."""
    return hashlib.sha256(f"{notebook_digest}:{context}".encode()).hexdigest()[:32]


def rendering_context(spec: Assignment, view: View) -> str:
    """Digest of everything but the result that decides the files rendered from it.

    Args:
        spec: the assignment; which hidden checks Gradescope reveals comes from it.
        view: whom ``report.html``/``report.md`` are for.

    Returns:
        A hex digest; :func:`render_key` combines it with a student id.
    """
    h = hashlib.sha256()
    h.update(json.dumps({"view": view, "reveals": spec.reveals(), **versions()}).encode())
    h.update(grader_source_digest().encode())
    return h.hexdigest()


def source_digest(roots: Mapping[str, tuple[Path, str]]) -> str:
    """Digest of the files under each root matching its pattern, each named by its path
    relative to the root (two ``__init__.py`` are two files)."""
    h = hashlib.sha256()
    for name, (root, pattern) in sorted(roots.items()):
        for path in sorted(root.rglob(pattern)):
            data = path.read_bytes()
            h.update(f"{name}/{path.relative_to(root).as_posix()}:{len(data)}:".encode())
            h.update(data)
    return h.hexdigest()


@functools.cache
def grader_source_digest() -> str:
    """The grader's own source and templates, not only its version: a source checkout's
    edits change grades and reports without a new version number. Read once per process."""
    return source_digest(
        {
            "grader": (Path(grader.__file__).parent, "*.py"),
            "templates": (templates_dir(), "*.j2"),
        }
    )


def render_key(student_id: str, context: str) -> str:
    """Which rendered files of an entry are ``student_id``'s, rendered in ``context``."""
    return hashlib.sha256(f"{student_id}:{context}".encode()).hexdigest()[:32]


def _data_source(dataset: str, data_dir: Path | None) -> dict[str, t.Any]:
    folder = datasets.find_real(dataset, data_dir)
    if folder is None:
        return {"source": "synthetic", "version": cifar10.SYNTHETIC_VERSION}
    # Size and modification time of each batch: cheap, and changes when the data is replaced.
    files = [folder] if folder.is_file() else sorted(p for p in folder.iterdir() if p.is_file())
    return {
        "source": "real",
        "folder": str(folder.resolve()),
        "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files],
    }


class ResultCache:
    """Entries under ``$GRADER_CACHE_DIR/results/<key>/``, each written as a whole or not at all."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else cache_dir() / "results"

    def get(self, key: str) -> CachedResult | None:
        """The entry for ``key``, or None."""
        folder = self.root / key
        try:
            return CachedResult(
                (folder / RESULT).read_text(encoding="utf-8"),
                (folder / EXECUTED).read_text(encoding="utf-8"),
            )
        except FileNotFoundError:
            return None

    def put(self, key: str, entry: CachedResult) -> None:
        """Store an entry: written into a temporary folder, then renamed into place."""
        _put_folder(self.root, key, {RESULT: entry.result_json, EXECUTED: entry.executed})

    def rendered(self, key: str, rendering: str, names: t.Iterable[str]) -> dict[str, str] | None:
        """The files named ``names`` rendered for entry ``key`` under ``rendering``, or None.

        Args:
            key: the entry's :func:`result_key`.
            rendering: the :func:`render_key` they were stored under.
            names: the file names wanted; None unless every one of them is there.
        """
        folder = self.root / key / RENDERED / rendering
        try:
            return {name: (folder / name).read_text(encoding="utf-8") for name in names}
        except FileNotFoundError:
            return None

    def put_rendered(self, key: str, rendering: str, files: Mapping[str, str]) -> None:
        """Keep ``files`` (name -> text) beside entry ``key``, all of them or none."""
        if not (self.root / key).is_dir():
            return  # no entry (never stored, or removed): nothing to render for
        _put_folder(self.root / key / RENDERED, rendering, files)


def _put_folder(root: Path, name: str, files: Mapping[str, str]) -> None:
    """Write ``root/name/`` with ``files`` through a temporary folder and one rename."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}."))
    try:
        for file_name, text in files.items():
            (tmp / file_name).write_text(text, encoding="utf-8")
        os.rename(tmp, root / name)
    except OSError:
        # Another process stored the same name first: its files are just as good.
        if not (root / name).is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
