"""Loss, optimizer and metrics, compared with what the reference compiles with."""

from __future__ import annotations

import re
import typing as t

from grader.checks.architecture import ReferenceModelParams, build_reference
from grader.checks.base import CheckContext, Verdict, register

_ALIASES = {
    "acc": "accuracy",
    "categorical_accuracy": "accuracy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _name(obj: t.Any) -> str:
    """``'adam'``, ``{'class_name': 'Adam', ...}`` or an object, as a snake_case name."""
    if obj is None:
        return "none"
    if isinstance(obj, str):
        return _ALIASES.get(obj.lower(), obj.lower())
    if isinstance(obj, dict):
        name = obj.get("config", {}).get("name") if obj.get("class_name") == "function" else None
        return _name(name or obj.get("class_name", "unknown"))
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


@register("compile", ReferenceModelParams)
def check_compile(ctx: CheckContext, params: ReferenceModelParams) -> Verdict:
    """The model is compiled with the reference's loss, optimizer and metrics."""
    actual = compile_summary(ctx.artefacts.compile_config(params.model))
    expected = compile_summary(build_reference(ctx, params).get_compile_config())
    if not actual:
        return Verdict(False, "the model was never compiled", {"expected": expected})
    wrong = [
        f"{k} is {actual.get(k)}, expected {v}" for k, v in expected.items() if actual.get(k) != v
    ]
    details = {"expected": expected, "actual": actual}
    return Verdict(not wrong, "; ".join(wrong) or "loss, optimizer and metrics match", details)
