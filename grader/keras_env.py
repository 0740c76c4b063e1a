"""Keras where the grader's own code needs it (calibration, the judge): imported quietly, once.

TensorFlow's C++ runtime writes to the process's stderr before it reads any setting (absl's
"All log messages before absl::InitializeLog()" and oneDNN's notice), then its own log lines
while training. An instructor's terminal should show the grader's lines only, so the import
runs with stderr sent to ``/dev/null`` and TensorFlow's logging at errors-off; a student's
kernel keeps its messages, in ``executed.ipynb``. :func:`preload` starts the import in a
thread, and :func:`keras` waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import typing as t

from grader.sandbox.limits import ARITHMETIC_THREADS, thread_env

_lock = threading.Lock()
_thread: threading.Thread | None = None


@contextlib.contextmanager
def quiet_stderr() -> t.Iterator[None]:
    """Send the process's stderr (file descriptor 2, where C++ logs go) to ``/dev/null``."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Calibration's figures are compared with the kernels' and the judge's: the same threads.
    os.environ.update(thread_env())
    with quiet_stderr():
        import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        fix_threads(tf)

        # Retracing warnings from predicting on models of different shapes say nothing to a user.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        # Calibration must come out the same on every run, as the kernel's training does.
        # Deterministic ops refuse to run unseeded: seed here, and again before each training.
        tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(0)


def fix_threads(tf: t.Any) -> None:
    """Give TensorFlow's pools :data:`ARITHMETIC_THREADS` threads, where the environment could
    not (TensorFlow imported before it was set). Once TensorFlow has run an op its pools are
    made and cannot change: the grader then says so."""
    threading_ = tf.config.threading
    for get, set_ in (
        (threading_.get_intra_op_parallelism_threads, threading_.set_intra_op_parallelism_threads),
        (threading_.get_inter_op_parallelism_threads, threading_.set_inter_op_parallelism_threads),
    ):
        if get() != ARITHMETIC_THREADS:
            try:
                set_(ARITHMETIC_THREADS)
            except RuntimeError:
                logging.getLogger("grader").warning(
                    "TensorFlow ran before the grader set its threads: calibration may differ "
                    "in its last digits from a run of `grader` alone"
                )
                return


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
