"""How a PyTorch model was trained: its optimizer, hyper-parameters and loss."""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass, field

from grader.checks.base import CheckContext, Verdict, register
from grader.checks.params import Role
from grader.framework.pytorch.checks.common import torch_artefacts


@dataclass(frozen=True)
class TorchOptimizerParams:
    """The optimizer a role's module was trained by, its hyper-parameters and the loss."""

    model: Role
    optimizer: str
    """The optimizer's class name (``SGD``, ``Adam``)."""
    hyper: dict[str, t.Any] = field(default_factory=dict)
    """Hyper-parameters as the optimizer's first step saw them (``{lr = 0.001}``)."""
    loss: list[str] = field(default_factory=list)
    """Accepted losses: a loss module's class or a ``torch.nn.functional`` name."""


@register("torch_optimizer", TorchOptimizerParams)
def check_torch_optimizer(ctx: CheckContext, params: TorchOptimizerParams) -> Verdict:
    """The model was trained by an ``optimizer`` (class name, e.g. ``SGD``) with the ``hyper``
    values (``{lr = 0.001, momentum = 0.9}``, as its first step saw them), and with one of the
    ``loss`` names (a loss module's class or a ``torch.nn.functional`` loss) in its training.
    """
    arts = torch_artefacts(ctx)
    role = params.model
    optimizers = [o for o in arts.optimizers_of(role) if o.passes]
    if not optimizers:
        return Verdict(False, f"the {role} model was never trained by an optimizer")
    used = optimizers[-1]
    problems = []
    if used.cls != params.optimizer:
        problems.append(f"the optimizer is {used.cls}, expected {params.optimizer}")
    for key, value in params.hyper.items():
        got = used.hyper.get(key)
        if not _close(got, value):
            problems.append(f"{key} is {got!r}, expected {value!r}")
    losses = sorted({name for p in arts.passes if p.steps.get(used.key) for name in p.losses})
    if params.loss and not set(params.loss) & set(losses):
        problems.append(
            f"the training loss is {', '.join(losses) or 'not a torch loss'}, "
            f"expected {params.loss[0]}"
        )
    details = {"optimizer": used.cls, "hyper": used.hyper, "losses": losses}
    if problems:
        return Verdict(False, "; ".join(problems), details)
    return Verdict(
        True,
        f"{used.cls} with {_show(params.hyper)}, {losses[0] if losses else ''}".rstrip(", "),
        details,
    )


def _close(got: t.Any, want: t.Any) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_close, got, want))
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-12)
    return bool(got == want)


def _show(hyper: dict[str, t.Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in hyper.items())
