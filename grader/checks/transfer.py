"""Transfer learning: the reused layers are frozen, and really carry the base's weights."""

from __future__ import annotations

import typing as t

from grader.capture import LayerState, MissingInput
from grader.checks.base import CheckContext, Verdict, register
from grader.kernel_runtime import weight_digests


@register("frozen", required={"model": str, "n_frozen": int})
def check_frozen(ctx: CheckContext, params: dict[str, t.Any]) -> Verdict:
    """The first ``n_frozen`` layers are frozen, the rest trainable, and training left the
    frozen weights unchanged."""
    role, n = params["model"], params["n_frozen"]
    model = ctx.artefacts.model(role)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    problems = [
        f"layer {i + 1} ({layer.name}) is trainable; it should be frozen"
        for i, layer in enumerate(layers[:n])
        if layer.trainable
    ]
    problems += [
        f"layer {i + 1} ({layer.name}) is frozen; new layers must be trainable"
        for i, layer in enumerate(layers[n:], start=n)
        if layer.weights and not layer.trainable
    ]
    if len(layers) < n:
        problems.append(f"the model has {len(layers)} layers; {n} should be frozen")
    fits = ctx.artefacts.fits_of(role)
    if not fits:
        problems.append(f"the {role} model was never trained, so frozen weights are unconfirmed")
    for fit in fits:
        if fit.before is None:
            continue
        for i, (b, a) in enumerate(zip(fit.before[:n], fit.after[:n], strict=False)):
            if b.weights != a.weights:
                problems.append(
                    f"layer {i + 1} ({a.name}) changed during training (fit #{fit.index + 1})"
                )
    flags = [{"name": layer.name, "trainable": bool(layer.trainable)} for layer in layers]
    if problems:
        return Verdict(False, "\n".join(f"- {p}" for p in problems), {"layers": flags})
    return Verdict(
        True,
        f"layers 1-{n} frozen and unchanged by training; the new layers trainable",
        {"layers": flags},
    )


@register("weights_transferred", required={"model": str, "source": str, "n_layers": int})
def check_weights_transferred(ctx: CheckContext, params: dict[str, t.Any]) -> Verdict:
    """The first ``n_layers`` of the model started from the source model's trained weights
    (layers re-created with the same shapes start from fresh weights and fail)."""
    role, source, n = params["model"], params["source"], params["n_layers"]
    source_fits = ctx.artefacts.fits_of(source)
    if not source_fits:
        raise MissingInput(
            f"the {source} model was never trained: there were no weights to transfer"
        )
    trained = source_fits[-1].after[:n]
    target_fits = [f for f in ctx.artefacts.fits_of(role) if f.before is not None]
    if target_fits:
        start = target_fits[0].before
        assert start is not None
        return _compare(trained, start[:n], role, source, "when its training began")
    # Never trained: compare the saved models instead.
    final = ctx.artefacts.model(role)
    base = ctx.artefacts.model(source, when="trained")
    return _compare_models(base, final, n, role, source)


def _compare(
    source: t.Sequence[LayerState],
    target: t.Sequence[LayerState],
    role: str,
    source_role: str,
    when: str,
) -> Verdict:
    weighted = [(s, d) for s, d in zip(source, target, strict=False) if s.weights or d.weights]
    if not weighted:
        return Verdict(False, "none of the layers to transfer has weights: nothing was transferred")
    differ = [
        f"layer {target.index(d) + 1} ({d.name})" for s, d in weighted if s.weights != d.weights
    ]
    if len(target) < len(source):
        differ.append(f"the {role} model has only {len(target)} of the {len(source)} layers")
    if differ:
        return Verdict(
            False,
            f"{', '.join(differ)} of the {role} model did not hold the trained "
            f"{source_role} weights {when}: reuse the {source_role} model's layer "
            "objects instead of creating new ones",
            {"differ": differ},
        )
    return Verdict(
        True, f"{len(weighted)} weighted layer(s) carry the trained {source_role} weights"
    )


def _compare_models(base: t.Any, model: t.Any, n: int, role: str, source: str) -> Verdict:
    def states(m: t.Any) -> list[LayerState]:
        return [
            LayerState(d["name"], d["class"], d["trainable"], tuple(d["weights"]))
            for d in weight_digests(m)
            if d["class"] != "InputLayer"
        ][:n]

    return _compare(states(base), states(model), role, source, "at the end of the notebook")
