"""CIFAR-10 transfer learning, second variant (course seed 004).

| set | classes | one-hot width | model |
|-----|---------|---------------|-------|
| 1   | 0-4     | 5             | base CNN, trained from scratch |
| 2   | 5-9     | 10            | first six base layers, frozen, plus Dense 128 relu, Dense 10 |

The base CNN: Conv 32 5x5 relu, Conv 16 5x5 relu, MaxPool 2, Conv 8 3x3 relu, Flatten,
Dropout 0.42, Dense 128 relu, Dense 5 softmax.

The data preparation is the one of :mod:`reference.cifar10_transfer` (classes split 0-4 and
5-9, pixels divided by 255, the first 80% of each set for training).

Example:
    >>> base = build_base_cnn()
    >>> base.output_shape
    (None, 5)
    >>> [layer.trainable for layer in build_transfer_model(base).layers]
    [False, False, False, False, False, False, True, True]
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from reference import cifar10_transfer
from reference.cifar10_transfer import SET1_CLASSES
from reference.training import FitFn, plain_fit

INPUT_SHAPE = (32, 32, 3)
N_FEATURE_LAYERS = 6

__all__ = ["FitFn", "build_base_cnn", "build_transfer_model", "train"]


def build_base_cnn() -> keras.Model:
    """The base CNN for classes 0-4, compiled with Adam, categorical cross-entropy, accuracy."""
    model = keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            # Feature layers: reused, frozen, by the transfer model.
            layers.Conv2D(32, (5, 5), activation="relu", name="conv1"),
            layers.Conv2D(16, (5, 5), activation="relu", name="conv2"),
            layers.MaxPooling2D(pool_size=(2, 2), name="pool"),
            layers.Conv2D(8, (3, 3), activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.42, name="dropout"),
            # Classification layers.
            layers.Dense(128, activation="relu", name="fc1"),
            layers.Dense(len(SET1_CLASSES), activation="softmax", name="predictions"),
        ],
        name="base_cnn_v2",
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def build_transfer_model(base: keras.Model, n_frozen: int = N_FEATURE_LAYERS) -> keras.Model:
    """Reuse the first ``n_frozen`` layers of ``base``, frozen, under Dense 128 and Dense 10.

    Args:
        base: a built model with at least ``n_frozen`` layers.
        n_frozen: how many leading layers to reuse and freeze.

    Returns:
        A compiled ``Sequential`` model with a 10-way softmax output.
    """
    return cifar10_transfer.build_transfer_model(base, n_frozen, name="transfer_cnn_v2")


def train(
    x_train: np.ndarray, y_train: np.ndarray, *, fit: FitFn = plain_fit
) -> dict[str, keras.Model]:
    """Run the whole exercise as the solution notebook does; return the models by role.

    The steps, epochs and batch size are those of :func:`reference.cifar10_transfer.train`.
    """
    return cifar10_transfer.train(
        x_train,
        y_train,
        fit=fit,
        build_base=build_base_cnn,
        build_transfer=build_transfer_model,
    )
