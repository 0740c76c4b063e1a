"""Digit groups: which training images went where, and how their labels were shifted."""

from __future__ import annotations

import typing as t

import numpy as np

from grader.checks.base import CheckContext, Verdict, register, sampled_image_problems
from grader.judge.artefacts import MissingInput

GROUP_KEYS = ("x_train", "y_train", "classes")


@register("class_groups", required={"sets": list}, optional={"scale": (int, float)})
def check_class_groups(ctx: CheckContext, params: dict[str, t.Any]) -> Verdict:
    """Each group holds every training image of its classes and no other, with integer labels
    shifted down by ``label_offset`` (digits 5-9 become 0-4), pixels as loaded (``scale`` 1)
    or divided by ``scale``.

    Each entry of ``sets`` names ``x_train``, ``y_train``, ``classes`` and optionally
    ``label_offset`` (0 by default).
    """
    scale = float(params.get("scale", 1))
    truth = ctx.truth.y_train.reshape(-1)
    problems: list[str] = []
    rows: dict[str, int] = {}
    for group in params["sets"]:
        missing = [k for k in GROUP_KEYS if k not in group]
        if missing:
            raise ValueError(f"rubric set is missing {missing}")
        classes, offset = [int(c) for c in group["classes"]], int(group.get("label_offset", 0))
        x_name, y_name = group["x_train"], group["y_train"]
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
