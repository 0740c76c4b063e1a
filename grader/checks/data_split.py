"""The CIFAR split: which images went where, how they were scaled and encoded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.artefacts.folder import MissingInput
from grader.artefacts.records import VariableSummary
from grader.checks.base import CheckContext, Verdict, register, sampled_image_problems
from grader.checks.params import Variable


@dataclass(frozen=True)
class SplitSet:
    """One set of classes the notebook splits out: its variables, classes and one-hot width."""

    x_train: Variable
    y_train: Variable
    x_val: Variable
    y_val: Variable
    classes: list[int]
    num_classes: int
    """Width of the one-hot labels."""


@dataclass(frozen=True)
class SplitParams:
    """The sets the notebook must build, how much is kept for validation, and the scaling."""

    sets: list[SplitSet]
    val_fraction: float = 0.2
    scale: float = 255.0
    """What pixels are divided by."""


@register("data_split", SplitParams)
def check_data_split(ctx: CheckContext, params: SplitParams) -> Verdict:
    """Each set holds only its classes, scaled to [0, 1], one-hot encoded at the right width,
    and split into training and validation parts in the right proportion."""
    val_fraction, scale = params.val_fraction, params.scale
    problems: list[str] = []
    counts: dict[str, int] = {}
    truth = ctx.given.y_train.reshape(-1)
    for group in params.sets:
        classes, width = group.classes, group.num_classes
        total = int(np.isin(truth, classes).sum())
        n_train = int((1 - val_fraction) * total)
        expected_rows = {"train": n_train, "val": total - n_train}
        for part in ("train", "val"):
            x_name, y_name = getattr(group, f"x_{part}"), getattr(group, f"y_{part}")
            try:
                x, y = ctx.artefacts.variable(x_name), ctx.artefacts.variable(y_name)
            except MissingInput as exc:
                problems.append(str(exc))
                continue
            counts[x_name] = x.shape[0]
            problems += _check_pair(
                ctx, x_name, x, y_name, y, classes, width, expected_rows[part], scale
            )
    if problems:
        return Verdict(False, "\n".join(f"- {p}" for p in problems), {"rows": counts})
    return Verdict(
        True, "both sets hold the right classes, scaled, encoded and split 80/20", {"rows": counts}
    )


def _check_pair(
    ctx: CheckContext,
    x_name: str,
    x: VariableSummary,
    y_name: str,
    y: VariableSummary,
    classes: list[int],
    width: int,
    rows: int,
    scale: float,
) -> list[str]:
    problems = []
    image_shape = ctx.given.x_train.shape[1:]
    if x.shape[1:] != image_shape:
        problems.append(
            f"{x_name} has shape {x.shape}; expected (n, {', '.join(map(str, image_shape))})"
        )
    if x.shape[0] != rows:
        problems.append(f"{x_name} has {x.shape[0]} rows; expected {rows} for an 80/20 split")
    if y.shape[0] != x.shape[0]:
        problems.append(f"{y_name} has {y.shape[0]} rows but {x_name} has {x.shape[0]}")
    if len(y.shape) != 2 or y.shape[1] != width:
        problems.append(f"{y_name} has shape {y.shape}; expected one-hot rows of width {width}")
        return problems
    if not (np.isfinite(x.min) and np.isfinite(x.max)):
        problems.append(f"{x_name} holds no finite pixel values (NaN or infinity)")
    elif x.min < 0 or x.max > 1 + 1e-6:
        problems.append(
            f"{x_name} pixels range {x.min:g}..{x.max:g}; divide by {scale:g} to get [0, 1]"
        )
    elif x.max < 0.5:
        problems.append(
            f"{x_name} pixels only reach {x.max:g}; were they divided by {scale:g} twice?"
        )
    labels = y.values
    if not np.all(np.isin(labels, (0.0, 1.0))) or not np.all(labels.sum(axis=1) == 1):
        problems.append(f"{y_name} is not one-hot encoded")
        return problems
    found = sorted(set(np.argmax(labels, axis=1).tolist()))
    stray = [c for c in found if c not in classes]
    if stray:
        problems.append(f"{y_name} holds classes {stray}; this set takes only {classes}")
    problems += sampled_image_problems(
        ctx, x_name, x.values, x.rows, np.argmax(labels, axis=1), scale=scale
    )
    return problems
