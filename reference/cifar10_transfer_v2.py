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

from reference.cifar10_transfer import SET1_CLASSES, SET2_CLASSES, FitFn, _plain_fit, split_set

INPUT_SHAPE = (32, 32, 3)
N_FEATURE_LAYERS = 6
EPOCHS = 10
BATCH_SIZE = 100

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
    if len(base.layers) < n_frozen:
        raise ValueError(
            f"base needs at least {n_frozen} layers to reuse; received {len(base.layers)}"
        )
    model = keras.Sequential(name="transfer_cnn_v2")
    model.add(keras.Input(shape=base.input_shape[1:]))
    for layer in base.layers[:n_frozen]:
        layer.trainable = False
        model.add(layer)
    model.add(layers.Dense(128, activation="relu", name="transfer_fc1"))
    model.add(layers.Dense(10, activation="softmax", name="transfer_predictions"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train(
    x_train: np.ndarray, y_train: np.ndarray, *, fit: FitFn = _plain_fit
) -> dict[str, keras.Model]:
    """Run the whole exercise as the solution notebook does; return the models by role."""
    set1 = split_set(x_train, y_train, SET1_CLASSES, 5)
    set2 = split_set(x_train, y_train, SET2_CLASSES, 10)
    base = build_base_cnn()
    fit(
        base,
        x=set1.x_train,
        y=set1.y_train,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        shuffle=True,
        validation_data=(set1.x_val, set1.y_val),
        verbose=0,
    )
    transfer = build_transfer_model(base)
    fit(
        transfer,
        x=set2.x_train,
        y=set2.y_train,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        shuffle=True,
        validation_data=(set2.x_val, set2.y_val),
        verbose=0,
    )
    return {"base": base, "transfer": transfer}
