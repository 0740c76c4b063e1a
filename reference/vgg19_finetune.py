"""CIFAR-10 with VGG19: blocks 1-4 frozen, block 5 finetuned, a new dense head (course seed 002).

| part | layers | trainable |
|------|--------|-----------|
| VGG19 base (``include_top=False``, 32x32x3, ImageNet weights) | block1_* ... block4_* | no |
| | block5_* | yes |
| head | Flatten, Dense 256 relu, Dropout 0.5, Dense 125 relu, Dense 10 softmax | yes |

Inputs are pixels divided by 255, as the course's notebook does; the grader measures accuracy
on held-out images scaled the same way. The model is trained on 32x32 images as the exercise
states (no resizing), with Adadelta at learning rate 1.0: the Keras 2 default the course's
``optimizer="Adadelta"`` meant (Keras 3's default is 0.001, which barely moves in 25 epochs).

Example:
    >>> model = build_vgg19_finetune(weights=None)
    >>> model.output_shape
    (None, 10)
    >>> sorted({layer.name[:6] for layer in model.layers if layer.weights and not layer.trainable})
    ['block1', 'block2', 'block3', 'block4']
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from reference.training import FitFn, plain_fit

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
FINETUNED_BLOCK = "block5"
EPOCHS = 25
BATCH_SIZE = 128


def build_vgg19_finetune(weights: str | Path | None = None) -> keras.Model:
    """VGG19 without its top, blocks 1-4 frozen, under the course's dense head; compiled.

    Args:
        weights: ``None`` for random initial weights, or the path of Keras'
            ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (ImageNet).

    Returns:
        A functional ``Model`` from 32x32x3 images to 10 softmax outputs; categorical
        cross-entropy, Adadelta (learning rate 1.0), accuracy.
    """
    if weights is not None and not Path(weights).is_file():
        raise ValueError(f"weights must be None or an existing .h5 file; received {weights!r}")
    base = keras.applications.VGG19(
        include_top=False,
        weights=None if weights is None else str(weights),
        input_shape=INPUT_SHAPE,
    )
    for layer in base.layers:
        # Blocks 1-4 keep their (ImageNet) features; block 5 adapts to CIFAR-10.
        layer.trainable = layer.name.startswith(FINETUNED_BLOCK)
    x = layers.Flatten(name="flatten")(base.output)
    x = layers.Dense(256, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    x = layers.Dense(125, activation="relu", name="fc2")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="predictions")(x)
    model = keras.Model(base.input, outputs, name="vgg19_finetune")
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
        metrics=["accuracy"],
    )
    return model


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    fit: FitFn = plain_fit,
    weights: str | Path | None = None,
) -> dict[str, keras.Model]:
    """Run the exercise as the solution notebook does; return ``{"model": ...}``, trained.

    Args:
        x_train: CIFAR-10 training images as ``load_data`` returns them.
        y_train: their labels, ``(n, 1)``.
        fit: trains one model; the grader passes one that applies its budget.
        weights: the ImageNet weights file, or None for random initial weights.
    """
    x = x_train.astype("float32") / 255.0
    y = keras.utils.to_categorical(np.asarray(y_train).reshape(-1), NUM_CLASSES)
    model = build_vgg19_finetune(weights)
    fit(model, x=x, y=y, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
    return {"model": model}
