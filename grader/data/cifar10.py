"""CIFAR-10: the official python batches, read safely, and a synthetic stand-in.

Real CIFAR-10 is read from ``--data-dir`` or Keras' cache (``$KERAS_HOME/datasets``), in the
official ``cifar-10-batches-py`` pickle format, with an unpickler that refuses everything but
the numpy types an array needs. Without it, a deterministic synthetic set of the same shape is
generated whose classes a small CNN can learn, and whose low-level features (oriented edges,
colours) carry over from one half of the classes to the other, so transfer learning means
something.
"""

from __future__ import annotations

import io
import pickle
import typing as t
from pathlib import Path

import numpy as np

from grader.data.cache import keras_home
from grader.data.secret import secret_number
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
"""Version of the synthetic generators: part of every cache key, so a change regenerates."""


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
    cache = keras_home() / "datasets"
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


def read_cifar10_batches(folder: Path) -> dict[str, np.ndarray]:
    """The five training batches and the test batch of the official python release, as Keras'
    ``load_data`` hands them out (uint8 ``(n, 32, 32, 3)`` images, ``(n, 1)`` labels).

    Raises:
        DataError: a batch is missing, or is not an official batch.
    """
    parts = []
    for i in range(1, 6):
        batch = folder / f"data_batch_{i}"
        if not batch.is_file():
            raise DataError(f"{folder}: {batch.name} is missing; copy the complete release")
        parts.append(_read_batch(batch))
    x_test, y_test = _read_batch(folder / "test_batch")
    return {
        "x_train": np.concatenate([p[0] for p in parts]),
        "y_train": np.concatenate([p[1] for p in parts]).reshape(-1, 1).astype(np.uint8),
        "x_test": x_test,
        "y_test": y_test.reshape(-1, 1).astype(np.uint8),
    }


def synthetic_cifar10_arrays(
    seed: int, n_train: int = 50_000, n_test: int = 10_000, *, secret: str = ""
) -> dict[str, np.ndarray]:
    """A deterministic CIFAR-10-shaped data set a small CNN learns in one epoch or two.

    Each class is a colour tint and a grating of its own orientation and frequency, drawn with
    random phase, jittered angle, a random bright blob and pixel noise, so that no single pixel
    or colour gives the class away.
    """
    rng = np.random.default_rng([SYNTHETIC_VERSION, seed, secret_number(secret)])
    y_train = _balanced_labels(rng, n_train)
    y_test = _balanced_labels(rng, n_test)
    return {
        "x_train": _render(rng, y_train),
        "y_train": y_train.reshape(-1, 1),
        "x_test": _render(rng, y_test),
        "y_test": y_test.reshape(-1, 1),
    }


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
