"""Hints for errors students meet running old (Keras 2, TF 1) code under Keras 3.

One table, matched against a failed cell's exception name and message. The hint says what the
Keras 3 replacement is; the grader still grades whatever the rest of the notebook produced.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from grader.results import CellResult


@dataclass(frozen=True)
class KnownError:
    """An error pattern and what to do about it."""

    name: str
    """Regular expression for the exception class name (``ImportError``)."""
    message: str
    """Regular expression searched in the exception message."""
    hint: str


KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        r"ImportError|ModuleNotFoundError|NameError|AttributeError",
        r"np_utils",
        "Keras 3 removed keras.utils.np_utils: use keras.utils.to_categorical(y, num_classes) "
        "(from keras.utils import to_categorical).",
    ),
    KnownError(
        r"ImportError|ModuleNotFoundError",
        r"keras\.layers\.(core|convolutional|pooling)|keras\.layers\.normalization",
        "Keras 3 has no keras.layers submodules: import layers from keras.layers directly "
        "(from keras.layers import Dense, Conv2D, MaxPooling2D).",
    ),
    KnownError(
        r"ImportError|ModuleNotFoundError",
        r"keras\.preprocessing\.image|ImageDataGenerator",
        "Keras 3 dropped ImageDataGenerator: use keras.utils.image_dataset_from_directory "
        "and augmentation layers such as keras.layers.RandomFlip.",
    ),
    KnownError(
        r"AttributeError",
        r"fit_generator|evaluate_generator|predict_generator",
        "Keras 3 removed fit_generator and friends: pass the generator to model.fit, "
        "model.evaluate or model.predict.",
    ),
    KnownError(
        r"AttributeError",
        r"predict_classes",
        "Keras 3 removed predict_classes: use np.argmax(model.predict(x), axis=-1).",
    ),
    KnownError(
        r"ValueError|TypeError",
        r"\blr\b",
        "Keras 3 optimizers take learning_rate=..., not lr=....",
    ),
    KnownError(
        r"ValueError",
        r"Arguments `target` and `output` must have the same (rank|shape)",
        "The labels do not match the model's output: one-hot encode them with "
        "keras.utils.to_categorical(y, num_classes) for categorical_crossentropy, or use "
        "sparse_categorical_crossentropy with integer labels.",
    ),
)


def hint_for(error_name: str, error_value: str) -> str:
    """The hint for an exception, or ``""`` when the error is not a known one."""
    for known in KNOWN_ERRORS:
        if re.fullmatch(known.name, error_name) and re.search(known.message, error_value):
            return known.hint
    return ""


def with_hints(cells: list[CellResult]) -> list[CellResult]:
    """The cells, each failed one carrying the hint for its error when there is one."""
    return [
        dataclasses.replace(cell, hint=hint_for(cell.error_name, cell.error_value))
        if cell.status == "error"
        else cell
        for cell in cells
    ]
