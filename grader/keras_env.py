"""Keras in the grader process: imported quietly, and early, off the critical path.

Importing TensorFlow costs seconds. The grader needs it only after the notebook has run (to
load and judge the saved models), so :func:`preload` starts the import in a thread while the
kernel works, and :func:`keras` waits for it.
"""

from __future__ import annotations

import logging
import os
import threading
import typing as t

_lock = threading.Lock()
_thread: threading.Thread | None = None


def _import() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Retracing warnings from predicting on models of different shapes say nothing to a user.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        # Calibration must come out the same on every run, as the kernel's training does.
        # Deterministic ops refuse to run unseeded: seed here, and again before each training.
        tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(0)


def preload() -> None:
    """Start importing Keras in the background (idempotent)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_import, name="keras-import", daemon=True)
            _thread.start()


def keras() -> t.Any:
    """The ``keras`` module, once imported and configured."""
    preload()
    assert _thread is not None
    _thread.join()
    import keras as module

    return module
