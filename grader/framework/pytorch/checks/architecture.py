"""A PyTorch module's layers and the order of its forward, against the reference's."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from grader.checks.architecture import _table, comparison, diff
from grader.checks.base import CheckContext, Verdict, register
from grader.checks.params import Role
from grader.framework.pytorch.checks.common import reference_description, torch_artefacts


@dataclass(frozen=True)
class TorchArchitectureParams:
    """Which role's module, compared with which builder of the reference module."""

    model: Role
    builder: str
    """A function of the reference module that returns the expected ``nn.Module``."""


@register("torch_architecture", TorchArchitectureParams)
def check_torch_architecture(ctx: CheckContext, params: TorchArchitectureParams) -> Verdict:
    """The operations the module's ``forward`` runs match the reference builder's, in order.

    Each operation is compared by type and defining fields (channels, kernel, stride, padding,
    features, dropout ``p``, ``log_softmax``'s dim), output shape and parameters, aligned as
    ``diff`` aligns lines. They come from the kernel's ``torch.fx`` trace when it agrees with
    the exported ONNX graph on every layer the graph shows; otherwise from the graph itself
    (where dropout is not visible), and the reference is read the same way.
    """
    from grader.framework.pytorch.judge.models import signatures

    arts = torch_artefacts(ctx)
    role = params.model
    described = arts.description(role)
    ops, source = arts.structure(role)
    reference = reference_description(ctx, params.builder)
    if source == "fx" and reference["ops"] is not None:
        expected_ops = reference["ops"]
    else:
        source = "onnx"
        expected_ops = reference["onnx_ops"]
    expected, actual = signatures(expected_ops), signatures(ops)
    problems = diff(expected, actual)
    trusted = source == "fx" or described.get("ops") is None
    details = {
        "expected": _table(expected),
        "actual": _table(actual),
        "comparison": comparison(expected, actual),
        "parameters": {
            "expected": reference["parameters"],
            "actual": described["parameters"] if trusted else _graph_counts(ops),
        },
        "modules": described["modules"][:100],
        "ops_source": source,
        "taken": described.get("taken", ""),
    }
    why = ""
    if source == "onnx":
        why = (
            " (read from the exported graph: "
            + (
                "forward could not be traced"
                if described.get("ops") is None
                else "the module's description did not match it"
            )
            + "; dropout is not visible there)"
        )
    if described.get("taken") and not described.get("variable"):
        why += f" (judged on {described['taken']})"
    if problems:
        return Verdict(
            False,
            f"{len(problems)} difference(s) from the expected architecture{why}:\n"
            + "\n".join(f"- {p}" for p in problems),
            details,
        )
    return Verdict(True, f"all {len(expected)} operations match{why}", details)


def _graph_counts(ops: list[dict[str, t.Any]]) -> dict[str, int]:
    return {"trainable": sum(int(op["params"]) for op in ops), "non_trainable": 0}
