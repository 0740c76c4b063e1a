"""Why a saved model cannot be rebuilt, named by its layer (in the judge).

A Keras 1 or 2 spelling that still runs can mean something else in Keras 3:
``Convolution2D(32, 5, 5)`` is a 5x5 kernel in Keras 1 and a kernel of 5 with strides 5 in
Keras 3, so the feature maps shrink to nothing a few layers later and the model cannot finish
building. Such a model is a wrong model (its checks fail), not a grader error: this module finds
the first layer whose output cannot be computed, walking a sequential model's saved config
layer by layer on symbolic tensors (nothing runs on data, and every layer is built from the
config with Keras' safe mode, as loading the whole model does).
"""

from __future__ import annotations

import typing as t

from grader import keras_env
from grader.error_text import error_summary
from grader.report.escape import strip_ansi

KERAS_3_SPELLING = (
    "In Keras 3, Conv2D(32, 5, 5) means a 5x5 kernel with strides 5 (Keras 1's "
    "Convolution2D(32, 5, 5) was a 5x5 kernel with strides 1): write Conv2D(32, (5, 5))."
)


def unbuildable(config: dict[str, t.Any], error: Exception) -> str:
    """Why the model in ``config`` (a ``.keras`` archive's ``config.json``) could not be
    loaded, naming the first layer that fails when the model is sequential.

    Args:
        config: the archive's config, already checked against the allow-list.
        error: what loading the whole model raised.
    """
    found = _failing_layer(config)
    if found is None:
        return f"it cannot be rebuilt: {_first_line(error)}"
    name, cls, why = found
    hint = f" {KERAS_3_SPELLING}" if "negative" in why or "<= 0" in why else ""
    return f"it cannot be built: layer {name!r} ({cls}) fails: {why}.{hint}"


def _failing_layer(config: dict[str, t.Any]) -> tuple[str, str, str] | None:
    if config.get("class_name") != "Sequential":
        return None
    layers = (config.get("config") or {}).get("layers")
    if not isinstance(layers, list) or not layers:
        return None
    keras = keras_env.keras()
    shape: t.Any = None
    first = layers[0]
    if isinstance(first, dict) and first.get("class_name") == "InputLayer":
        shape = (first.get("config") or {}).get("batch_shape")
        layers = layers[1:]
    if not isinstance(shape, list):
        shape = ((config.get("build_config") or {}).get("input_shape")) or None
    if not isinstance(shape, list):
        return None
    x = keras.KerasTensor(tuple(shape))
    for entry in layers:
        if not isinstance(entry, dict):
            return None
        name = str((entry.get("config") or {}).get("name", "?"))
        cls = str(entry.get("class_name", "?"))
        try:
            layer = keras.saving.deserialize_keras_object(entry, safe_mode=True)
        except Exception as exc:  # an unknown or refused layer: say so, with its name
            return name, cls, f"it cannot be made from its config ({_first_line(exc)})"
        try:
            x = layer(x)
        except Exception as exc:  # this layer's output cannot be computed
            return name, cls, _reason(exc)
    return None


def _reason(error: Exception) -> str:
    return error_summary(strip_ansi(str(error))).rstrip(".") or type(error).__name__


def _first_line(error: Exception) -> str:
    text = strip_ansi(str(error)).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
