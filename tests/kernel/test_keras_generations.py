"""Keras generations (issue 24.3): TensorFlow 1's switch to graph mode and Keras 1's
``Convolution2D(32, 5, 5)`` judged like the solution's idiom or as a wrong model, never as a
grader error.

In-process, on models built here and on the artefact layout the kernel writes; the whole-notebook
runs (the eager-disabled solution scoring the solution's 100/100, the Keras 1 model failing with
the layer named) were checked by hand with ``grader check``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from grader.artefacts.folder import MissingInput, read_artefacts
from grader.kernel import layout

EAGER_OFF = """
import numpy as np, tensorflow as tf
from grader.kernel import runtime
runtime._keep_eager_execution(tf)
tf.compat.v1.disable_eager_execution()
import tensorflow.compat.v1 as v1
v1.disable_v2_behavior()
from tensorflow import keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "categorical_crossentropy")
model.fit(np.zeros((8, 4)), np.eye(2)[np.arange(8) % 2], epochs=1, verbose=0)
model.save("model.keras")
print("eager", tf.executing_eagerly(), len(model.get_weights()))
"""


def test_graph_mode_switches_become_notices_and_the_model_trains_and_saves(
    tmp_path: Path,
) -> None:
    """Without the kernel's patch, fit raises "tf.data.Dataset only supports Python-style
    iteration in eager mode" and the model "could not be saved"."""
    done = subprocess.run(
        [sys.executable, "-c", EAGER_OFF],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "eager True 2" in done.stdout
    for switch in ("disable_eager_execution", "disable_v2_behavior"):
        assert f"[grader] tf.compat.v1.{switch}() ignored" in done.stdout
    assert (tmp_path / "model.keras").is_file()


def keras1_model() -> keras.Model:
    """Keras 1's 5x5 convolutions as a student ports them: strides 5 in Keras 3, so the second
    pooling layer has nothing left to pool and the model never finishes building."""
    from keras.layers import Convolution2D, MaxPooling2D

    model = keras.Sequential()
    with pytest.raises(ValueError, match="zero or negative"):
        model.add(Convolution2D(32, 4, 4, input_shape=(32, 32, 3), activation="relu"))
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(Convolution2D(32, 4, 4, activation="relu"))
        model.add(MaxPooling2D(pool_size=(2, 2), name="second_pool"))
    return model


def test_a_model_that_cannot_be_built_fails_naming_its_layer_and_the_keras_3_spelling(
    tmp_path: Path,
) -> None:
    """Issue 24.3: architecture, compile and accuracy were `error` (the judge's load raised)."""
    model = keras1_model()
    (tmp_path / layout.MODELS).mkdir()
    with pytest.warns(UserWarning):
        model.save(tmp_path / layout.model_file("base"))
    (tmp_path / layout.ROLES).write_text(
        json.dumps({"base": {"variable": "model", "model_id": id(model)}})
    )
    artefacts = read_artefacts(tmp_path)
    with pytest.raises(MissingInput) as raised:
        artefacts.model("base")
    message = str(raised.value)
    assert message.startswith("the base model was not loaded: it cannot be built: layer ")
    assert "'second_pool' (MaxPooling2D) fails: Computed output size would be zero" in message
    assert "write Conv2D(32, (5, 5))" in message and "\x1b" not in message
