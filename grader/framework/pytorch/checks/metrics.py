"""The notebook's own metrics, recomputed by the grader on the same labels and predictions."""

from __future__ import annotations

import hashlib
import typing as t
from dataclasses import dataclass

import numpy as np

from grader.checks.accuracy import confusion_matrix as confusion_details
from grader.checks.base import CheckContext, Verdict, register
from grader.checks.params import Role
from grader.framework.pytorch.checks.common import torch_artefacts

if t.TYPE_CHECKING:
    from grader.framework.pytorch.judge.artefacts import TorchArtefacts
    from grader.framework.pytorch.judge.records import MetricCall

AVERAGED = ("precision_score", "recall_score", "f1_score")
KNOWN = ("accuracy_score", "confusion_matrix", *AVERAGED)
_AVERAGE_MEANING = {
    "weighted": "the mean over classes weighted by each class's support",
    "macro": "the plain mean over classes",
    "micro": "computed from the total counts",
    "binary": "for one positive class only",
}
TOLERANCE = 1e-6


@dataclass(frozen=True)
class TorchMetricsParams:
    """The scikit-learn metrics the notebook must compute, and how."""

    functions: list[str]
    """Of ``accuracy_score``, ``confusion_matrix``, ``precision_score``, ``recall_score``,
    ``f1_score``."""
    average: str = "weighted"
    """The ``average`` the averaged scores must use."""
    model: Role | None = None
    """Only the calls given this role's module's predictions are judged, in any cell."""
    cell: str | None = None
    """Only the calls made in the code cell with this id are judged (prefer ``model``)."""

    def problem(self) -> str | None:
        unknown = [f for f in self.functions if f not in KNOWN]
        return f"unknown metric(s) {unknown}; known: {list(KNOWN)}" if unknown else None


@register("torch_metrics", TorchMetricsParams)
def check_torch_metrics(ctx: CheckContext, params: TorchMetricsParams) -> Verdict:
    """The notebook computes each of ``functions`` (scikit-learn's ``accuracy_score``,
    ``confusion_matrix``, ``precision_score``, ``recall_score``, ``f1_score``) on one set of
    test labels and predictions, with ``average`` (default ``weighted``) where it applies, and
    its values are what the grader computes on the same labels and predictions.

    With ``model``, only the calls given that role's module's predictions are judged, in
    whichever cell they were made; with ``cell``, only those made in that code cell.
    """
    average = params.average
    calls = _calls_judged(torch_artefacts(ctx), params)
    where = _where(params)
    problems: list[str] = []
    rows: list[dict[str, t.Any]] = []
    chosen: dict[str, MetricCall] = {}
    for function in params.functions:
        own = [c for c in calls if c.function == function]
        if not own:
            problems.append(f"the notebook never computed {function}{where}")
            continue
        call = chosen[function] = _chosen_call(own, average)
        row, problem = _judged(call, average)
        rows.append(row)
        if problem is not None:
            problems.append(problem)
    if (mixed := _mixed_inputs(chosen)) is not None:
        problems.append(mixed)
    details: dict[str, t.Any] = {"calls": rows, "average": average}
    if chosen and (confusion := _confusion(next(iter(chosen.values())), ctx)) is not None:
        details["confusion"] = confusion
    if problems:
        return Verdict(False, "\n".join(f"- {p}" for p in problems), details)
    return Verdict(
        True,
        f"{', '.join(params.functions)} computed with average='{average}' and equal to the "
        "grader's values on the same predictions",
        details,
    )


def _calls_judged(arts: TorchArtefacts, params: TorchMetricsParams) -> list[MetricCall]:
    """The calls of the asked functions, of the asked cell and model's predictions."""
    key = arts.module_key(params.model) if params.model is not None else None
    return [
        c
        for c in arts.metric_calls
        if c.function in params.functions
        and (params.cell is None or c.cell == params.cell)
        and (params.model is None or c.model == key)
    ]


def _where(params: TorchMetricsParams) -> str:
    """Where the calls were looked for, as a missing one's message says it."""
    where = f" in cell {params.cell!r}" if params.cell is not None else ""
    if params.model is not None:
        where += f" on the {params.model} model's predictions"
    return where


def _chosen_call(own: list[MetricCall], average: str) -> MetricCall:
    """The last call made with the requested settings; else the last call, to say what was
    wrong with it."""
    good = [c for c in own if _settings_problem(c, average) is None]
    return (good or own)[-1]


def _judged(call: MetricCall, average: str) -> tuple[dict[str, t.Any], str | None]:
    """The call's row in the details, and what is wrong with it (None: nothing)."""
    setting = _settings_problem(call, average)
    grader_value = _recompute(call, average)
    row = {
        "function": call.function,
        "options": call.options,
        "notebook": call.result,
        "grader": grader_value,
        "labels": len(call.y_true),
    }
    if setting is not None:
        return row, setting
    if not _same(call.result, grader_value):
        return row, (
            f"the notebook's {call.function} is {_show(call.result)}, but on the same labels "
            f"and predictions the grader computes {_show(grader_value)}"
        )
    return row, None


def _mixed_inputs(chosen: dict[str, MetricCall]) -> str | None:
    """A problem when the chosen calls were not all given the same labels and predictions."""
    digests = {f: _digest(c) for f, c in chosen.items()}
    if len(set(digests.values())) <= 1:
        return None
    return (
        "the metrics were computed on different labels or predictions: "
        + ", ".join(sorted(digests))
        + " should all use the same y_true and y_pred"
    )


def _confusion(call: MetricCall, ctx: CheckContext) -> dict[str, t.Any] | None:
    """The confusion details of ``call``'s labels and predictions, when they are the
    assignment's classes."""
    classes = sorted({*call.y_true.tolist(), *call.y_pred.tolist()})
    n_classes = len(ctx.given.class_names)
    if not (
        len(call.y_true) == len(call.y_pred)
        and classes
        and 0 <= classes[0] <= classes[-1] < n_classes
    ):
        return None
    present = sorted(set(call.y_true.tolist()))
    return confusion_details(call.y_true, call.y_pred, present, ctx.given.class_names)


def _settings_problem(call: MetricCall, average: str) -> str | None:
    if len(call.y_true) != len(call.y_pred) or not len(call.y_true):
        return (
            f"{call.function} was given {len(call.y_true)} labels and "
            f"{len(call.y_pred)} predictions"
        )
    if call.weighted:
        return f"{call.function} was given sample weights; compute it without them"
    if call.function in AVERAGED:
        used = call.options.get("average")
        if used != average:
            return (
                f"{call.function} was computed with average={used!r}; the exercise asks for "
                f"average={average!r} ({_AVERAGE_MEANING.get(average, average)})"
            )
    if call.function == "confusion_matrix" and call.options.get("normalize") is not None:
        return "confusion_matrix was normalised; the exercise asks for counts (normalize=None)"
    if call.function == "accuracy_score" and call.options.get("normalize") is False:
        return "accuracy_score counted correct predictions (normalize=False); give the share"
    if call.options.get("labels") is not None:
        return f"{call.function} was restricted to some labels; compute it over all classes"
    return None


def _recompute(call: MetricCall, average: str) -> t.Any:
    """The metric as scikit-learn computes it on the call's labels, with the asked settings."""
    import sklearn.metrics

    y_true, y_pred = call.y_true, call.y_pred
    if len(y_true) != len(y_pred) or not len(y_true):
        return None
    if call.function == "confusion_matrix":
        return sklearn.metrics.confusion_matrix(y_true, y_pred).tolist()
    if call.function == "accuracy_score":
        return float(sklearn.metrics.accuracy_score(y_true, y_pred))
    function = getattr(sklearn.metrics, call.function)
    return float(function(y_true, y_pred, average=average, zero_division=0))


def _same(notebook: t.Any, grader: t.Any) -> bool:
    if grader is None:
        return False
    try:
        a, b = np.asarray(notebook, dtype=np.float64), np.asarray(grader, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= TOLERANCE))


def _show(value: t.Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return "a matrix" if value and isinstance(value[0], list) else str(value)[:80]
    return str(value)[:80]


def _digest(call: MetricCall) -> str:
    h = hashlib.sha256(call.y_true.tobytes())
    h.update(call.y_pred.tobytes())
    return h.hexdigest()
