"""What evaluating a student's Keras model costs, estimated from its graph before it runs.

A 1 MB model of ``UpSampling1D`` and ``SimpleRNN`` layers kept the judge's ``predict`` busy
77 s where judging an honest notebook takes about 3 s: only the judge's timeout bounded it, so
a few such hand-ins added many minutes to a batch. The judge therefore estimates the work of one
image through the model, from the shapes in its graph (no weights are used, nothing is run),
and refuses to evaluate a model costing more than :data:`MAX_RATIO` times the reference's
model for the same role (or :data:`FLOOR_FLOPS`, whichever is larger; a small model is always
cheap enough). The estimate, per layer and call: twice the layer's parameters times the
positions it is applied at (a convolution's output pixels, a recurrent layer's time steps,
a dense layer on a sequence's steps), plus the values it outputs (pooling, upsampling and
reshaping cost what they write).

Operations are not all the cost: a recurrent layer's time steps run one after another, each a
loop iteration with an overhead of its own whatever the layer's size, so a sequence stretched to
600,000 steps through a 24-parameter ``SimpleRNN`` costs few operations and minutes of
``predict``. Each time step of a recurrent layer is therefore charged :data:`STEP_FLOPS` more.
"""

from __future__ import annotations

import contextlib
import math
import typing as t

from grader import keras_env
from grader.checks.architecture import ReferenceModelParams
from grader.checks.base import CheckContext, figure_key
from grader.framework import framework_of

if t.TYPE_CHECKING:
    from grader.rubric import Assignment

MAX_RATIO = 20.0
"""How many times the reference's work per image a student's model may cost."""
FLOOR_FLOPS = 100e6
"""Work per image any model may cost, whatever the reference's (a mid-sized CNN on 32x32
images); the bound is the larger of this and :data:`MAX_RATIO` times the reference."""
FALLBACK_FLOPS = 5e9
"""The bound for a role the rubric gives no reference builder for (VGG19 on 224x224 images
costs about 4e9 by this estimate's count)."""

STEP_FLOPS = 1e4
"""What one time step of a recurrent layer costs per image beyond its arithmetic: 41-216 us per
step for a batch of 256 images (the accuracy check's batch) on a 2-core machine where the
reference CNN runs at 23-31 GFLOP/s, i.e. 4e3-2.6e4 operations' time per image
(``benchmarks/recurrent_steps.py``)."""

COST_FIGURE = "reference_flops"
"""The name of an accuracy check's calibrated figure that holds its reference's cost."""

_REFERENCE_COSTS: dict[tuple[str, str, str | None], float] = {}
"""(assignment, builder, base builder) -> the reference model's cost (a warm judge judges many
notebooks of one assignment)."""


def flops_per_image(model: t.Any, input_shape: tuple[int, ...] | None = None) -> float:
    """Estimated operations to pass one image through ``model`` (see the module's docstring).

    Nested models (a base called as a layer, a Sequential inside a Sequential) are counted
    through their own graphs. A graph with dimensions left open (``Input((None, None, 3))``)
    is counted on a copy built for ``input_shape`` (the images it will be given): left open,
    an upsampling layer could hide any cost.
    """
    keras = keras_env.keras()
    if input_shape is not None and not _concrete(model):
        with contextlib.suppress(Exception):  # a model that cannot take the images fails later
            model = keras.models.clone_model(model, input_tensors=keras.Input(input_shape))
    total = 0.0
    for node in _nodes(model):
        layer = node.operation
        ins = [tuple(tensor.shape) for tensor in node.input_tensors]
        outs = [tuple(tensor.shape) for tensor in node.outputs]
        if isinstance(layer, keras.Model):
            given = ins[0][1:] if len(ins) == 1 and _known(ins[0][1:]) else None
            total += flops_per_image(layer, given)
            continue
        params = layer.count_params() if getattr(layer, "built", False) else 0
        positions = max([_size(shape[1:-1]) for shape in ins + outs] + [1])
        total += 2.0 * params * positions + sum(_size(shape[1:]) for shape in outs)
        total += STEP_FLOPS * _recurrent_steps(keras, layer, ins)
    return total


def too_costly(ctx: CheckContext, role: str, model: t.Any) -> str:
    """Why the judge will not evaluate ``model`` for ``role``; empty when it will.

    The reference's cost comes from the rubric's architecture check for the role (its
    builder, on the reference's own base: never on the student's); without one, the bound is
    :data:`FALLBACK_FLOPS`.
    """
    if next(_nodes(model), None) is None:
        return ""  # not a Keras graph (a PyTorch model's ONNX graph has its own bounds)
    images = tuple(int(d) for d in ctx.held_out.x.shape[1:])
    declared = getattr(model, "input_shape", None)
    if isinstance(declared, tuple) and len(images) == len(declared) - 2:
        images += (1,)  # grey images get a channel axis, as the accuracy check feeds them
    try:
        cost = flops_per_image(model, images)
    except Exception:  # a graph this estimate cannot walk: the judge's timeout still bounds it
        return ""
    check_id = ctx.current.id if ctx.current is not None else ""  # "": a direct call, no figure
    reference = reference_cost(ctx.assignment, check_id, role, ctx.reference_figures)
    bound = max(FLOOR_FLOPS, MAX_RATIO * reference) if reference else FALLBACK_FLOPS
    if cost <= bound:
        return ""
    against = (
        f"{cost / reference:.0f}x the reference's {_amount(reference)}"
        if reference
        else f"more than the {_amount(bound)} the grader evaluates"
    )
    return (
        f"model too costly to evaluate: about {_amount(cost)} operations per image, {against} "
        f"(the grader evaluates up to {_amount(bound)}); it was not run, so its accuracy "
        "cannot be measured"
    )


def reference_flops(assignment: Assignment, role: str) -> float:
    """The reference model's cost for ``role``; 0 when the rubric gives no builder for it.

    Computed once per assignment and process (building VGG19 takes seconds): the judge does
    it while the notebook still runs (:func:`prepare_reference_costs`).
    """
    params = next(
        (
            c.params
            for c in assignment.checks
            if isinstance(c.params, ReferenceModelParams) and c.params.model == role
        ),
        None,
    )
    if params is None or (params.built_on is not None and params.base_builder is None):
        return 0.0  # no builder, or the reference would extend the student's own model
    key = (assignment.id, params.builder, params.base_builder)
    if key not in _REFERENCE_COSTS:
        try:
            reference = assignment.reference_module()
            builder = getattr(reference, params.builder)
            base = getattr(reference, params.base_builder) if params.base_builder else None
            model = builder() if params.built_on is None or base is None else builder(base())
            _REFERENCE_COSTS[key] = flops_per_image(model)
        except Exception:  # the architecture check reports a broken builder; here: no estimate
            _REFERENCE_COSTS[key] = 0.0
    return _REFERENCE_COSTS[key]


def reference_costs(assignment: Assignment) -> dict[str, float]:
    """The reference's cost for each accuracy check's role, as calibration figures
    (``<check id>/reference_flops``): calibration builds them once per cache entry, so the
    judges of a class need not build the reference's models again (seconds for VGG19)."""
    if not framework_of(assignment).estimates_cost:
        return {}
    return {
        figure_key(check.id, COST_FIGURE): reference_flops(assignment, check.params.model)
        for check in assignment.checks
        if check.kind == "accuracy"
    }


def reference_cost(
    assignment: Assignment, check_id: str, role: str, figures: dict[str, float]
) -> float:
    """The reference's cost for accuracy check ``check_id`` on ``role``: calibration's figure,
    else estimated from the reference's builders (a kit's calibration, or one cached before
    calibration recorded it)."""
    calibrated = figures.get(figure_key(check_id, COST_FIGURE))
    return reference_flops(assignment, role) if calibrated is None else calibrated


def prepare_reference_costs(assignment: Assignment, figures: dict[str, float]) -> None:
    """Estimate, while the notebook runs, every accuracy check's reference cost that
    ``figures`` (the calibration's) do not carry."""
    if not framework_of(assignment).estimates_cost:
        return
    for check in assignment.checks:
        if check.kind == "accuracy":
            reference_cost(assignment, check.id, check.params.model, figures)


def _nodes(model: t.Any) -> t.Iterator[t.Any]:
    """The calls in ``model``'s own graph (a layer shared with another model is counted for
    the calls made here only)."""
    graph = getattr(model, "_functional", None) or model
    for nodes in getattr(graph, "_nodes_by_depth", {}).values():
        yield from nodes


def _recurrent_steps(keras: t.Any, layer: t.Any, ins: list[tuple[t.Any, ...]]) -> int:
    """Time steps ``layer`` runs one after another (both directions of a ``Bidirectional``);
    0 for a layer that is not recurrent."""
    if not ins or len(ins[0]) < 3:
        return 0
    steps = _size(ins[0][1:2])
    if isinstance(layer, keras.layers.Bidirectional):
        return 2 * steps
    return steps if isinstance(layer, keras.layers.RNN) else 0


def _concrete(model: t.Any) -> bool:
    """Whether every shape in ``model``'s own graph is known (the batch aside)."""
    return all(
        _known(tuple(tensor.shape)[1:])
        for node in _nodes(model)
        for tensor in [*node.input_tensors, *node.outputs]
    )


def _known(dims: tuple[t.Any, ...]) -> bool:
    return all(isinstance(d, int) for d in dims)


def _size(dims: tuple[t.Any, ...]) -> int:
    """Values in a shape; an unknown dimension counts as 1."""
    return math.prod(d if isinstance(d, int) and d > 0 else 1 for d in dims)


def _amount(flops: float) -> str:
    return f"{flops / 1e9:.1f} GFLOP" if flops >= 1e9 else f"{flops / 1e6:.0f} MFLOP"
