"""The versions of what decides a grade: recorded in every result, and in every cache key."""

from __future__ import annotations

import functools
import platform
from importlib import metadata

NOT_INSTALLED = "not installed"


def _version(*dists: str) -> str:
    """The first of ``dists`` that is installed, or :data:`NOT_INSTALLED`: a machine that grades
    only the PyTorch assignments may hold no Keras or TensorFlow at all."""
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return NOT_INSTALLED


@functools.cache
def versions() -> dict[str, str]:
    """The grader's, Python's, Keras', TensorFlow's and NumPy's versions."""
    return {
        "grader": _version("keras-notebook-grader"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow-cpu", "tensorflow"),
    }


@functools.cache
def torch_versions() -> dict[str, str]:
    """What a PyTorch assignment's grade also depends on (read from the installed metadata:
    nothing is imported)."""
    return {dist: _version(dist) for dist in ("torch", "torchvision", "onnx", "onnxruntime")}
