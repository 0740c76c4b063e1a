"""A student kit's public spec: what stands in for the reference on a student's machine.

A kit's ``assignment.toml`` is the instructor's rubric less everything students may not
have (hidden checks, written-answer marking schemes, the reference module's name), plus a
``[kit]`` table written by :func:`grader.kit.build.build_kit`:

- ``models``: for each builder the rubric's checks name, the model it builds, as Keras' own
  JSON configuration (layer configs, trainable flags) and compile configuration; a builder
  that extends the student's own base (``built_on``) as the number of leading base layers it
  reuses, their trainable flags, and the layers it adds. Configurations, never code.
- ``calibrations``: the reference's figures (held-out accuracy per check) and training
  histories, measured when the kit was built, for each budget and data source the instructor
  prepared.
- ``data_secret``: the public secret the kit's data is drawn with (see :mod:`grader.kit.build`
  for why a kit cannot use the instructor's grading secret, and need not).

:class:`KitReference` is what :meth:`grader.rubric.Assignment.reference_module` returns for a
kit: the production checks call its builders exactly as they call the reference's.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass

from grader import keras_env
from grader.exceptions import KitError

KIT_VERSION = 1


@dataclass(frozen=True)
class KitCalibration:
    """The reference's figures under one budget, on one data source, measured at build time."""

    budget: str
    source: str
    fingerprint: str
    pretrained: tuple[str, ...]
    figures: dict[str, float]
    fits: list[dict[str, t.Any]]

    def describe(self) -> str:
        return f"budget {self.budget}, {self.source} data"


def _json(table: dict[str, t.Any], key: str) -> t.Any:
    try:
        return json.loads(table[key])
    except (KeyError, TypeError, ValueError) as exc:
        raise KitError(
            f"the kit's [kit] {key} is missing or not JSON ({exc}); rebuild the kit"
        ) from exc


def calibrations(table: dict[str, t.Any]) -> list[KitCalibration]:
    """The kit's calibrations, validated."""
    found = []
    for raw in _json(table, "calibrations"):
        try:
            found.append(
                KitCalibration(
                    budget=str(raw["budget"]),
                    source=str(raw["source"]),
                    fingerprint=str(raw["fingerprint"]),
                    pretrained=tuple(str(p) for p in raw["pretrained"]),
                    figures={str(k): float(v) for k, v in raw["figures"].items()},
                    fits=list(raw["fits"]),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KitError(
                f"a calibration in the kit is malformed ({exc}); rebuild the kit"
            ) from exc
    return found


def find_calibration(
    table: dict[str, t.Any], budget: str, source: str, fingerprint: str, pretrained: t.Sequence[str]
) -> KitCalibration:
    """The calibration made for this budget and this data (same data, same weights).

    Raises:
        KitError: the instructor did not prepare the kit for it; says what it was built for.
    """
    known = calibrations(table)
    for c in known:
        if (c.budget, c.source, c.fingerprint, c.pretrained) == (
            budget,
            source,
            fingerprint,
            tuple(pretrained),
        ):
            return c
    prepared = "; ".join(sorted({c.describe() for c in known})) or "nothing"
    raise KitError(
        f"this kit has no thresholds for budget {budget} on this machine's {source} data "
        f"(it was prepared for: {prepared}); use one of those, or ask for a kit built for it"
    )


_BUILT: dict[str, t.Any] = {}
"""Expected models made from nothing, by their kit entry (see :class:`KitReference`)."""


class KitReference:
    """The expected models of a kit, with the reference module's builder names.

    ``kit.build_base_cnn()`` returns the model the reference's ``build_base_cnn()`` returned
    when the kit was built (same layers, configurations, trainable flags and compile
    arguments, fresh weights); ``kit.build_transfer_model(base)`` reuses ``base``'s leading
    layers as the reference's builder does and adds the same new layers.
    """

    def __init__(self, table: dict[str, t.Any]) -> None:
        self._models: dict[str, dict[str, t.Any]] = _json(table, "models")

    def __getattr__(self, name: str) -> t.Callable[..., t.Any]:
        if name.startswith("_") or name not in self._models:
            raise AttributeError(f"the kit describes no model built by {name!r}")
        entry = self._models[name]

        def build(base: t.Any = None) -> t.Any:
            if entry["kind"] != "model":
                return build_expected(entry, base)
            # A model made from nothing is the same every time, and the checks only read it:
            # built once per kernel, it costs every later kit.check() nothing.
            key = json.dumps(entry, sort_keys=True)
            if key not in _BUILT:
                _BUILT[key] = build_expected(entry)
            return _BUILT[key]

        return build


def build_expected(entry: dict[str, t.Any], base: t.Any = None) -> t.Any:
    """A model from its kit entry (see :func:`describe_model` and :func:`describe_extension`)."""
    keras = keras_env.keras()
    if entry["kind"] == "model":
        model = keras.models.model_from_json(entry["config"])
    else:
        if base is None:
            raise TypeError("this builder extends a base model; pass it")
        reused = int(entry["reused"])
        reusable = [x for x in base.layers if type(x).__name__ != "InputLayer"]
        if len(reusable) < reused:
            raise ValueError(
                f"base needs at least {reused} layers to reuse; received {len(reusable)}"
            )
        model = keras.Sequential(name=entry["name"])
        inputs = keras.Input(shape=tuple(base.input_shape)[1:])
        model.add(inputs)
        for layer, trainable in zip(reusable[:reused], entry["trainable"], strict=True):
            layer.trainable = bool(trainable)
            model.add(layer)
        for config in entry["added"]:
            model.add(keras.layers.deserialize(config))
    for layer, trainable in zip(model.layers, entry.get("flags", []), strict=False):
        layer.trainable = bool(trainable)
    if entry.get("compile"):
        # compile_from_config would also build the optimizer's variables, which no check reads.
        config = keras.saving.deserialize_keras_object(entry["compile"])
        model.compile(**config)
    return model


def describe_model(model: t.Any) -> dict[str, t.Any]:
    """A kit entry for a model a builder made from nothing: its configuration, never code."""
    return {
        "kind": "model",
        "config": model.to_json(),
        "flags": [bool(layer.trainable) for layer in model.layers],
        "compile": model.get_compile_config() if model.compiled else None,
    }


def describe_extension(model: t.Any, base: t.Any) -> dict[str, t.Any]:
    """A kit entry for a model a builder made on ``base``: the base's leading layers it reuses
    (by identity), their flags, and the layers it adds.

    Raises:
        KitError: the model is not the base's leading layers followed by new ones.
    """
    keras = keras_env.keras()
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    base_layers = list(base.layers)
    reused = 0
    while reused < len(layers) and reused < len(base_layers):
        if layers[reused] is not base_layers[reused]:
            break
        reused += 1
    added = layers[reused:]
    if any(any(layer is b for b in base_layers) for layer in added) or not isinstance(
        model, keras.Sequential
    ):
        raise KitError(
            f"the builder of {model.name!r} is not a Sequential model of the base's leading "
            "layers followed by new ones; the kit cannot describe it without code"
        )
    return {
        "kind": "extension",
        "name": model.name,
        "reused": reused,
        "trainable": [bool(layer.trainable) for layer in layers[:reused]],
        # Unbuilt, as the builder makes them: a layer's build_config would fix its input size
        # to the reference base's, and a student's different base must still get a verdict.
        "added": [
            {k: v for k, v in keras.layers.serialize(layer).items() if k != "build_config"}
            for layer in added
        ],
        "compile": model.get_compile_config() if model.compiled else None,
    }
