"""Where the grader keeps its files, and where Keras keeps its own.

Both are hidden from every sandbox: the grader's cache holds the full data sets (held-back
images included) and the secret; Keras' holds whatever the instructor downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$GRADER_CACHE_DIR``, else ``$XDG_CACHE_HOME/keras-notebook-grader`` (``~/.cache``)."""
    default = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keras-notebook-grader"
    )
    return Path(os.environ.get("GRADER_CACHE_DIR", default))


def keras_home() -> Path:
    """Keras' own folder: ``$KERAS_HOME``, else ``~/.keras`` (data sets and model weights)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
