"""A Keras model's scores come from calling it as ``predict`` would, without tracing a graph."""

from __future__ import annotations

import typing as t

import keras
import numpy as np
import pytest

from grader.checks.accuracy import scores


def small_cnn(outputs: int = 5) -> keras.Model:
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            keras.layers.Flatten(),
            keras.layers.Dense(outputs, activation="softmax"),
        ]
    )


def functional_cnn() -> keras.Model:
    """The same kind of model in the functional idiom."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.Dropout(0.5)(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(x))


def nested_base() -> keras.Model:
    """A base model nested in ``Sequential([base, ...])``, as a VGG19 finetune is written."""
    keras.utils.set_random_seed(1)
    base = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3)], name="base")
    base.trainable = False
    head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5, activation="softmax")]
    return keras.Sequential([base, *head])


@pytest.mark.parametrize("build", [small_cnn, functional_cnn, nested_base])
def test_scores_are_predicts_in_batches_and_trace_nothing(
    build: t.Callable[[], keras.Model],
) -> None:
    images = np.random.default_rng(0).random((600, 32, 32, 3), dtype=np.float32)
    model = build()
    got = scores(model, images, batch_size=256)  # three batches, the last one short
    assert model.predict_function is None  # no graph was traced
    expected = model.predict(images, batch_size=256, verbose=0)
    # Dropout is off and BatchNormalization uses its moving statistics, as in predict.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (got.argmax(-1) == expected.argmax(-1)).all()


def test_a_model_of_several_outputs_is_refused_with_a_reason() -> None:
    inputs = keras.Input((32, 32, 3))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(5)(flat), keras.layers.Dense(2)(flat)])
    with pytest.raises(ValueError, match="list of outputs where one array"):
        scores(model, np.zeros((3, 32, 32, 3), np.float32))


def test_any_other_model_is_asked_for_its_predictions() -> None:
    class Scorer:
        def predict(self, x: np.ndarray, batch_size: int, verbose: int) -> np.ndarray:
            return np.eye(3)[np.arange(len(x)) % 3]

    assert scores(Scorer(), np.zeros((4, 2))).argmax(-1).tolist() == [0, 1, 2, 0]
