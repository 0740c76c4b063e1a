"""The versions of what decides a grade: recorded in every result, and in every cache key."""

from __future__ import annotations

import functools
import platform
from importlib import metadata


@functools.cache
def versions() -> dict[str, str]:
    """The grader's, Python's, Keras', TensorFlow's and NumPy's versions."""
    names = (("grader", "keras-notebook-grader"), ("keras", "keras"), ("numpy", "numpy"))
    out = {name: metadata.version(dist) for name, dist in names}
    out["python"] = platform.python_version()
    try:
        out["tensorflow"] = metadata.version("tensorflow-cpu")
    except metadata.PackageNotFoundError:
        out["tensorflow"] = metadata.version("tensorflow")
    return out


@functools.cache
def torch_versions() -> dict[str, str]:
    """What a PyTorch assignment's grade also depends on (read from the installed metadata:
    nothing is imported)."""
    return {
        dist: metadata.version(dist) for dist in ("torch", "torchvision", "onnx", "onnxruntime")
    }
