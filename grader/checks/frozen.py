"""Frozen layers: the layers a rubric names are frozen when the model trains, and were not
changed by anything else (a ``fit`` before the freeze not judged, a weight set by hand)."""

from __future__ import annotations

import fnmatch
import typing as t
from dataclasses import dataclass, field

from grader.artefacts.folder import MissingInput, without_input
from grader.artefacts.records import FitCapture, LayerState, layer_states
from grader.checks.base import CheckContext, Verdict, register
from grader.checks.params import Role


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
    built_on: Role | None = None
    """With ``n_frozen``: the model whose first n layers this one reuses. The layers to freeze
    are then those of its first n layers that this model holds (matched by name), so a model
    that reused too few layers is charged by the architecture check, not here as well."""

    def problem(self) -> str | None:
        """Exactly one way of selecting the frozen layers."""
        if (self.n_frozen is None) == (not self.frozen):
            return "expected exactly one of n_frozen, frozen"
        if self.built_on is not None and self.n_frozen is None:
            return "built_on needs n_frozen"
        return None

    def selection(self, reused: t.Collection[str] | None) -> Selection:
        """Which layers must be frozen; ``reused``: the built-on model's first n layer names."""
        return Selection(self, None if reused is None else frozenset(reused))

    def describe(self) -> str:
        if self.n_frozen is not None:
            return f"layers 1-{self.n_frozen}"
        return "layers " + ", ".join(self.frozen)


@dataclass(frozen=True)
class Selection:
    """The frozen layers of one model: by position, by reuse, or by name pattern."""

    params: FrozenParams
    reused: frozenset[str] | None = None

    def is_frozen(self, index: int, name: str) -> bool:
        """Positional selections use ``index`` (as the rubric counts), named ones ``name``."""
        if self.reused is not None:
            return name in self.reused
        if self.params.n_frozen is not None:
            return index < self.params.n_frozen
        return any(fnmatch.fnmatchcase(name, p) for p in self.params.frozen)

    def problems(self, layers: list[LayerState]) -> list[str]:
        """What is wrong with the layers' trainable flags (each layer as the student nested
        it, its flag the effective one: see :func:`grader.artefacts.folder.layer_states`)."""
        if self.reused is not None:
            return self._reused(layers)
        if self.params.n_frozen is not None:
            return self._positional(layers, self.params.n_frozen)
        problems = []
        for pattern in (*self.params.frozen, *self.params.trainable):
            if not any(fnmatch.fnmatchcase(layer.name, pattern) for layer in layers):
                problems.append(f"no layer is named like {pattern!r}; is the base model there?")
        weighted = [layer for layer in layers if layer.weights]
        should_freeze = [
            layer.label for layer in weighted if self.is_frozen(0, layer.name) and layer.trainable
        ]
        should_train = [
            layer.label
            for layer in weighted
            if not self.is_frozen(0, layer.name) and not layer.trainable
        ]
        if should_freeze:
            problems.append(f"{_names(should_freeze, with_verb=True)} trainable; freeze them")
        if should_train:
            problems.append(f"{_names(should_train, with_verb=True)} frozen; make them trainable")
        return problems

    def _reused(self, layers: list[LayerState]) -> list[str]:
        problems = [
            f"layer {i + 1} ({layer.label}) is trainable; it should be frozen"
            for i, layer in enumerate(layers)
            if self.is_frozen(i, layer.name) and layer.trainable
        ]
        problems += [
            f"layer {i + 1} ({layer.label}) is frozen; new layers must be trainable"
            for i, layer in enumerate(layers)
            if not self.is_frozen(i, layer.name) and layer.weights and not layer.trainable
        ]
        return problems

    @staticmethod
    def _positional(layers: list[LayerState], n: int) -> list[str]:
        problems = [
            f"layer {i + 1} ({layer.label}) is trainable; it should be frozen"
            for i, layer in enumerate(layers[:n])
            if layer.trainable
        ]
        problems += [
            f"layer {i + 1} ({layer.label}) is frozen; new layers must be trainable"
            for i, layer in enumerate(layers[n:], start=n)
            if layer.weights and not layer.trainable
        ]
        if len(layers) < n:
            problems.append(f"the model has {len(layers)} layers; {n} should be frozen")
        return problems


def reused_names(ctx: CheckContext, params: FrozenParams) -> list[str] | None:
    """The names of the built-on model's first ``n_frozen`` layers, when both models exist and
    share at least one of them (a model built from scratch is judged by position)."""
    if params.built_on is None or params.n_frozen is None:
        return None
    try:
        source = ctx.artefacts.model(params.built_on)
    except MissingInput:
        return None
    names = [s.name for s in without_input(layer_states(source))[: params.n_frozen]]
    model = ctx.artefacts.model(params.model)
    if not set(names) & {s.name for s in without_input(layer_states(model))}:
        return None
    return names


@register("frozen", FrozenParams)
def check_frozen(ctx: CheckContext, params: FrozenParams) -> Verdict:
    """The selected layers are frozen, the others trainable, and training left the frozen
    weights unchanged.

    Select the frozen layers either by position, ``n_frozen`` (the first n layers, input layer
    not counted; with ``built_on``, those of the built-on model's first n layers that the model
    reuses), or by name, ``frozen``: glob patterns such as ``"block1_*"``; with patterns,
    only layers that have weights are judged (a pooling layer has nothing to freeze), and each
    pattern must match at least one layer. ``trainable`` patterns name layers that must stay
    trainable; every other layer with weights (the new head) must be trainable too.
    ``pretraining_fits`` leading ``fit`` calls of the model train the layers before they are
    frozen (one model trained, frozen, then trained again) and are not judged for changes.

    One mistake costs once: a model that was never trained (after freezing) is judged on its
    flags, and the verdict says that training could not confirm the weights unchanged; the
    missing training is the accuracy check's to charge. "Never trained" is then checked
    against what the grader holds (:func:`_changed_without_training`): the frozen layers must
    end with the weights of their last recorded training, else a fit's record was removed or
    bypassed, and the check fails.
    """
    role = params.model
    model = ctx.artefacts.model(role)
    final = without_input(layer_states(model))
    selection = params.selection(reused_names(ctx, params))
    problems = selection.problems(final)
    all_fits = ctx.artefacts.fits_of(role)
    fits = all_fits[params.pretraining_fits :]
    # Every fit after the pretraining ones is compared, those that raised too (a fit may
    # change weights before it stops).
    pretrained = all_fits[: params.pretraining_fits]
    compared = (
        [f for f in ctx.artefacts.attempts_of(role) if f.index > pretrained[-1].index]
        if pretrained
        else ctx.artefacts.attempts_of(role)
    )
    if len(pretrained) < params.pretraining_fits:
        compared = []
    # Evidence missing is never evidence of nothing: a fit whose snapshots were removed, or
    # a fit without a record, could have trained the frozen layers.
    incomplete = [
        f"the record of fit #{f.index + 1} ({role} model) is incomplete: {f.problem}"
        for f in compared
        if f.problem
    ] + ctx.artefacts.record_problems
    problems += [f"{p}; the frozen weights cannot be confirmed unchanged" for p in incomplete]
    unconfirmed = None
    if not fits:
        when = "never trained" if not all_fits else "never trained after its layers were frozen"
        unconfirmed = (
            f"the {role} model was {when}, so training could not confirm that the frozen "
            "weights stay unchanged (the accuracy check charges the missing training)"
        )
    problems += _changed_in_fits(ctx, selection, compared)
    problems += _changed_after_last_fit(selection, final, compared)
    if not compared:
        problems += _changed_without_training(ctx, selection, final, role)
    flags = [{"name": layer.label, "trainable": layer.trainable} for layer in final]
    details: dict[str, t.Any] = {"layers": flags}
    if unconfirmed:
        details["unconfirmed"] = unconfirmed
    if problems:
        lines = [*problems, *([unconfirmed] if unconfirmed else [])]
        return Verdict(False, "\n".join(f"- {p}" for p in lines), details)
    if unconfirmed:
        return Verdict(
            True, f"{params.describe()} frozen, the other layers trainable; {unconfirmed}", details
        )
    return Verdict(
        True,
        f"{params.describe()} frozen and unchanged by training; the other layers trainable",
        details,
    )


def _changed_in_fits(ctx: CheckContext, selection: t.Any, compared: list[t.Any]) -> list[str]:
    """The frozen layers each compared fit changed (fits without an "after" are charged as
    incomplete records)."""
    problems = []
    for fit in compared:
        if fit.after is None:
            continue
        start_states = fit.before or _last_states(ctx.artefacts.fits, fit)
        before, after = without_input(start_states), without_input(fit.after)
        known = {(b.name, b.cls): b for b in before}
        changed = [
            a.label
            for i, a in enumerate(after)
            if selection.is_frozen(i, a.name)
            and (b := _at(before, i, a) if fit.before else known.get((a.name, a.cls))) is not None
            and b.weights != a.weights
        ]
        if changed:
            problems.append(
                f"{_names(changed)} changed during training (fit #{fit.index + 1}); "
                "frozen layers must keep their weights"
            )
    return problems


def _changed_after_last_fit(
    selection: t.Any, final: list[t.Any], compared: list[t.Any]
) -> list[str]:
    """The weights a fit ended with must be the model's at the end of the notebook: a record
    rewritten to hide a change would have to match the saved model too."""
    if not compared or compared[-1].after is None:
        return []
    ended_with = {s.name: s.weights for s in final}
    moved = [
        s.label
        for i, s in enumerate(without_input(compared[-1].after))
        if selection.is_frozen(i, s.name)
        and s.name in ended_with
        and ended_with[s.name] != s.weights
    ]
    if not moved:
        return []
    return [
        f"{_names(moved)} changed after the last training (fit #{compared[-1].index + 1}); "
        "frozen layers must keep their weights"
    ]


def _changed_without_training(
    ctx: CheckContext, selection: Selection, final: list[LayerState], role: str
) -> list[str]:
    """For a model no fit trained after its layers were frozen: the frozen layers must end
    with the weights the grader last saw them with, since only a fit trains them.

    A fit's record and snapshots, and the kernel's count of fits, are written by the kernel:
    a cell can remove the record of an unfrozen ``fit`` it just ran (or bypass the wrapped
    ``fit``), then freeze the layers, and the model would look never trained. What the grader
    copied out after earlier cells is out of that cell's reach (:mod:`grader.judge.evidence`),
    so each frozen layer is compared, by name and class (shared layer objects, nested models
    seen through), with the last of that evidence:

    - the ``after`` snapshot of the last recorded fit of any model holding a layer so named
      (the base's training, a pretraining fit, a fit that raised): it is the state the
      records say training left the layer in;
    - for a layer no fit trained (an ImageNet base; layers given copied weights), the model
      as the earliest checkpoint holding it saved it: its weights when it was first saved,
      after the cell that built it.

    A difference is a training the records do not show: the check fails, naming the layers.
    Without that evidence (the snapshot of that last fit unusable, no checkpoint, or the
    earliest one unusable) the weights cannot be confirmed and the check fails too: a
    comparison is never skipped for want of its evidence. An honest model passes: a frozen
    layer that nothing trained keeps its weights exactly.

    What it cannot see: a cell that trains the layers and forges every file it writes in that
    same cell (the base's own ``after`` snapshot included) leaves nothing from an earlier cell
    to compare with; the hidden training is then only as visible as its results.
    """
    frozen = [s for i, s in enumerate(final) if selection.is_frozen(i, s.name) and s.weights]
    last: dict[tuple[str, str], FitCapture] = {}
    for earlier in sorted(ctx.artefacts.fits, key=lambda f: f.index):
        last.update({(s.name, s.cls): earlier for s in earlier.layers})
    changed: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for layer in frozen:
        key = (layer.name, layer.cls)
        fit = last.get(key)
        if fit is not None:
            seen = {(s.name, s.cls): s for s in fit.after or ()}.get(key)
            source = (
                f"the weights fit #{fit.index + 1} (their last recorded training) left them with"
            )
            lost = fit.problem or "it trained a model no rubric role names: weights not kept"
            why = f"fit #{fit.index + 1}: {lost}"
        else:
            checkpoint = ctx.artefacts.first_checkpoint(role)
            seen = None
            if isinstance(checkpoint, tuple):
                seen = {(s.name, s.cls): s for s in checkpoint[1]}.get(key)
                number = checkpoint[0]
                source = f"the weights the {role} model was first saved with (checkpoint {number})"
                why = f"no fit trained it, and the {role} model was first saved without it"
            else:
                why = checkpoint or f"no fit trained it, and no checkpoint holds the {role} model"
        if seen is None:
            missing.setdefault(why, []).append(layer.label)
        elif seen.weights != layer.weights:
            changed.setdefault(source, []).append(layer.label)
    problems = [
        f"{_names(labels)} changed with no recorded training to explain it: they differ from "
        f"{source}; a fit's record is missing (removed, or the grader's fit "
        "bypassed), so the frozen weights cannot be confirmed unchanged"
        for source, labels in changed.items()
    ]
    problems += [
        f"the grader holds no earlier weights of frozen {_names(labels)} ({why}), so the "
        "frozen weights cannot be confirmed unchanged"
        for why, labels in missing.items()
    ]
    return problems


def _at(states: t.Sequence[LayerState], i: int, like: LayerState) -> LayerState | None:
    """The layer at position ``i`` of a snapshot of the same fit, if it is ``like``'s."""
    return states[i] if i < len(states) and states[i].name == like.name else None


def _last_states(fits: t.Sequence[FitCapture], fit: FitCapture) -> tuple[LayerState, ...]:
    """For a fit on a model not built before it (no ``before`` snapshot): each layer as the
    latest earlier fit of any model left it, so that reused layers are still compared."""
    latest: dict[tuple[str, str], LayerState] = {}
    for earlier in fits:
        if earlier.index < fit.index and earlier.after is not None:
            latest.update({(s.name, s.cls): s for s in earlier.after})
    return tuple(latest.values())


def _names(names: t.Sequence[str], *, with_verb: bool = False) -> str:
    """``layers a, b`` (``... are`` with the verb): every wrong layer named, in model order."""
    one = len(names) == 1
    subject = ("layer " if one else "layers ") + ", ".join(names)
    return f"{subject} {'is' if one else 'are'}" if with_verb else subject
