"""Transfer learning: the reused layers really carry the base model's trained weights (that they
are frozen is :mod:`grader.checks.frozen`'s to judge)."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from grader.artefacts.folder import without_input
from grader.artefacts.records import LayerState, layer_states
from grader.checks.base import CheckContext, Verdict, register
from grader.checks.params import Role


@dataclass(frozen=True)
class TransferParams:
    """Which model's first layers must carry which model's trained weights."""

    model: Role
    source: Role
    n_layers: int


@register("weights_transferred", TransferParams)
def check_weights_transferred(ctx: CheckContext, params: TransferParams) -> Verdict:
    """The weighted layers among the source model's first ``n_layers`` are in the model (the
    same layers, matched by name) and started from the source model's trained weights: layers
    re-created with the same shapes start from fresh weights and fail.

    One mistake costs once: how many layers the model reuses is the architecture check's to
    judge, and a source model that was never trained is its accuracy check's to charge; then
    the saved models are compared, and the verdict says the weights were not trained ones.
    """
    role, source, n = params.model, params.source, params.n_layers
    source_fits = ctx.artefacts.fits_of(source)
    # What this check compares must be there: the source's weights after its last fit, the
    # model's before its first; and no fit may have lost its record (it could be either's).
    needed = [(f, f.after, source) for f in source_fits[-1:]]
    needed += [(f, f.before, role) for f in ctx.artefacts.attempts_of(role)[:1] if f.built]
    incomplete = [
        f"the record of fit #{f.index + 1} ({owner} model) is incomplete: {f.problem}"
        for f, states, owner in needed
        if states is None
    ] + ctx.artefacts.record_problems
    if incomplete:
        return Verdict(
            False,
            "\n".join(f"- {p}; the transferred weights cannot be confirmed" for p in incomplete),
            {"incomplete": incomplete},
        )
    target_fits = [f for f in ctx.artefacts.fits_of(role) if f.before is not None]
    if source_fits and target_fits:
        trained = without_input(t.cast(t.Sequence[LayerState], source_fits[-1].after))[:n]
        start = target_fits[0].before
        assert start is not None
        return _compare(trained, without_input(start), role, source, "when its training began")
    # Never trained, either of them: compare the saved models. Shared layer objects end alike
    # in both; re-created ones were initialised apart.
    final = ctx.artefacts.model(role)
    base = ctx.artefacts.model(source, when="trained")
    verdict = _compare(
        without_input(layer_states(base))[:n],
        without_input(layer_states(final)),
        role,
        source,
        "at the end of the notebook",
    )
    if not source_fits and verdict.passed:
        note = (
            f"; the {source} model was never trained, so they carry untrained weights "
            f"(its accuracy check charges that)"
        )
        return Verdict(True, verdict.message + note, {**verdict.details, "unconfirmed": note[2:]})
    return verdict


def _compare(
    source: t.Sequence[LayerState],
    target: t.Sequence[LayerState],
    role: str,
    source_role: str,
    when: str,
) -> Verdict:
    """Each weighted ``source`` layer must be in ``target`` with its weights: found by name (a
    shared layer object), else at its own position (weights copied into a new layer count)."""
    by_name = {d.name: d for d in target}
    pairs = [
        (s, by_name.get(s.name) or (target[i] if i < len(target) else None))
        for i, s in enumerate(source)
        if s.weights
    ]
    if not pairs:
        return Verdict(False, "none of the layers to transfer has weights: nothing was transferred")
    missing = [s.name for s, d in pairs if d is None]
    differ = [
        f"layer {target.index(d) + 1} ({d.label})"
        for s, d in pairs
        if d is not None and d.weights != s.weights
    ]
    if differ or len(missing) == len(pairs):
        lacking = [f"{source_role} layer {name} is not in it" for name in missing]
        return Verdict(
            False,
            f"{', '.join([*differ, *lacking])}: the {role} model did not hold the trained "
            f"{source_role} weights {when}; reuse the {source_role} model's layer "
            "objects instead of creating new ones",
            {"differ": differ, "missing": missing},
        )
    skipped = (
        f" ({', '.join(missing)} not reused: the architecture check judges which layers)"
        if missing
        else ""
    )
    return Verdict(
        True,
        f"{len(pairs) - len(missing)} weighted layer(s) carry the {source_role} weights{skipped}",
        {"missing": missing},
    )
