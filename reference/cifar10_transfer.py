"""CIFAR-10 transfer learning: a CNN on classes 0-4, its features reused for classes 5-9.

The exercise (course seeds 000/001, Problem 4):

| set | classes | one-hot width | model |
|-----|---------|---------------|-------|
| 1   | 0-4     | 5             | base CNN, trained from scratch |
| 2   | 5-9     | 10            | first five base layers, frozen, plus a new Dense head |

Example:
    >>> base = build_base_cnn()
    >>> base.output_shape
    (None, 5)
    >>> transfer = build_transfer_model(base)
    >>> [layer.trainable for layer in transfer.layers]
    [False, False, False, False, False, True, True]
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from reference.training import FitFn, plain_fit

INPUT_SHAPE = (32, 32, 3)
SET1_CLASSES = (0, 1, 2, 3, 4)
SET2_CLASSES = (5, 6, 7, 8, 9)
N_FEATURE_LAYERS = 5
VALIDATION_FRACTION = 0.2
EPOCHS = 10
BATCH_SIZE = 100


@dataclass(frozen=True)
class Split:
    """One class group, scaled to [0, 1], one-hot encoded and split 80/20 in order."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def split_set(x: np.ndarray, y: np.ndarray, classes: t.Sequence[int], num_classes: int) -> Split:
    """Select ``classes`` from a Keras-layout data set, as the notebook's loop does.

    Args:
        x: uint8 images, ``(n, 32, 32, 3)``.
        y: integer labels, ``(n,)`` or ``(n, 1)``.
        classes: labels to keep; they keep their values (5-9 stay 5-9).
        num_classes: one-hot width (5 for set 1, 10 for set 2, as in the course).

    Returns:
        The first 80% of the selected images for training, the rest for validation.
    """
    if max(classes) >= num_classes:
        raise ValueError(f"classes up to {max(classes)} need num_classes > it; got {num_classes}")
    labels = np.asarray(y).reshape(-1)
    keep = np.isin(labels, classes)
    images = x[keep].astype("float32") / 255.0
    onehot = keras.utils.to_categorical(labels[keep], num_classes)
    cut = int((1 - VALIDATION_FRACTION) * len(images))
    return Split(images[:cut], onehot[:cut], images[cut:], onehot[cut:])


def build_base_cnn() -> keras.Model:
    """The base CNN for set 1, compiled as the course asks.

    Returns:
        A ``Sequential`` model: Conv 32 4x4 relu, MaxPool 2, Conv 32 4x4 relu, MaxPool 2,
        Flatten, Dense 256 relu, Dense 5 softmax; Adam, categorical cross-entropy, accuracy.
    """
    model = keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            # Feature layers: reused, frozen, by the transfer model.
            layers.Conv2D(32, (4, 4), activation="relu", name="conv1"),
            layers.MaxPooling2D(pool_size=(2, 2), name="pool1"),
            layers.Conv2D(32, (4, 4), activation="relu", name="conv2"),
            layers.MaxPooling2D(pool_size=(2, 2), name="pool2"),
            layers.Flatten(name="flatten"),
            # Classification layers.
            layers.Dense(256, activation="relu", name="fc1"),
            layers.Dense(len(SET1_CLASSES), activation="softmax", name="predictions"),
        ],
        name="base_cnn",
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def build_transfer_model(
    base: keras.Model, n_frozen: int = N_FEATURE_LAYERS, *, name: str = "transfer_cnn"
) -> keras.Model:
    """Reuse the first ``n_frozen`` layers of ``base``, frozen, under Dense 128 and Dense 10.

    The layers are shared, not copied: the transfer model starts from the base's trained
    weights, and freezing them keeps the base intact.

    Args:
        base: a built model with at least ``n_frozen`` layers.
        n_frozen: how many leading layers to reuse and freeze.
        name: the model's name.

    Returns:
        A compiled ``Sequential`` model with a 10-way softmax output.
    """
    # A functional base lists its InputLayer first; a sequential one does not. Either way the
    # layers to reuse are the base's computing layers.
    reusable = [layer for layer in base.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(reusable) < n_frozen:
        raise ValueError(
            f"base needs at least {n_frozen} layers to reuse; received {len(reusable)}"
        )
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=base.input_shape[1:]))
    for layer in reusable[:n_frozen]:
        layer.trainable = False
        model.add(layer)
    model.add(layers.Dense(128, activation="relu", name="transfer_fc1"))
    model.add(layers.Dense(10, activation="softmax", name="transfer_predictions"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    fit: FitFn = plain_fit,
    build_base: t.Callable[[], keras.Model] = build_base_cnn,
    build_transfer: t.Callable[[keras.Model], keras.Model] = build_transfer_model,
) -> dict[str, keras.Model]:
    """Run the whole exercise as the solution notebook does; return the models by role.

    Args:
        x_train: the training images ``load_data`` returns.
        y_train: their labels.
        fit: trains one model; the grader passes one that applies its budget.
        build_base: builds the base CNN (a variant of the exercise passes its own).
        build_transfer: builds the transfer model from the trained base.

    Returns:
        ``{"base": ..., "transfer": ...}``, both trained.
    """

    def fit_on(model: keras.Model, data: Split) -> None:
        fit(
            model,
            x=data.x_train,
            y=data.y_train,
            epochs=EPOCHS,
            batch_size=BATCH_SIZE,
            shuffle=True,
            validation_data=(data.x_val, data.y_val),
            verbose=0,
        )

    base = build_base()
    fit_on(base, split_set(x_train, y_train, SET1_CLASSES, 5))
    transfer = build_transfer(base)  # built after training: it reuses the trained layers
    fit_on(transfer, split_set(x_train, y_train, SET2_CLASSES, 10))
    return {"base": base, "transfer": transfer}
