"""Accuracy measured by the grader on test images the notebook never received."""

from __future__ import annotations

import sys
import typing as t
from dataclasses import dataclass

import numpy as np

from grader.artefacts.folder import MissingInput, without_input
from grader.budget import Budget
from grader.checks.base import CheckContext, Verdict, figure_key, register
from grader.checks.cost import too_costly
from grader.checks.params import Role
from grader.checks.thresholds import Decision, chance_level, decide
from grader.data.sets import HeldOut
from grader.report.escape import strip_ansi


@dataclass(frozen=True)
class AccuracyParams:
    """Which model, judged on which classes' held-out images, fed as the notebook feeds it."""

    model: Role
    classes: list[int]
    """Dataset labels of the images the model is judged on."""
    label_offset: int = 0
    """Subtracted from the labels (a model trained on digits 5-9 as 0-4 has offset 5)."""
    scale: float = 255.0
    """What the notebook divides pixels by."""
    eval_images: t.Literal["budget", "all"] = "budget"
    """``budget``: as many held-out images as the budget's ``max_eval_samples``; ``all``: every
    held-out image of the classes (for the reference too), where the budget's few images
    cannot separate a correct model from an untrained one."""
    when_not_judged: t.Literal["withhold", "award"] = "withhold"
    """What a ``not_judged`` verdict gives (the budget cannot tell a correct model from an
    untrained one at the rubric's confidence): no points, or all of them."""


def predict_labels(
    model: t.Any,
    held_out: HeldOut,
    classes: t.Sequence[int],
    *,
    label_offset: int = 0,
    scale: float = 255.0,
    max_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels of ``model`` on the held-out images of ``classes``.

    Args:
        model: a Keras model taking images divided by ``scale``.
        held_out: the grader's test images and labels.
        classes: which labels this model was trained on.
        label_offset: subtracted from labels before comparing (MNIST's upper digits are 0-4).
        scale: what the notebook divides pixels by.
        max_samples: evaluate on at most this many images (the budget's evaluation cap).

    Returns:
        ``(y_true, y_pred)`` in the model's label space (offset already subtracted).
    """
    keep = np.isin(held_out.y, classes)
    x, y = held_out.x[keep], held_out.y[keep].astype(np.int64) - label_offset
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    if len(y) == 0:
        raise ValueError(f"no held-out images of classes {list(classes)}")
    images = x.astype("float32") / scale
    input_shape = getattr(model, "input_shape", None)
    if isinstance(input_shape, tuple) and images.ndim == len(input_shape) - 1:
        # Grey images come as (n, 28, 28); models take them with a channel axis.
        images = images[..., None]
    return y, np.argmax(scores(model, images), axis=-1).astype(np.int64)


def scores(model: t.Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's class scores for ``images``, one row per image, in batches.

    A Keras model is called eagerly, as ``predict``'s step calls it (``training=False``):
    ``predict`` first traces a graph of that step, and for the few hundred to few thousand
    images a check measures, the trace took about 60% of a judge's time in ``predict``, more
    than running the images (profiled 2026-12-07). Any other model (the PyTorch judge's ONNX
    session) has a ``predict`` of its own.

    Raises:
        ValueError: a Keras model gives several outputs, so no one row of scores per image.
    """
    # Looked up, not imported: a PyTorch judge has no Keras to import, and a Keras model
    # cannot exist where Keras was never imported.
    keras = sys.modules.get("keras")
    if keras is None or not isinstance(model, keras.Model):
        return np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
    batches = []
    for start in range(0, len(images), batch_size):
        out = model(images[start : start + batch_size], training=False)
        if not keras.ops.is_tensor(out):
            raise ValueError(
                f"the model returns a {type(out).__name__} of outputs where one array of "
                "class scores was expected"
            )
        batches.append(keras.ops.convert_to_numpy(out))
    return np.concatenate(batches)


def evaluate_accuracy(
    model: t.Any,
    held_out: HeldOut,
    classes: t.Sequence[int],
    *,
    label_offset: int = 0,
    scale: float = 255.0,
    max_samples: int | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on the held-out images of ``classes``.

    Takes the arguments of :func:`predict_labels`.
    """
    y, predicted = predict_labels(
        model,
        held_out,
        classes,
        label_offset=label_offset,
        scale=scale,
        max_samples=max_samples,
    )
    return float(np.mean(predicted == y))


def confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: t.Sequence[int],
    class_names: t.Sequence[str],
    *,
    label_offset: int = 0,
) -> dict[str, t.Any]:
    """Count each (true class, predicted class) pair.

    Rows are the ``classes`` the model is judged on; columns are those classes followed by any
    other label the model predicted (a transfer model may still predict a class it was never
    shown). ``class_names`` are indexed by dataset label, so ``label_offset`` is added back.

    Returns:
        ``{"rows": [label...], "columns": [label...], "names": {label: name},
        "counts": [[int...]...]}``, JSON-ready.
    """
    rows = [int(c) - label_offset for c in classes]
    others = sorted({int(p) for p in np.unique(y_pred)} - set(rows))
    columns = rows + others
    index = {label: i for i, label in enumerate(columns)}
    counts = np.zeros((len(rows), len(columns)), dtype=np.int64)
    for true, predicted in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        counts[index[true], index[predicted]] += 1

    def name(label: int) -> str:
        dataset_label = label + label_offset
        if 0 <= dataset_label < len(class_names):
            return str(class_names[dataset_label])
        return f"label {label}"

    return {
        "rows": rows,
        "columns": columns,
        "names": {str(label): name(label) for label in columns},
        "counts": counts.tolist(),
    }


def measure(model: t.Any, held_out: HeldOut, params: AccuracyParams, budget: Budget) -> float:
    """Held-out accuracy of ``model`` as the check measures it (for the reference, too)."""
    return evaluate_accuracy(
        model,
        held_out,
        params.classes,
        label_offset=params.label_offset,
        scale=params.scale,
        max_samples=eval_cap(params, budget),
    )


def eval_cap(params: AccuracyParams, budget: Budget) -> int | None:
    """How many held-out images the check (and the reference) is measured on."""
    return None if params.eval_images == "all" else budget.max_eval_samples


@register("accuracy", AccuracyParams, measure_reference=measure)
def check_accuracy(ctx: CheckContext, params: AccuracyParams) -> Verdict:
    """Held-out accuracy reaches the threshold.

    The threshold is ``relative_to_reference`` times the accuracy of the reference trained
    under the same budget, data and seed, moved if needed so that a correct notebook passes
    and an untrained one fails, each with the rubric's confidence (see
    :mod:`grader.checks.thresholds`); at the ``full`` budget on real data, the course's
    absolute target applies as well. Where no threshold can separate the two on the images
    evaluated, the check is ``not_judged``, with the figures, and gives what the rubric's
    ``when_not_judged`` says; ``eval_images = "all"`` evaluates on every held-out image.
    """
    model = ctx.artefacts.model(params.model, when="trained")
    costly = too_costly(ctx, params.model, model)
    if costly:
        return Verdict(False, costly, {"refused": "cost"})
    keras_layers = getattr(model, "layers", None)  # a PyTorch model has none to list
    if keras_layers is not None and not without_input(keras_layers):
        raise MissingInput(f"the {params.model} model has no layers: add them before training it")
    try:
        y_true, y_pred = predict_labels(
            model,
            ctx.held_out,
            params.classes,
            label_offset=params.label_offset,
            scale=params.scale,
            max_samples=eval_cap(params, ctx.budget),
        )
    except (ValueError, TypeError) as exc:
        # The student's model cannot take the assignment's images (wrong input shape, a
        # layer that cannot run): a mistake in the model, judged as such, never an error.
        summary = strip_ansi(str(exc)).strip().splitlines()
        raise MissingInput(
            f"the {params.model} model cannot predict the held-out images: "
            f"{summary[0] if summary else type(exc).__name__}"
        ) from exc
    measured = float(np.mean(y_pred == y_true))
    reference = ctx.reference_figure()
    decision = _decision(ctx, reference, y_true)
    threshold, basis = decision.threshold, _basis(ctx, decision, reference)
    target = ctx.assignment.course_targets.get(params.model)
    # Course targets assume the real thing: all the data, real images, ImageNet weights.
    at_full_on_real = (
        ctx.budget.name == "full" and ctx.given.source == "real" and ctx.pretrained_available
    )
    if target is not None and at_full_on_real and target > threshold:
        threshold, basis = target, f"the course target of {target:.0%}"
    details = {
        "accuracy": measured,
        "threshold": threshold,
        "reference_accuracy": reference,
        "course_target": target,
        "held_out_images": int(np.isin(ctx.held_out.y, params.classes).sum()),
        "evaluated_images": len(y_true),
        "statistics": decision.figures(),
        "confusion": confusion_matrix(
            y_true,
            y_pred,
            params.classes,
            ctx.given.class_names,
            label_offset=params.label_offset,
        ),
    }
    if not decision.judged and not (target is not None and at_full_on_real):
        return _not_judged(ctx, params, decision, measured, details)
    passed = measured >= threshold
    verb = "reaches" if passed else "is below"
    return Verdict(
        passed,
        f"accuracy {measured:.1%} on held-out images {verb} {threshold:.1%} ({basis})",
        details,
    )


def _decision(ctx: CheckContext, reference: float, y_true: np.ndarray) -> Decision:
    """The threshold from the reference's accuracy and spread, if any separates a correct
    notebook from an untrained one on these images."""
    assert ctx.current is not None
    spread = ctx.reference_figures.get(
        figure_key(ctx.current.id, "spread"), ctx.assignment.assumed_spread
    )
    return decide(
        reference=reference,
        spread=spread,
        images=len(y_true),
        chance=chance_level(y_true),
        relative=ctx.assignment.relative_threshold,
        confidence=ctx.assignment.confidence,
    )


def _basis(ctx: CheckContext, decision: Decision, reference: float) -> str:
    """Where the threshold comes from, for the message: the reference, or either bound."""
    relative = ctx.assignment.relative_threshold
    if decision.threshold > relative * reference + 1e-12:
        return (
            f"above what an untrained model scores on {decision.images} images at "
            f"{decision.confidence:.0%} confidence ({decision.untrained_upper:.1%})"
        )
    if decision.threshold < relative * reference - 1e-12:
        return (
            f"what a correct notebook reaches on {decision.images} images at "
            f"{decision.confidence:.0%} confidence, the reference scoring {reference:.1%}"
        )
    return f"{relative:.0%} of the reference's {reference:.1%} at the '{ctx.budget.name}' budget"


def _not_judged(
    ctx: CheckContext,
    params: AccuracyParams,
    decision: Decision,
    measured: float,
    details: dict[str, t.Any],
) -> Verdict:
    """No threshold tells a correct notebook from an untrained one: the rubric says the points."""
    awarded = params.when_not_judged == "award"
    details["awarded"] = awarded
    return Verdict(
        False,
        f"cannot be judged at the '{ctx.budget.name}' budget: {decision.explain()}, so no "
        f"threshold tells them apart (accuracy measured: {measured:.1%}). The rubric "
        f"{'awards' if awarded else 'withholds'} these points; a larger budget judges it.",
        details,
        judged=False,
    )
