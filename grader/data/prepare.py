"""One assignment's data, ready to grade with: loaded, split, and written for the kernel and the
judge, once per process."""

from __future__ import annotations

import functools
import hashlib
import json
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.data import sets
from grader.data.cache import cache_dir
from grader.data.secret import data_secret, grader_secret
from grader.results import DataInfo, write_atomic

if t.TYPE_CHECKING:
    from grader.options import GradeOptions
    from grader.rubric import Assignment


class DataFiles(t.Protocol):
    """The two files a kernel's and a judge's sandboxes are made with."""

    @property
    def kernel_file(self) -> Path: ...

    @property
    def held_out_file(self) -> Path: ...


@dataclass(frozen=True)
class RememberedFiles:
    """The files :func:`prepare_data` wrote the last time it was asked for the same data."""

    kernel_file: Path
    held_out_file: Path


@dataclass(frozen=True)
class PreparedData:
    """The data a submission is graded on, and the files the kernel and the judge read."""

    visible: sets.Dataset
    """What the kernel receives."""
    held_out: sets.HeldOut
    """What accuracy is measured on; never in the kernel."""
    kernel_file: Path
    """The kernel's share (``x_train``, ``y_train``, ``x_test``, ``y_test``)."""
    held_out_file: Path
    """The judge's held-back images and labels (``x``, ``y``)."""
    fingerprint: str
    """A short digest of the data, so a different data set never reuses a calibration."""

    def info(self) -> DataInfo:
        """Where the data came from, as the result records it."""
        return DataInfo(
            self.visible.source,
            self.visible.description,
            len(self.visible.y_train),
            len(self.visible.y_test),
            len(self.held_out.y),
        )


def prepare_data(
    dataset: str, *, data_dir: Path | None, seed: int, held_back: int, secret: str | None
) -> PreparedData:
    """Load data set ``dataset``, hold part of its test set back, and write both shares.

    Args:
        dataset: ``cifar10`` or ``mnist``.
        data_dir: where real data is; Keras' cache when None, else synthetic data.
        seed: the assignment's seed.
        held_back: how many test images the kernel never receives.
        secret: the grader's secret; this installation's when None.
    """
    # The cache folder is part of the key: a process that points GRADER_CACHE_DIR elsewhere
    # (a test, a library caller) gets files in the folder it now names.
    return _prepared(dataset, data_dir, seed, held_back, secret or grader_secret(), cache_dir())


def assignment_data(spec: Assignment, options: GradeOptions) -> dict[str, t.Any]:
    """The arguments of :func:`prepare_data` (and :func:`remembered_files`) for grading ``spec``
    with ``options``."""
    return {
        "dataset": spec.dataset,
        "data_dir": options.data_dir,
        "seed": spec.seed,
        "held_back": spec.held_back,
        # A student kit's data is drawn with the kit's public secret, which its thresholds
        # were calibrated with (see grader.kit.build); it is never the grading data.
        "secret": data_secret(spec.kit) if spec.kit is not None else options.secret,
    }


@functools.cache
def _prepared(
    dataset: str, data_dir: Path | None, seed: int, held_back: int, secret: str, cache: Path
) -> PreparedData:
    folder = cache / "data"
    ds = sets.load(dataset, data_dir=data_dir, seed=seed, secret=secret, cache=folder)
    visible, held_out = sets.hold_out(ds, held_back, seed, secret)
    fingerprint = data_fingerprint(visible, held_out)
    kernel_path = folder / f"kernel-{dataset}-{fingerprint}.npz"
    if not kernel_path.is_file():
        sets.write_npz(visible, kernel_path)
    held_out_path = folder / f"held-out-{dataset}-{fingerprint}.npz"
    if not held_out_path.is_file():
        sets.save_arrays(held_out_path, x=held_out.x, y=held_out.y)
    _remember(dataset, data_dir, seed, held_back, secret, kernel_path, held_out_path)
    return PreparedData(visible, held_out, kernel_path, held_out_path, fingerprint)


def remembered_files(
    dataset: str, *, data_dir: Path | None, seed: int, held_back: int, secret: str | None
) -> RememberedFiles | None:
    """The files :func:`prepare_data` wrote for these arguments last time, if they are there.

    Known without loading the data (seconds for CIFAR-10), so that a kernel can be started
    with them first thing; the data is loaded, and the files named again, while it boots. They
    are a guess: a kernel or judge started with other files than those the loaded data names
    is not used (its sandbox's key differs).
    """
    index = _index(dataset, data_dir, seed, held_back, secret or grader_secret())
    try:
        names = json.loads(index.read_text(encoding="utf-8"))
        kernel, held_out = str(names["kernel"]), str(names["held_out"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # Names of files beside it and nothing else, whatever the index says.
    if not (kernel.startswith("kernel-") and held_out.startswith("held-out-")) or any(
        Path(name).name != name for name in (kernel, held_out)
    ):
        return None
    files = RememberedFiles(index.parent / kernel, index.parent / held_out)
    return files if files.kernel_file.is_file() and files.held_out_file.is_file() else None


def _index(dataset: str, data_dir: Path | None, seed: int, held_back: int, secret: str) -> Path:
    # The secret is part of the key, hashed: nothing on disk names it.
    arguments = json.dumps([dataset, str(data_dir), seed, held_back, secret])
    return (
        cache_dir() / "data" / f"files-{hashlib.sha256(arguments.encode()).hexdigest()[:16]}.json"
    )


def _remember(
    dataset: str,
    data_dir: Path | None,
    seed: int,
    held_back: int,
    secret: str,
    kernel_path: Path,
    held_out_path: Path,
) -> None:
    index = _index(dataset, data_dir, seed, held_back, secret)
    text = json.dumps({"kernel": kernel_path.name, "held_out": held_out_path.name})
    try:
        if not index.is_file() or index.read_text(encoding="utf-8") != text:
            write_atomic(index, text)
    except OSError:
        pass  # a read-only cache: the next kernel starts once the data is loaded, as before


def data_fingerprint(ds: sets.Dataset, held_out: sets.HeldOut) -> str:
    """A short digest of the data, so a different data set never reuses a calibration."""
    h = hashlib.sha256()
    for array in (ds.y_train, ds.y_test, held_out.y, ds.x_train[:64], held_out.x[:64]):
        h.update(array.tobytes())
    return h.hexdigest()[:16]
