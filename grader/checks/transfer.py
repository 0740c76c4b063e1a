"""Transfer learning: the reused layers are frozen, and really carry the base's weights."""

from __future__ import annotations

import fnmatch
import typing as t
from dataclasses import dataclass, field

from grader.checks.base import CheckContext, Verdict, register
from grader.checks.params import Role
from grader.judge.artefacts import LayerState, MissingInput, layer_states, without_input


@dataclass(frozen=True)
class FrozenParams:
    """Which layers a rubric wants frozen (and which trainable): by position or by name."""

    model: Role
    n_frozen: int | None = None
    """The first n layers (the input layer not counted)."""
    frozen: list[str] = field(default_factory=list)
    """Glob patterns of layer names (``"block1_*"``)."""
    trainable: list[str] = field(default_factory=list)
    """Glob patterns of layers that must stay trainable, with ``frozen``."""
    pretraining_fits: int = 0
    """Leading ``fit`` calls that train the layers before they are frozen, not judged."""

    def problem(self) -> str | None:
        """Exactly one way of selecting the frozen layers."""
        if (self.n_frozen is None) == (not self.frozen):
            return "expected exactly one of n_frozen, frozen"
        return None

    def is_frozen(self, index: int, name: str) -> bool:
        """Positional selections use ``index`` (as the rubric counts), named ones ``name``."""
        if self.n_frozen is not None:
            return index < self.n_frozen
        return any(fnmatch.fnmatchcase(name, p) for p in self.frozen)

    def describe(self) -> str:
        if self.n_frozen is not None:
            return f"layers 1-{self.n_frozen}"
        return "layers " + ", ".join(self.frozen)

    def problems(self, layers: list[t.Any]) -> list[str]:
        if self.n_frozen is not None:
            return self._positional(layers, self.n_frozen)
        problems = []
        for pattern in (*self.frozen, *self.trainable):
            if not any(fnmatch.fnmatchcase(layer.name, pattern) for layer in layers):
                problems.append(f"no layer is named like {pattern!r}; is the base model there?")
        weighted = [layer for layer in layers if layer.weights]
        should_freeze = [
            layer.name for layer in weighted if self.is_frozen(0, layer.name) and layer.trainable
        ]
        should_train = [
            layer.name
            for layer in weighted
            if not self.is_frozen(0, layer.name) and not layer.trainable
        ]
        if should_freeze:
            problems.append(f"{_names(should_freeze, with_verb=True)} trainable; freeze them")
        if should_train:
            problems.append(f"{_names(should_train, with_verb=True)} frozen; make them trainable")
        return problems

    @staticmethod
    def _positional(layers: list[t.Any], n: int) -> list[str]:
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
        return problems


@register("frozen", FrozenParams)
def check_frozen(ctx: CheckContext, params: FrozenParams) -> Verdict:
    """The selected layers are frozen, the others trainable, and training left the frozen
    weights unchanged.

    Select the frozen layers either by position, ``n_frozen`` (the first n layers, input layer
    not counted), or by name, ``frozen``: glob patterns such as ``"block1_*"``; with patterns,
    only layers that have weights are judged (a pooling layer has nothing to freeze), and each
    pattern must match at least one layer. ``trainable`` patterns name layers that must stay
    trainable; every other layer with weights (the new head) must be trainable too.
    ``pretraining_fits`` leading ``fit`` calls of the model train the layers before they are
    frozen (one model trained, frozen, then trained again) and are not judged for changes.
    """
    role = params.model
    model = ctx.artefacts.model(role)
    layers = without_input(model.layers)
    problems = params.problems(layers)
    fits = ctx.artefacts.fits_of(role)[params.pretraining_fits :]
    if not fits:
        when = (
            "never trained"
            if not ctx.artefacts.fits_of(role)
            else ("never trained after its layers were frozen")
        )
        problems.append(f"the {role} model was {when}, so frozen weights are unconfirmed")
    for fit in fits:
        if fit.before is None or fit.after is None:
            continue
        before, after = without_input(fit.before), without_input(fit.after)
        changed = [
            a.name
            for i, (b, a) in enumerate(zip(before, after, strict=False))
            if params.is_frozen(i, a.name) and b.weights != a.weights
        ]
        if changed:
            problems.append(
                f"{_names(changed)} changed during training (fit #{fit.index + 1}); "
                "frozen layers must keep their weights"
            )
    # The weights a fit ended with must be the model's at the end of the notebook: a record
    # rewritten to hide a change would have to match the saved model too.
    if fits and fits[-1].after is not None:
        final = {s.name: s.weights for s in without_input(layer_states(model))}
        ended = without_input(fits[-1].after)
        moved = [
            s.name
            for i, s in enumerate(ended)
            if params.is_frozen(i, s.name) and s.name in final and final[s.name] != s.weights
        ]
        if moved:
            problems.append(
                f"{_names(moved)} changed after the last training (fit #{fits[-1].index + 1}); "
                "frozen layers must keep their weights"
            )
    flags = [{"name": layer.name, "trainable": bool(layer.trainable)} for layer in layers]
    if problems:
        return Verdict(False, "\n".join(f"- {p}" for p in problems), {"layers": flags})
    return Verdict(
        True,
        f"{params.describe()} frozen and unchanged by training; the other layers trainable",
        {"layers": flags},
    )


def _names(names: t.Sequence[str], *, with_verb: bool = False) -> str:
    """``layers a, b`` (``... are`` with the verb): every wrong layer named, in model order."""
    one = len(names) == 1
    subject = ("layer " if one else "layers ") + ", ".join(names)
    return f"{subject} {'is' if one else 'are'}" if with_verb else subject


@dataclass(frozen=True)
class TransferParams:
    """Which model's first layers must carry which model's trained weights."""

    model: Role
    source: Role
    n_layers: int


@register("weights_transferred", TransferParams)
def check_weights_transferred(ctx: CheckContext, params: TransferParams) -> Verdict:
    """The first ``n_layers`` of the model started from the source model's trained weights
    (layers re-created with the same shapes start from fresh weights and fail)."""
    role, source, n = params.model, params.source, params.n_layers
    source_fits = ctx.artefacts.fits_of(source)
    if not source_fits:
        raise MissingInput(
            f"the {source} model was never trained: there were no weights to transfer"
        )
    if source_fits[-1].after is None:
        raise MissingInput(f"the record of the {source} model's training is unusable")
    trained = without_input(source_fits[-1].after)[:n]
    target_fits = [f for f in ctx.artefacts.fits_of(role) if f.before is not None]
    if target_fits:
        start = target_fits[0].before
        assert start is not None
        return _compare(trained, without_input(start)[:n], role, source, "when its training began")
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
        return without_input(layer_states(m))[:n]

    return _compare(states(base), states(model), role, source, "at the end of the notebook")
