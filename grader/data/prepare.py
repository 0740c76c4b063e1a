"""One assignment's data, ready to grade with: loaded, split, and written for the kernel and the
judge, once per process."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from grader.data import sets
from grader.data.cache import cache_dir
from grader.data.secret import grader_secret
from grader.results import DataInfo


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
    return _prepared(dataset, data_dir, seed, held_back, secret or grader_secret())


@functools.cache
def _prepared(
    dataset: str, data_dir: Path | None, seed: int, held_back: int, secret: str
) -> PreparedData:
    folder = cache_dir() / "data"
    ds = sets.load(dataset, data_dir=data_dir, seed=seed, secret=secret, cache=folder)
    visible, held_out = sets.hold_out(ds, held_back, seed, secret)
    fingerprint = data_fingerprint(visible, held_out)
    kernel_path = folder / f"kernel-{dataset}-{fingerprint}.npz"
    if not kernel_path.is_file():
        sets.write_npz(visible, kernel_path)
    held_out_path = folder / f"held-out-{dataset}-{fingerprint}.npz"
    if not held_out_path.is_file():
        sets.save_arrays(held_out_path, x=held_out.x, y=held_out.y)
    return PreparedData(visible, held_out, kernel_path, held_out_path, fingerprint)


def data_fingerprint(ds: sets.Dataset, held_out: sets.HeldOut) -> str:
    """A short digest of the data, so a different data set never reuses a calibration."""
    h = hashlib.sha256()
    for array in (ds.y_train, ds.y_test, held_out.y, ds.x_train[:64], held_out.x[:64]):
        h.update(array.tobytes())
    return h.hexdigest()[:16]
