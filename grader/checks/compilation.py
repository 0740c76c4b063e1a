"""Loss, optimizer and metrics, compared with what the reference compiles with."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from grader.checks.architecture import ReferenceModelParams, build_reference
from grader.checks.base import CheckContext, Verdict, register

_ALIASES = {
    "acc": "accuracy",
    "categorical_accuracy": "accuracy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
}


def _snake(name: str) -> str:
    """``CategoricalCrossentropy`` -> ``categorical_crossentropy``; acronyms stay whole
    (``SGD`` -> ``sgd``, ``RMSprop`` -> ``rmsprop``), as Keras spells their string names."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _name(obj: t.Any) -> str:
    """``'adam'``, ``{'class_name': 'Adam', ...}`` or an object, as a snake_case name."""
    if obj is None:
        return "none"
    if isinstance(obj, str):
        return _ALIASES.get(obj.lower(), obj.lower())
    if isinstance(obj, dict):
        name = None
        if obj.get("class_name") == "function":
            # A function is saved as its name, or (older Keras) a config holding it.
            config = obj.get("config")
            name = config if isinstance(config, str) else (config or {}).get("name")
        # A loss or metric object is saved by its class (CategoricalCrossentropy): the same
        # thing as the function's name (categorical_crossentropy) a string compiles with.
        return _name(name or _snake(str(obj.get("class_name", "unknown"))))
    return _name(_snake(getattr(obj, "name", None) or type(obj).__name__))


def compile_summary(config: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The loss, optimizer and metrics of a compile configuration (``model.get_compile_config()``,
    or as a ``.keras`` file saved it), as plain names; empty when never compiled."""
    if not config:
        return {}
    metrics = config.get("metrics") or []
    metrics = metrics if isinstance(metrics, list) else [metrics]
    flat = [m for group in metrics for m in (group if isinstance(group, list) else [group])]
    return {
        "loss": _name(config.get("loss")),
        "optimizer": _name(config.get("optimizer")),
        "metrics": sorted({_name(m) for m in flat}),
    }


@dataclass(frozen=True)
class CompileParams(ReferenceModelParams):
    """The reference model to compare with, and whether the exercise names an optimizer."""

    optimizer_prescribed: bool = False
    """The exercise text prescribes the optimizer: judge it too. Otherwise the choice is the
    student's (a check judges what the exercise asks, and an optimizer that trains badly costs
    accuracy, which the accuracy check charges)."""


@register("compile", CompileParams)
def check_compile(ctx: CheckContext, params: CompileParams) -> Verdict:
    """The model is compiled with the reference's loss and metrics, and its optimizer where the
    exercise prescribes one (``optimizer_prescribed = true``)."""
    actual = compile_summary(ctx.artefacts.compile_config(params.model))
    expected = compile_summary(build_reference(ctx, params).get_compile_config())
    if not params.optimizer_prescribed:
        expected.pop("optimizer", None)
    if not actual:
        return Verdict(False, "the model was never compiled", {"expected": expected})
    wrong = [
        f"{k} is {actual.get(k)}, expected {v}" for k, v in expected.items() if actual.get(k) != v
    ]
    details = {"expected": expected, "actual": actual}
    judged = " and ".join(
        ["loss, optimizer", "metrics"] if params.optimizer_prescribed else ["loss", "metrics"]
    )
    note = (
        ""
        if params.optimizer_prescribed
        else f" (the optimizer, {actual.get('optimizer')}, is the student's choice)"
    )
    return Verdict(not wrong, "; ".join(wrong) or f"{judged} match{note}", details)
