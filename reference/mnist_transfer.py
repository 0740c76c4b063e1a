"""MNIST transfer learning: train on one digit group, freeze the features, retrain on the other
(course seed 003, Activity 2.2).

| model | first trained on | then, feature layers frozen, on |
|-------|------------------|---------------------------------|
| ``model`` | digits 5-9 (labels shifted to 0-4) | digits 0-4 |
| ``model_sup`` (supplementary, reversed) | digits 0-4 | digits 5-9 (labels shifted to 0-4) |

Both models are the feature layers (Conv 32 3x3, relu, Conv 32 3x3, relu, MaxPool 2, Dropout
0.25, Flatten) under the classification layers (Dense 128, relu, Dropout 0.5, Dense 5,
softmax), compiled with Adadelta (learning rate 1.0, Keras 2's default) and categorical
cross-entropy, images divided by 255.

Example:
    >>> model = build_model()
    >>> model.output_shape, len(model.layers)
    ((None, 5), 12)
"""

from __future__ import annotations

import typing as t

import keras
import numpy as np
from keras import layers

from reference.training import FitFn, plain_fit

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 5
N_FEATURE_LAYERS = 7
LOWER, UPPER = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
EPOCHS = 5
BATCH_SIZE = 128


def feature_layers() -> list[keras.layers.Layer]:
    """The layers that are trained once and then frozen."""
    return [
        layers.Conv2D(32, 3, padding="valid", name="conv1"),
        layers.Activation("relu", name="relu1"),
        layers.Conv2D(32, 3, name="conv2"),
        layers.Activation("relu", name="relu2"),
        layers.MaxPooling2D(pool_size=2, name="pool"),
        layers.Dropout(0.25, name="dropout1"),
        layers.Flatten(name="flatten"),
    ]


def classification_layers() -> list[keras.layers.Layer]:
    """The layers retrained on the second digit group."""
    return [
        layers.Dense(128, name="fc1"),
        layers.Activation("relu", name="relu3"),
        layers.Dropout(0.5, name="dropout2"),
        layers.Dense(NUM_CLASSES, name="fc2"),
        layers.Activation("softmax", name="softmax"),
    ]


def _optimizer() -> keras.optimizers.Optimizer:
    # The course's `optimizer='adadelta'` was written for Keras 2's default learning rate,
    # 1.0; Keras 3's is 0.001, which leaves the network near chance after an epoch.
    return keras.optimizers.Adadelta(learning_rate=1.0)


def build_model() -> keras.Model:
    """Feature layers then classification layers, compiled as ``train_model`` does."""
    model = keras.Sequential(
        [keras.Input(shape=INPUT_SHAPE), *feature_layers(), *classification_layers()],
        name="mnist_transfer",
    )
    model.compile(loss="categorical_crossentropy", optimizer=_optimizer(), metrics=["accuracy"])
    return model


def digit_group(
    x: np.ndarray, y: np.ndarray, digits: t.Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``digits`` scaled to [0, 1] with a channel axis, and one-hot labels shifted so
    the group's smallest digit is 0 (5-9 become 0-4), as the notebook does.

    Args:
        x: uint8 images ``(n, 28, 28)``.
        y: integer labels ``(n,)``.
        digits: five consecutive digits, ``(0, ..., 4)`` or ``(5, ..., 9)``.
    """
    if len(digits) != NUM_CLASSES:
        raise ValueError(f"a digit group has {NUM_CLASSES} digits; received {list(digits)}")
    labels = np.asarray(y).reshape(-1)
    keep = np.isin(labels, digits)
    images = x[keep].reshape((-1, *INPUT_SHAPE)).astype("float32") / 255.0
    return images, keras.utils.to_categorical(labels[keep] - min(digits), NUM_CLASSES)


def _freeze_features(model: keras.Model) -> None:
    for layer in model.layers[:N_FEATURE_LAYERS]:
        layer.trainable = False
    # Changing `trainable` takes effect at the next compile.
    model.compile(loss="categorical_crossentropy", optimizer=_optimizer(), metrics=["accuracy"])


def train(
    x_train: np.ndarray, y_train: np.ndarray, *, fit: FitFn = plain_fit
) -> dict[str, keras.Model]:
    """Run the activity and its supplementary exercise; return both models, trained.

    Returns:
        ``{"model": ..., "model_sup": ...}``: the first ends on digits 0-4, the second on 5-9.
    """
    lower, upper = digit_group(x_train, y_train, LOWER), digit_group(x_train, y_train, UPPER)
    models = {}
    for role, (first, second) in {"model": (upper, lower), "model_sup": (lower, upper)}.items():
        model = build_model()
        fit(model, x=first[0], y=first[1], batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
        _freeze_features(model)
        fit(model, x=second[0], y=second[1], batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
        models[role] = model
    return models
