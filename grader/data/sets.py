"""The data a notebook receives, and the part of it the notebook never sees.

Real CIFAR-10 is read from Keras' cache (``~/.keras/datasets``, or ``$KERAS_HOME/datasets``)
or from ``--data-dir``, in the official ``cifar-10-batches-py`` pickle format (MNIST: see
:mod:`grader.data.mnist`). Nothing is
downloaded: without real data, a deterministic synthetic set of the same shape is generated
whose classes a small CNN can learn, and whose low-level features (oriented edges, colours)
carry over from one half of the classes to the other, so transfer learning means something.
"""

from __future__ import annotations

import io
import os
import pickle
import typing as t
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.data import mnist as data_mnist
from grader.data.secret import fingerprint, secret_number
from grader.exceptions import DataError

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR10_DIRNAME = "cifar-10-batches-py"
SYNTHETIC_VERSION = 2
DATASETS = {"cifar10": "CIFAR-10", "mnist": "MNIST"}
"""Data sets the grader can serve, with the name reports use."""
DATA_CLASS_NAMES = {"cifar10": CIFAR10_CLASSES, "mnist": data_mnist.MNIST_CLASSES}
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
    """Test images and labels kept in the grader process: accuracy is measured on these."""

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

    Example:
        >>> ds = load("cifar10", data_dir=None, seed=0)  # doctest: +SKIP
        >>> ds.x_train.shape, ds.y_train.shape
        ((50000, 32, 32, 3), (50000, 1))
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; this grader knows: {', '.join(DATASETS)}")
    if name == "mnist":
        found = data_mnist.find_mnist(data_dir)
        if found is not None:
            return _mnist(data_mnist.read_mnist_npz(found), "real", f"MNIST read from {found}")
    else:
        folder = find_cifar10(data_dir)
        if folder is not None:
            return load_cifar10_batches(folder)
    if cache is None:
        return synthetic(name, seed, secret)
    path = cache / f"synthetic-{name}-v{SYNTHETIC_VERSION}-{seed}-{fingerprint(secret)}.npz"
    ds = read_npz(path, name, seed) if path.is_file() else None
    if ds is None:
        ds = synthetic(name, seed, secret)
        write_npz(ds, path)
    return ds


def synthetic(name: str, seed: int, secret: str = "") -> Dataset:
    """The deterministic synthetic stand-in for data set ``name``, drawn from ``seed`` and
    ``secret``."""
    if name == "mnist":
        return _mnist(
            data_mnist.synthetic_mnist_arrays(seed, secret=secret),
            "synthetic",
            _synthetic_description(seed, name),
        )
    return synthetic_cifar10(seed, secret=secret)


def _mnist(
    arrays: dict[str, np.ndarray], source: t.Literal["real", "synthetic"], description: str
) -> Dataset:
    # Keras hands out MNIST labels flat, (n,): notebooks index images with `y_train < 5`.
    return Dataset(
        name="mnist",
        **arrays,
        source=source,
        description=description,
        class_names=data_mnist.MNIST_CLASSES,
    )


def find_real(name: str, data_dir: Path | None) -> Path | None:
    """Where real data set ``name`` is on disk (a folder, or MNIST's npz file), or None."""
    if name == "mnist":
        return data_mnist.find_mnist(data_dir)
    return find_cifar10(data_dir)


def find_cifar10(data_dir: Path | None) -> Path | None:
    """The folder holding ``data_batch_1`` ... ``test_batch``, or None.

    ``data_dir`` may be that folder itself or its parent. Without it, Keras' cache is searched
    in the layouts Keras 2 and Keras 3 leave behind.
    """
    if data_dir is not None:
        for candidate in (data_dir, data_dir / CIFAR10_DIRNAME):
            if (candidate / "test_batch").is_file():
                return candidate
        raise DataError(
            f"--data-dir {data_dir}: no {CIFAR10_DIRNAME}/test_batch there; "
            "point it at the extracted official CIFAR-10 python batches"
        )
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    cache = keras_home / "datasets"
    for candidate in (
        cache / CIFAR10_DIRNAME,
        cache / f"{CIFAR10_DIRNAME}-target" / CIFAR10_DIRNAME,
        cache / f"{CIFAR10_DIRNAME}-target",
    ):
        if (candidate / "test_batch").is_file():
            return candidate
    return None


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Refuses every global but the few numpy needs to rebuild an array."""

    _ALLOWED: t.ClassVar[set[tuple[str, str]]] = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1").
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> t.Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = _NumpyOnlyUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        data = np.asarray(raw[b"data"], dtype=np.uint8)
        labels = np.asarray(raw[b"labels"], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise DataError(
            f"{path}: not an official CIFAR-10 batch ({exc}); the file may be corrupted or "
            "malicious: replace it with the original"
        ) from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{path}: expected (n, 3072) pixels and n labels, got {data.shape}")
    # The official layout is channels-first rows; Keras hands out channels-last images.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10_batches(folder: Path) -> Dataset:
    """Read the five training batches and the test batch of the official python release."""
    parts = []
    for i in range(1, 6):
        batch = folder / f"data_batch_{i}"
        if not batch.is_file():
            raise DataError(f"{folder}: {batch.name} is missing; copy the complete release")
        parts.append(_read_batch(batch))
    x_test, y_test = _read_batch(folder / "test_batch")
    return Dataset(
        name="cifar10",
        x_train=np.concatenate([p[0] for p in parts]),
        y_train=np.concatenate([p[1] for p in parts]).reshape(-1, 1).astype(np.uint8),
        x_test=x_test,
        y_test=y_test.reshape(-1, 1).astype(np.uint8),
        source="real",
        description=f"CIFAR-10 read from {folder}",
        class_names=CIFAR10_CLASSES,
    )


def synthetic_cifar10(
    seed: int, n_train: int = 50_000, n_test: int = 10_000, *, secret: str = ""
) -> Dataset:
    """A deterministic CIFAR-10-shaped data set a small CNN learns in one epoch or two.

    Each class is a colour tint and a grating of its own orientation and frequency, drawn with
    random phase, jittered angle, a random bright blob and pixel noise, so that no single pixel
    or colour gives the class away.
    """
    rng = np.random.default_rng([SYNTHETIC_VERSION, seed, secret_number(secret)])
    y_train = _balanced_labels(rng, n_train)
    y_test = _balanced_labels(rng, n_test)
    return Dataset(
        name="cifar10",
        x_train=_render(rng, y_train),
        y_train=y_train.reshape(-1, 1),
        x_test=_render(rng, y_test),
        y_test=y_test.reshape(-1, 1),
        source="synthetic",
        description=_synthetic_description(seed),
        class_names=CIFAR10_CLASSES,
    )


def _synthetic_description(seed: int, name: str = "cifar10") -> str:
    label = DATASETS[name]
    return (
        f"synthetic {label}-shaped data (seed {seed}): no real {label} in Keras' cache "
        "or --data-dir"
    )


def _balanced_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % 10).astype(np.uint8)


# Orientations interleave so that each half of the classes (0-4 and 5-9) spans all directions:
# edge detectors learned on one half are what the other half needs.
_ANGLES = np.deg2rad([0, 36, 72, 108, 144, 18, 54, 90, 126, 162])
_FREQS = np.array([3.0, 4.5, 3.0, 4.5, 3.0, 4.5, 3.0, 4.5, 3.0, 4.5]) / 32
_TINTS = np.array(
    [
        [1, 0.2, 0.2],
        [0.2, 1, 0.2],
        [0.2, 0.2, 1],
        [1, 1, 0.2],
        [1, 0.2, 1],
        [0.2, 1, 1],
        [1, 0.6, 0.2],
        [0.6, 0.2, 1],
        [0.2, 1, 0.6],
        [0.8, 0.8, 0.8],
    ],
    dtype=np.float32,
)


def _render(rng: np.random.Generator, labels: np.ndarray, chunk: int = 5000) -> np.ndarray:
    out = np.empty((len(labels), 32, 32, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    for start in range(0, len(labels), chunk):
        lab = labels[start : start + chunk]
        n = len(lab)
        angle = (_ANGLES[lab] + rng.normal(0, np.deg2rad(10), n)).astype(np.float32)
        freq = (_FREQS[lab] * rng.uniform(0.85, 1.15, n)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
        u = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
        grating = np.sin(2 * np.pi * freq[:, None, None] * u + phase[:, None, None])
        tint = _TINTS[lab] * rng.uniform(0.6, 1.0, (n, 1)).astype(np.float32)
        cy, cx = rng.uniform(4, 28, (2, n)).astype(np.float32)
        blob = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / 40.0)
        img = 0.45 + 0.25 * grating[..., None] * tint[:, None, None, :]
        img += 0.35 * blob[..., None] * rng.uniform(0, 1, (n, 1, 1, 3)).astype(np.float32)
        img += 0.2 * rng.standard_normal(img.shape, dtype=np.float32)
        out[start : start + n] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return out


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
    return Dataset(
        name=name,
        **arrays,
        source="synthetic",
        description=_synthetic_description(seed, name),
        class_names=data_mnist.MNIST_CLASSES if name == "mnist" else CIFAR10_CLASSES,
    )
