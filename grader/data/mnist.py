"""MNIST: Keras' ``mnist.npz``, or a deterministic synthetic set of digit-like strokes.

Real MNIST is read from ``--data-dir`` or Keras' cache (``~/.keras/datasets/mnist.npz``, or
``$KERAS_HOME/datasets``), in the official ``mnist.npz`` layout Keras downloads: four uint8
arrays, images ``(n, 28, 28)`` and labels ``(n,)``. Nothing is downloaded. Without real data,
each digit is drawn as a few pen strokes (the segments of a seven-segment display and two
diagonals), under a random affine transform, stroke width and pixel noise: the strokes are
shared between digits, so features learned on 5-9 help with 0-4 and transfer means something.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from grader.data.cache import keras_home
from grader.data.secret import secret_number
from grader.exceptions import DataError

MNIST_FILENAME = "mnist.npz"
MNIST_CLASSES = tuple(str(d) for d in range(10))
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")

# Strokes in a unit square (x right, y down), as (x0, y0, x1, y1).
_A, _B, _C = (0.2, 0.1, 0.8, 0.1), (0.8, 0.1, 0.8, 0.5), (0.8, 0.5, 0.8, 0.9)
_D, _E, _F = (0.2, 0.9, 0.8, 0.9), (0.2, 0.5, 0.2, 0.9), (0.2, 0.1, 0.2, 0.5)
_G = (0.2, 0.5, 0.8, 0.5)
_DIAG_7, _DIAG_1 = (0.8, 0.1, 0.35, 0.9), (0.5, 0.1, 0.5, 0.9)
_STROKES: tuple[tuple[tuple[float, float, float, float], ...], ...] = (
    (_A, _B, _C, _D, _E, _F),  # 0
    (_DIAG_1, (0.35, 0.25, 0.5, 0.1)),  # 1
    (_A, _B, _G, _E, _D),  # 2
    (_A, _B, _G, _C, _D),  # 3
    (_F, _G, _B, _C),  # 4
    (_A, _F, _G, _C, _D),  # 5
    (_A, _F, _E, _D, _C, _G),  # 6
    (_A, _DIAG_7),  # 7
    (_A, _B, _C, _D, _E, _F, _G),  # 8
    (_G, _F, _A, _B, _C, _D),  # 9
)


def find_mnist(data_dir: Path | None) -> Path | None:
    """The ``mnist.npz`` to read, or None.

    ``data_dir`` may hold ``mnist.npz`` itself (or be the file). Without it, Keras' cache is
    searched.

    Raises:
        DataError: ``data_dir`` was given but holds no ``mnist.npz``.
    """
    if data_dir is not None:
        for candidate in (data_dir, data_dir / MNIST_FILENAME):
            if candidate.is_file():
                return candidate
        raise DataError(
            f"--data-dir {data_dir}: no {MNIST_FILENAME} there; "
            "point it at the folder holding Keras' official mnist.npz"
        )
    candidate = keras_home() / "datasets" / MNIST_FILENAME
    return candidate if candidate.is_file() else None


def read_mnist_npz(path: Path) -> dict[str, np.ndarray]:
    """Read the official ``mnist.npz``; refuses pickles and checks every array's shape.

    Raises:
        DataError: a key is missing, or an array has the wrong shape or type.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in MNIST_KEYS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path}: not Keras' official mnist.npz ({exc}); replace it with the original"
        ) from exc
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
            raise DataError(
                f"{path}: expected x_{part} (n, 28, 28) and y_{part} (n,), "
                f"got {x.shape} and {y.shape}"
            )
        if x.dtype != np.uint8 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: expected uint8 images and integer labels in x/y_{part}")
    return arrays


def synthetic_mnist_arrays(
    seed: int, n_train: int = 60_000, n_test: int = 10_000, *, secret: str = ""
) -> dict[str, np.ndarray]:
    """Deterministic MNIST-shaped arrays: uint8 ``(n, 28, 28)`` images, uint8 ``(n,)`` labels."""
    rng = np.random.default_rng([2, seed, secret_number(secret)])
    y_train = rng.permutation(np.arange(n_train) % 10).astype(np.uint8)
    y_test = rng.permutation(np.arange(n_test) % 10).astype(np.uint8)
    return {
        "x_train": _render_digits(rng, y_train),
        "y_train": y_train,
        "x_test": _render_digits(rng, y_test),
        "y_test": y_test,
    }


def _render_digits(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    out = np.empty((len(labels), 28, 28), dtype=np.uint8)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    for digit, strokes in enumerate(_STROKES):
        idx = np.flatnonzero(labels == digit)
        n = len(idx)
        if not n:
            continue
        # A random affine map from pixels back to the unit square: scale, shear, shift.
        scale = rng.uniform(14, 20, (n, 1, 1)).astype(np.float32)
        shear = rng.normal(0, 0.15, (n, 1, 1)).astype(np.float32)
        cx = rng.uniform(12, 16, (n, 1, 1)).astype(np.float32)
        cy = rng.uniform(12, 16, (n, 1, 1)).astype(np.float32)
        v = (yy - cy) / scale + 0.5
        u = (xx - cx) / scale + 0.5 + shear * (v - 0.5)
        width = rng.uniform(0.07, 0.12, (n, 1, 1)).astype(np.float32)
        ink = np.zeros((n, 28, 28), dtype=np.float32)
        for x0, y0, x1, y1 in strokes:
            jitter = rng.normal(0, 0.04, (4, n, 1, 1)).astype(np.float32)
            ax, ay, bx, by = x0 + jitter[0], y0 + jitter[1], x1 + jitter[2], y1 + jitter[3]
            dx, dy = bx - ax, by - ay
            t = ((u - ax) * dx + (v - ay) * dy) / np.maximum(dx * dx + dy * dy, 1e-6)
            t = np.clip(t, 0, 1)
            dist = np.hypot(u - (ax + t * dx), v - (ay + t * dy))
            ink = np.maximum(ink, np.clip(1.5 - dist / width, 0, 1))
        ink += rng.normal(0, 0.08, ink.shape).astype(np.float32)
        out[idx] = np.clip(ink * 255, 0, 255).astype(np.uint8)
    return out
