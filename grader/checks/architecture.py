"""Layer-by-layer comparison of a submitted model with the reference's."""

from __future__ import annotations

import difflib
import typing as t
from dataclasses import dataclass

from grader import keras_env
from grader.capture import MissingInput
from grader.checks.base import CheckContext, Verdict, register

# The configuration fields that define what a layer computes; names, initialisers and
# dtypes are the student's business.
SIGNATURE_FIELDS = (
    "filters",
    "units",
    "kernel_size",
    "pool_size",
    "strides",
    "padding",
    "activation",
    "rate",
)


@dataclass(frozen=True)
class LayerSignature:
    """What a layer is, for comparison: type, the fields above, output shape, parameters."""

    name: str
    type: str
    config: dict[str, t.Any]
    output_shape: tuple[int | None, ...]
    params: int
    trainable: bool

    def describe(self) -> str:
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.config.items())
        return f"{self.type}({args})"

    def compared(self) -> dict[str, t.Any]:
        return {**self.config, "output shape": self.output_shape, "parameters": self.params}


def _fmt(value: t.Any) -> str:
    return "x".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _normalise(value: t.Any) -> t.Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):  # a serialised activation object
        return value.get("config", {}).get("name", value.get("class_name"))
    return value


def signatures(model: t.Any) -> list[LayerSignature]:
    """The signature of every layer of ``model`` but its input layer, in order."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    shapes = _output_shapes(model, layers)
    out = []
    for layer, shape in zip(layers, shapes, strict=True):
        config = layer.get_config()
        fields = {k: _normalise(config[k]) for k in SIGNATURE_FIELDS if k in config}
        out.append(
            LayerSignature(
                layer.name,
                type(layer).__name__,
                fields,
                shape,
                int(layer.count_params()),
                bool(layer.trainable),
            )
        )
    return out


def _output_shapes(model: t.Any, layers: list[t.Any]) -> list[tuple[int | None, ...]]:
    try:
        return [tuple(layer.output.shape) for layer in layers]
    except (AttributeError, ValueError):
        # Layers shared between models have several outputs; walk the chain instead.
        shape = tuple(model.inputs[0].shape)
        shapes = []
        for layer in layers:
            shape = tuple(layer.compute_output_shape(shape))
            shapes.append(shape)
        return shapes


def diff(expected: list[LayerSignature], actual: list[LayerSignature]) -> list[str]:
    """Every difference between two layer lists, missing and extra layers included.

    Layers are aligned as ``diff`` aligns lines, so one missing layer is reported as missing
    rather than as a cascade of mismatches.
    """
    problems: list[str] = []
    # Align on type and configuration: an extra or missing layer then shows as one insertion or
    # deletion, and a layer with a wrong field as a replacement compared field by field.
    matcher = difflib.SequenceMatcher(
        a=[s.describe() for s in expected], b=[s.describe() for s in actual], autojunk=False
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        pairs = min(i2 - i1, j2 - j1) if op in ("equal", "replace") else 0
        for k in range(pairs):
            e, a = expected[i1 + k], actual[j1 + k]
            if e.type == a.type:
                problems += _compare(e, j1 + k, a)
            else:
                problems.append(
                    f"layer {j1 + k + 1} ({a.name}) is {a.describe()}; expected {e.describe()}"
                )
        for i in range(i1 + pairs, i2):
            problems.append(f"missing layer {i + 1}: {expected[i].describe()}")
        for j in range(j1 + pairs, j2):
            problems.append(f"extra layer {j + 1} ({actual[j].name}): {actual[j].describe()}")
    return problems


def _compare(e: LayerSignature, j: int, a: LayerSignature) -> list[str]:
    want, got = e.compared(), a.compared()
    wrong = [
        f"{key} is {_fmt(got.get(key, 'absent'))}, expected {_fmt(value)}"
        for key, value in want.items()
        if got.get(key) != value
    ]
    return [f"layer {j + 1} ({a.name}, {a.type}): " + "; ".join(wrong)] if wrong else []


def _table(sigs: list[LayerSignature]) -> list[dict[str, t.Any]]:
    return [
        {
            "name": s.name,
            "type": s.type,
            "config": {k: _fmt(v) for k, v in s.config.items()},
            "output_shape": _fmt(s.output_shape),
            "params": s.params,
            "trainable": s.trainable,
        }
        for s in sigs
    ]


def build_reference(ctx: CheckContext, params: dict[str, t.Any]) -> t.Any:
    """Build the reference model a check compares with, as the rubric's params describe.

    ``builder`` names a function of the reference module. With ``built_on``, it receives a
    clone of the student's model in that role (a clone, since builders may freeze layers and
    loaded models are shared between checks), or, when there is none, ``base_builder()``.
    """
    keras = keras_env.keras()
    builder = getattr(ctx.reference, params["builder"])
    if "built_on" not in params:
        return builder()
    try:
        base = keras.models.clone_model(ctx.artefacts.model(params["built_on"]))
    except MissingInput:
        if "base_builder" not in params:
            raise
        base = getattr(ctx.reference, params["base_builder"])()
    return builder(base)


@register(
    "architecture",
    required={"model": str, "builder": str},
    optional={"built_on": str, "base_builder": str},
)
def check_architecture(ctx: CheckContext, params: dict[str, t.Any]) -> Verdict:
    """The model's layers match the reference builder's, layer by layer.

    ``built_on`` names a role whose model the builder receives (the transfer builder extends
    the student's own base, so a base mistake is charged once, to the base); without that
    model, ``base_builder`` from the reference stands in for it.
    """
    actual = signatures(ctx.artefacts.model(params["model"]))
    expected = signatures(build_reference(ctx, params))
    problems = diff(expected, actual)
    details = {"expected": _table(expected), "actual": _table(actual)}
    if problems:
        return Verdict(
            False,
            f"{len(problems)} difference(s) from the expected architecture:\n"
            + "\n".join(f"- {p}" for p in problems),
            details,
        )
    return Verdict(True, f"all {len(expected)} layers match", details)
