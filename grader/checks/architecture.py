"""Layer-by-layer comparison of a submitted model with the reference's."""

from __future__ import annotations

import difflib
import math
import typing as t
from dataclasses import dataclass

from grader import keras_env
from grader.artefacts.folder import MissingInput
from grader.checks.base import CheckContext, Verdict, register
from grader.checks.params import Role
from grader.kernel import nesting


@dataclass(frozen=True)
class ReferenceModelParams:
    """A role's model, and how to build the reference's model it is compared with."""

    model: Role
    builder: str
    """A function of the reference module that builds the expected model."""
    built_on: Role | None = None
    """A role whose model the builder receives (the transfer builder extends the student's own
    base, so a mistake in the base is charged once, to the base)."""
    base_builder: str | None = None
    """Builds a stand-in for ``built_on`` when the notebook has no such model."""


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
    """The signature of every layer of ``model`` but its input layers, in order, nested models
    seen through (a base in ``Sequential([base, ...])`` or called as ``base(inputs)`` gives its
    own layers, named as the student nested them (:data:`grader.kernel.nesting.SEPARATOR`))."""
    flat = [f for f in nesting.leaves(model) if type(f.layer).__name__ != "InputLayer"]
    shapes = _output_shapes(model, [f.layer for f in flat])
    out = []
    for leaf, shape in zip(flat, shapes, strict=True):
        layer = leaf.layer
        config = layer.get_config()
        fields = {k: _normalise(config[k]) for k in SIGNATURE_FIELDS if k in config}
        out.append(
            LayerSignature(
                leaf.label,
                type(layer).__name__,
                fields,
                shape,
                int(layer.count_params()),
                leaf.trainable,
            )
        )
    return out


def _output_shapes(model: t.Any, layers: list[t.Any]) -> list[tuple[int | None, ...]]:
    """Each layer's output shape, any batch size: a Sequential model without an ``Input``
    is built by its first ``fit`` with that fit's batch size fixed in its shapes."""
    try:
        shapes = [tuple(layer.output.shape) for layer in layers]
    except (AttributeError, ValueError):
        # Layers shared between models have several outputs; walk the chain instead.
        shape = tuple(model.inputs[0].shape)
        shapes = []
        for layer in layers:
            shape = tuple(layer.compute_output_shape(shape))
            shapes.append(shape)
    return [(None, *shape[1:]) for shape in shapes]


LayerOp = t.Literal["same", "changed", "replaced", "missing", "extra"]


@dataclass(frozen=True)
class LayerPair:
    """One row of the side-by-side comparison: an expected layer, a submitted one, or both."""

    op: LayerOp
    """``same``; ``changed`` (same type, some fields differ); ``replaced`` (another type);
    ``missing`` (expected, not submitted); ``extra`` (submitted, not expected)."""
    expected: LayerSignature | None
    actual: LayerSignature | None
    position: int
    """1-based position in the submitted model (in the expected one for a missing layer)."""
    differing: tuple[str, ...] = ()
    """Compared fields whose values differ (``changed`` only)."""

    @property
    def trainable_differs(self) -> bool:
        """Trainable flags differ; shown beside the diff, judged by the ``frozen`` check."""
        return (
            self.expected is not None
            and self.actual is not None
            and self.expected.trainable != self.actual.trainable
        )


def align(expected: list[LayerSignature], actual: list[LayerSignature]) -> list[LayerPair]:
    """Pair expected and submitted layers as ``diff`` pairs lines.

    Layers are aligned on type and configuration, so an extra or missing layer shows as one
    insertion or deletion, and a layer with a wrong field as a pair compared field by field,
    never as a cascade of mismatches.
    """
    matcher = difflib.SequenceMatcher(
        a=[s.describe() for s in expected], b=[s.describe() for s in actual], autojunk=False
    )
    pairs: list[LayerPair] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        paired = min(i2 - i1, j2 - j1) if op in ("equal", "replace") else 0
        for k in range(paired):
            e, a = expected[i1 + k], actual[j1 + k]
            if e.type != a.type:
                pairs.append(LayerPair("replaced", e, a, j1 + k + 1))
                continue
            want, got = e.compared(), a.compared()
            differing = tuple(key for key, value in want.items() if got.get(key) != value)
            pairs.append(LayerPair("changed" if differing else "same", e, a, j1 + k + 1, differing))
        pairs += [LayerPair("missing", expected[i], None, i + 1) for i in range(i1 + paired, i2)]
        pairs += [LayerPair("extra", None, actual[j], j + 1) for j in range(j1 + paired, j2)]
    return pairs


def diff(expected: list[LayerSignature], actual: list[LayerSignature]) -> list[str]:
    """Every difference between two layer lists, missing and extra layers included.

    Layers are aligned as ``diff`` aligns lines (see :func:`align`), so one missing layer is
    reported as missing rather than as a cascade of mismatches.
    """
    problems: list[str] = []
    for pair in align(expected, actual):
        e, a, j = pair.expected, pair.actual, pair.position
        if pair.op == "replaced" and e is not None and a is not None:
            problems.append(f"layer {j} ({a.name}) is {a.describe()}; expected {e.describe()}")
        elif pair.op == "changed" and e is not None and a is not None:
            want, got = e.compared(), a.compared()
            wrong = [
                f"{key} is {_fmt(got.get(key, 'absent'))}, expected {_fmt(want[key])}"
                for key in pair.differing
            ]
            problems.append(f"layer {j} ({a.name}, {a.type}): " + "; ".join(wrong))
        elif pair.op == "missing" and e is not None:
            problems.append(f"missing layer {j}: {e.describe()}")
        elif pair.op == "extra" and a is not None:
            problems.append(f"extra layer {j} ({a.name}): {a.describe()}")
    return problems


def _row(s: LayerSignature | None) -> dict[str, t.Any] | None:
    if s is None:
        return None
    return {
        "name": s.name,
        "type": s.type,
        "config": {k: _fmt(v) for k, v in s.config.items()},
        "output_shape": "(" + ", ".join(map(str, s.output_shape)) + ")",
        "params": s.params,
        "trainable": s.trainable,
    }


def _table(sigs: list[LayerSignature]) -> list[dict[str, t.Any]]:
    return [t.cast(dict[str, t.Any], _row(s)) for s in sigs]


def comparison(
    expected: list[LayerSignature], actual: list[LayerSignature]
) -> list[dict[str, t.Any]]:
    """The aligned layer pairs as JSON-ready rows, for the side-by-side report."""
    return [
        {
            "op": p.op,
            "position": p.position,
            "expected": _row(p.expected),
            "actual": _row(p.actual),
            "differing": [_field_key(k) for k in p.differing],
            "trainable_differs": p.trainable_differs,
        }
        for p in align(expected, actual)
    ]


def _field_key(key: str) -> str:
    # Row keys of `_row`: the two non-config fields are named there without spaces.
    return {"output shape": "output_shape", "parameters": "params"}.get(key, key)


def parameter_counts(model: t.Any) -> dict[str, int]:
    """Trainable and non-trainable parameter counts, as ``model.summary()`` reports them."""

    def count(weights: t.Any) -> int:
        return int(sum(math.prod(int(d) for d in w.shape) for w in weights))

    return {
        "trainable": count(model.trainable_weights),
        "non_trainable": count(model.non_trainable_weights),
    }


def build_reference(ctx: CheckContext, params: ReferenceModelParams) -> t.Any:
    """Build the reference model a check compares with, as the rubric's params describe.

    ``builder`` names a function of the reference module. With ``built_on``, it receives a
    clone of the student's model in that role (a clone, since builders may freeze layers and
    loaded models are shared between checks), or, when there is none, ``base_builder()``.
    Built once per judge: a role's architecture and compile checks compare with the same model,
    and neither changes it.
    """
    key = (params.builder, params.built_on, params.base_builder)
    if key not in ctx.built_references:
        ctx.built_references[key] = _build_reference(ctx, params)
    return ctx.built_references[key]


def _build_reference(ctx: CheckContext, params: ReferenceModelParams) -> t.Any:
    keras = keras_env.keras()
    builder = getattr(ctx.reference, params.builder)
    if params.built_on is None:
        return builder()
    try:
        base = keras.models.clone_model(ctx.artefacts.model(params.built_on))
    except MissingInput:
        if params.base_builder is None:
            raise
        base = getattr(ctx.reference, params.base_builder)()
    return builder(base)


@register("architecture", ReferenceModelParams)
def check_architecture(ctx: CheckContext, params: ReferenceModelParams) -> Verdict:
    """The model's layers match the reference builder's, layer by layer.

    ``built_on`` names a role whose model the builder receives (the transfer builder extends
    the student's own base, so a base mistake is charged once, to the base); without that
    model, ``base_builder`` from the reference stands in for it.
    """
    # As the model was right after its own training: a correct notebook later freezes the base's
    # layers for transfer, and those flags would show as differences from the reference's base.
    model = ctx.artefacts.model(params.model, when="trained")
    reference = build_reference(ctx, params)
    actual, expected = signatures(model), signatures(reference)
    problems = diff(expected, actual)
    details = {
        "expected": _table(expected),
        "actual": _table(actual),
        "comparison": comparison(expected, actual),
        "parameters": {
            "expected": parameter_counts(reference),
            "actual": parameter_counts(model),
        },
    }
    if problems:
        return Verdict(
            False,
            f"{len(problems)} difference(s) from the expected architecture:\n"
            + "\n".join(f"- {p}" for p in problems),
            details,
        )
    return Verdict(True, f"all {len(expected)} layers match", details)
