"""Digit groups: which training images went where, and how their labels were shifted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.artefacts.folder import MissingInput
from grader.checks.base import CheckContext, Verdict, register, sampled_image_problems
from grader.checks.params import Variable


@dataclass(frozen=True)
class ClassGroup:
    """One group of classes the notebook separates, and how it relabels them."""

    x_train: Variable
    y_train: Variable
    classes: list[int]
    label_offset: int = 0
    """Subtracted from the labels (digits 5-9 become 0-4 with 5)."""


@dataclass(frozen=True)
class GroupsParams:
    """The groups, and what pixels are divided by (1: as loaded)."""

    sets: list[ClassGroup]
    scale: float = 1.0


@register("class_groups", GroupsParams)
def check_class_groups(ctx: CheckContext, params: GroupsParams) -> Verdict:
    """Each group holds every training image of its classes and no other, with integer labels
    shifted down by ``label_offset`` (digits 5-9 become 0-4), pixels as loaded (``scale`` 1)
    or divided by ``scale``.

    Each entry of ``sets`` names ``x_train``, ``y_train``, ``classes`` and optionally
    ``label_offset`` (0 by default).
    """
    scale = params.scale
    truth = ctx.given.y_train.reshape(-1)
    problems: list[str] = []
    rows: dict[str, int] = {}
    for group in params.sets:
        classes, offset = group.classes, group.label_offset
        x_name, y_name = group.x_train, group.y_train
        try:
            x, y = ctx.artefacts.variable(x_name), ctx.artefacts.variable(y_name)
        except MissingInput as exc:
            problems.append(str(exc))
            continue
        rows[x_name] = x.shape[0]
        expected = int(np.isin(truth, classes).sum())
        if x.shape[0] != expected:
            problems.append(
                f"{x_name} has {x.shape[0]} images; the training set has {expected} of classes "
                f"{classes}"
            )
        labels = y.values.reshape(len(y.values), -1)
        if labels.shape[1] != 1 or labels.shape[0] != x.shape[0]:
            problems.append(
                f"{y_name} has shape {y.shape}; expected one integer label per image of {x_name}"
            )
            continue
        labels = labels[:, 0]
        wanted = [c - offset for c in classes]
        stray = sorted({int(v) for v in labels} - set(wanted))
        if stray:
            shift = f" (labels shifted down by {offset})" if offset else ""
            problems.append(f"{y_name} holds labels {stray}; expected only {wanted}{shift}")
        problems += sampled_image_problems(
            ctx, x_name, x.values, x.rows, labels, scale=scale, offset=offset
        )
    if problems:
        return Verdict(False, "\n".join(f"- {p}" for p in problems), {"rows": rows})
    return Verdict(
        True, "every group holds its classes' images with the right labels", {"rows": rows}
    )
