"""The data a notebook receives, and the part of it the notebook never sees.

Each data set the grader serves is read from ``--data-dir`` or Keras' cache when it is there
(:mod:`grader.data.cifar10`, :mod:`grader.data.mnist`); nothing is ever downloaded. Without
it, a deterministic synthetic set of the same shape stands in, drawn from the assignment's
seed and the grader's secret (:mod:`grader.data.secret`). Half of the test set is then held
back (:func:`hold_out`): the kernel never receives it, and accuracy is measured on it.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.data import cifar10, mnist
from grader.data.secret import fingerprint, secret_number
from grader.exceptions import DataError


@dataclass(frozen=True)
class Source:
    """How to find, read and stand in for one data set."""

    label: str
    """Its name in reports."""
    class_names: tuple[str, ...]
    find: t.Callable[[Path | None], Path | None]
    """Where the real data is (``--data-dir``, else Keras' cache), or None."""
    read: t.Callable[[Path], dict[str, np.ndarray]]
    synthetic: t.Callable[..., dict[str, np.ndarray]]
    """``(seed, n_train, n_test, *, secret)`` -> the four arrays of a synthetic stand-in."""


SOURCES = {
    "cifar10": Source(
        "CIFAR-10",
        cifar10.CIFAR10_CLASSES,
        cifar10.find_cifar10,
        cifar10.read_cifar10_batches,
        cifar10.synthetic_cifar10_arrays,
    ),
    # Keras hands out MNIST labels flat, (n,): notebooks index images with `y_train < 5`.
    "mnist": Source(
        "MNIST",
        mnist.MNIST_CLASSES,
        mnist.find_mnist,
        mnist.read_mnist_npz,
        mnist.synthetic_mnist_arrays,
    ),
}
"""The data sets the grader can serve."""
DATASETS = {name: source.label for name, source in SOURCES.items()}
"""Data set name -> the name reports use."""
DATA_CLASS_NAMES = {name: source.class_names for name, source in SOURCES.items()}
"""Each data set's class names, indexed by label."""


@dataclass(frozen=True)
class Dataset:
    """A train/test split in Keras' ``load_data`` layout (uint8 images, ``(n, 1)`` int labels)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: t.Literal["real", "synthetic"]
    description: str
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class HeldOut:
    """Test images and labels kept from the kernel: accuracy is measured on these."""

    x: np.ndarray
    y: np.ndarray


def load(
    name: str,
    *,
    data_dir: Path | None = None,
    seed: int = 0,
    secret: str = "",
    cache: Path | None = None,
) -> Dataset:
    """Return the named data set, real when it is on disk, synthetic otherwise.

    Generating synthetic data takes seconds; with ``cache``, it is kept there between runs.
    A synthetic set is drawn from ``seed`` and the grader's ``secret`` (see
    :mod:`grader.data.secret`), so a notebook, which knows the seed, cannot draw it again.

    Raises:
        DataError: an unknown data set, or real data on disk that is incomplete or damaged.

    Example:
        >>> ds = load("cifar10", seed=0)  # doctest: +SKIP
        >>> ds.x_train.shape, ds.y_train.shape  # doctest: +SKIP
        ((50000, 32, 32, 3), (50000, 1))
    """
    if name not in SOURCES:
        raise DataError(f"unknown data set {name!r}; this grader knows: {', '.join(SOURCES)}")
    source = SOURCES[name]
    found = source.find(data_dir)
    if found is not None:
        description = f"{source.label} read from {found}"
        return _dataset(name, source.read(found), "real", description)
    if cache is None:
        return synthetic(name, seed, secret)
    path = cache / f"synthetic-{name}-v{cifar10.SYNTHETIC_VERSION}-{seed}-{fingerprint(secret)}.npz"
    ds = read_npz(path, name, seed) if path.is_file() else None
    if ds is None:
        ds = synthetic(name, seed, secret)
        write_npz(ds, path)
    return ds


def synthetic(
    name: str,
    seed: int,
    secret: str = "",
    *,
    n_train: int | None = None,
    n_test: int | None = None,
) -> Dataset:
    """The deterministic synthetic stand-in for data set ``name``, drawn from ``seed`` and
    ``secret`` (``n_train``/``n_test`` images: the real set's sizes when None).

    Example:
        >>> ds = synthetic("mnist", 0, n_train=20, n_test=10)
        >>> ds.x_train.shape, ds.y_test.shape, ds.source
        ((20, 28, 28), (10,), 'synthetic')
    """
    sizes = {k: v for k, v in (("n_train", n_train), ("n_test", n_test)) if v is not None}
    arrays = SOURCES[name].synthetic(seed, **sizes, secret=secret)
    return _dataset(name, arrays, "synthetic", _synthetic_description(seed, name))


def _dataset(
    name: str,
    arrays: dict[str, np.ndarray],
    source: t.Literal["real", "synthetic"],
    description: str,
) -> Dataset:
    return Dataset(
        name=name,
        **arrays,
        source=source,
        description=description,
        class_names=SOURCES[name].class_names,
    )


def find_real(name: str, data_dir: Path | None) -> Path | None:
    """Where real data set ``name`` is on disk (a folder, or MNIST's npz file), or None."""
    return SOURCES[name].find(data_dir)


def _synthetic_description(seed: int, name: str) -> str:
    label = DATASETS[name]
    return (
        f"synthetic {label}-shaped data (seed {seed}): no real {label} in Keras' cache "
        "or --data-dir"
    )


def hold_out(ds: Dataset, n_holdout: int, seed: int, secret: str = "") -> tuple[Dataset, HeldOut]:
    """Split the test set: ``n_holdout`` random images, drawn from ``seed`` and the grader's
    ``secret``, stay with the grader.

    The notebook receives the full training set (so ``n_examples = 50000`` keeps working) and
    the rest of the test set, in the original order. Without the secret it cannot tell which
    test images were held back.
    """
    n_test = len(ds.y_test)
    if not 0 < n_holdout < n_test:
        raise DataError(f"holdout must be between 1 and {n_test - 1}, got {n_holdout}")
    order = np.random.default_rng([seed, n_test, secret_number(secret)]).permutation(n_test)
    held, given = np.sort(order[:n_holdout]), np.sort(order[n_holdout:])
    visible = Dataset(
        name=ds.name,
        x_train=ds.x_train,
        y_train=ds.y_train,
        x_test=ds.x_test[given],
        y_test=ds.y_test[given],
        source=ds.source,
        description=ds.description,
        class_names=ds.class_names,
    )
    return visible, HeldOut(x=ds.x_test[held], y=ds.y_test[held].reshape(-1))


def write_npz(ds: Dataset, path: Path) -> None:
    """Save a data set as an uncompressed ``.npz`` (fast to write and to read), atomically."""
    save_arrays(path, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test)


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Save arrays as an uncompressed ``.npz``, atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def read_npz(path: Path, name: str, seed: int) -> Dataset | None:
    """Read back a synthetic set saved by :func:`write_npz`; None if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, KeyError, ValueError):
        return None
    return _dataset(name, arrays, "synthetic", _synthetic_description(seed, name))
