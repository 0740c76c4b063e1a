"""PyTorch records as the kernel's runtime writes them, checked field by field (in the judge).

Each record (a DataLoader pass, an optimizer, a scikit-learn metric call, a role's module
description) is hostile input: types, lengths, numbers in range, names without control
characters; anything else raises :class:`Malformed`. Read from their files by
:mod:`grader.framework.pytorch.judge.artefacts`.
"""

from __future__ import annotations

import math
import re
import typing as t
from dataclasses import dataclass

import numpy as np

from grader.framework.pytorch.kernel.describe import MAX_MODULES, MAX_OPS

MAX_PASSES = 20_000
MAX_LABELS = 200_000
MAX_LIST = 64
_ATTRIBUTIONS = ("", "predictions", "last evaluated")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{0,200}")


class Malformed(ValueError):
    """A record does not have the shape the runtime writes."""


@dataclass(frozen=True)
class PassRecord:
    """One pass over a DataLoader, as the kernel recorded it."""

    index: int
    cell: str
    split: str
    """``train`` or ``test`` (the grader's data sets), ``other`` (anything else)."""
    dataset: str
    transform: tuple[dict[str, t.Any], ...] | None
    """The data set's transform pipeline when the pass began (None: no such attribute)."""
    batch_size: int | None
    dataset_size: int | None
    batches: int
    samples: int
    skipped: bool
    """The budget skipped it: the optimizer in use had its training passes."""
    steps: dict[int, int]
    """Optimizer key -> steps it took during the pass."""
    loss: float | None
    """Mean of the scalar losses back-propagated during the pass."""
    losses: tuple[str, ...]
    """Loss modules and functions called during the pass."""
    optimizer: int | None
    """For a skipped pass, the optimizer it was charged to."""
    modules: tuple[int, ...] = ()
    """Keys of the modules the notebook called during the pass (not as another's layer)."""

    @property
    def training(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True)
class OptimizerRecord:
    key: int
    cls: str
    hyper: dict[str, t.Any]
    passes: int
    skipped: int
    module: int | None = None
    """The key of the module owning its parameters."""


@dataclass(frozen=True)
class MetricCall:
    """One call of a scikit-learn metric in the notebook: what it was given and returned."""

    cell: str
    function: str
    options: dict[str, t.Any]
    weighted: bool
    y_true: np.ndarray
    y_pred: np.ndarray
    result: t.Any
    model: int | None = None
    """The key of the module whose predictions these are (None: not tied to one)."""
    attributed: str = ""
    """How: ``predictions`` (its predictions during one pass are ``y_pred``) or ``last
    evaluated`` (the module evaluated last before the call)."""


def text(value: t.Any, what: str, limit: int = 200) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise Malformed(f"{what} must be text of at most {limit} characters")
    if limit <= 200 and not _TEXT.fullmatch(value):
        raise Malformed(f"{what} holds control characters")
    return value


def _int(value: t.Any, what: str, low: int = 0, high: int = 2**62) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Malformed(f"{what} must be an integer in [{low}, {high}]")
    return value


def _optional_int(value: t.Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def bounded_list(value: t.Any, limit: int, what: str) -> list[t.Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise Malformed(f"{what} must be a list of at most {limit}")
    return value


def _scalar(value: t.Any) -> t.Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Malformed("a number is not finite")
        return value
    if isinstance(value, str):
        return text(value, "a value")
    raise Malformed(f"unexpected value of type {type(value).__name__}")


def _value(value: t.Any) -> t.Any:
    """A configuration value: a scalar, or a short list of scalars (one level)."""
    if isinstance(value, list):
        return [_scalar(v) for v in bounded_list(value, MAX_LIST, "a list value")]
    return _scalar(value)


def _config(value: t.Any) -> dict[str, t.Any]:
    if not isinstance(value, dict) or len(value) > MAX_LIST:
        raise Malformed("a configuration must be an object of at most 64 fields")
    return {text(k, "a field name"): _value(v) for k, v in value.items()}


def numbers(value: t.Any, channels: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) in (1, channels)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _transform(value: t.Any) -> tuple[dict[str, t.Any], ...] | None:
    if value is None:
        return None
    out = []
    for entry in bounded_list(value, 50, "a transform pipeline"):
        config = _config(entry)
        text(config.get("type"), "a transform's type")
        out.append(config)
    return tuple(out)


def parse_pass(raw: t.Any, cell: str) -> PassRecord:
    """A pass record as the runtime writes it, validated.

    Raises:
        Malformed: it does not have the runtime's shape.
    """
    if not isinstance(raw, dict):
        raise Malformed("a pass must be an object")
    steps = raw.get("steps", {})
    if not isinstance(steps, dict) or len(steps) > 1000:
        raise Malformed("steps must be an object")
    count = _int(raw.get("loss_count", 0), "loss_count")
    total = raw.get("loss_sum", 0.0)
    if not isinstance(total, int | float) or isinstance(total, bool) or not math.isfinite(total):
        raise Malformed("loss_sum must be a number")
    return PassRecord(
        index=_int(raw["index"], "a pass index", 0, MAX_PASSES * 100),
        cell=cell,
        split=text(raw["split"], "a split"),
        dataset=text(raw["dataset"], "a data set"),
        transform=_transform(raw.get("transform")),
        batch_size=_optional_int(raw.get("batch_size"), "batch_size"),
        dataset_size=_optional_int(raw.get("dataset_size"), "dataset_size"),
        batches=_int(raw["batches"], "batches"),
        samples=_int(raw["samples"], "samples"),
        skipped=bool(raw.get("skipped", False) is True),
        steps={_int(int(k), "an optimizer key"): _int(v, "a step count") for k, v in steps.items()},
        loss=float(total) / count if count else None,
        losses=tuple(
            text(n, "a loss name") for n in bounded_list(raw.get("losses", []), 10, "losses")
        ),
        optimizer=_optional_int(raw.get("optimizer"), "optimizer"),
        modules=tuple(
            _int(k, "a module key") for k in bounded_list(raw.get("modules", []), 10, "modules")
        ),
    )


def parse_optimizer(raw: t.Any) -> OptimizerRecord:
    if not isinstance(raw, dict):
        raise Malformed("an optimizer must be an object")
    return OptimizerRecord(
        key=_int(raw["key"], "an optimizer key"),
        cls=text(raw["class"], "an optimizer class"),
        hyper=_config(raw.get("hyper", {})),
        passes=_int(raw.get("passes", 0), "passes"),
        skipped=_int(raw.get("skipped", 0), "skipped"),
        module=_optional_int(raw.get("module"), "a module key"),
    )


def _labels(value: t.Any) -> np.ndarray:
    values = bounded_list(value, MAX_LABELS, "labels")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise Malformed("labels must be integers")
    return np.asarray(values, dtype=np.int64)


def _attribution(value: t.Any) -> str:
    if value not in _ATTRIBUTIONS:
        raise Malformed(f"a metric's attribution must be one of {_ATTRIBUTIONS}")
    return t.cast(str, value)


def parse_metric(raw: dict[str, t.Any], cell: str) -> MetricCall:
    result = raw.get("result")
    if isinstance(result, list):
        rows = bounded_list(result, 1000, "a matrix")
        result = [
            bounded_list(row, 1000, "a row") if isinstance(row, list) else row for row in rows
        ]
        flat = [v for row in result for v in (row if isinstance(row, list) else [row])]
        if len(flat) > 1_000_000 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in flat
        ):
            raise Malformed("a metric's matrix must hold numbers")
    else:
        result = _scalar(result)
    return MetricCall(
        cell=cell,
        function=text(raw["function"], "a metric"),
        options=_config(raw.get("options", {})),
        weighted=raw.get("weighted_samples") is True,
        y_true=_labels(raw["y_true"]),
        y_pred=_labels(raw["y_pred"]),
        result=result,
        model=_optional_int(raw.get("model"), "a module key"),
        attributed=_attribution(raw.get("attributed", "")),
    )


def _op(raw: t.Any, *, module: bool) -> dict[str, t.Any]:
    if not isinstance(raw, dict):
        raise Malformed("an operation must be an object")
    out = {
        "type": text(raw["type"], "a layer type"),
        "config": _config(raw.get("config", {})),
        "params": _int(raw.get("params", 0), "a parameter count"),
        "trainable": raw.get("trainable") is not False,
    }
    if module:
        out["path"] = text(raw["path"], "a module path")
        return out
    shape = bounded_list(raw.get("output_shape", []), 8, "an output shape")
    out["name"] = text(raw["name"], "an operation name")
    out["output_shape"] = [None if d is None else _int(d, "a dimension") for d in shape]
    return out


def parse_description(raw: dict[str, t.Any]) -> dict[str, t.Any]:
    ops = raw.get("ops")
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise Malformed("parameters must be an object")
    return {
        "variable": text(raw.get("variable", ""), "a variable"),
        "module": _optional_int(raw.get("module"), "a module key"),
        "taken": text(raw.get("taken", ""), "how the module was found"),
        "class": text(raw.get("class", ""), "a class name"),
        "modules": [
            _op(m, module=True)
            for m in bounded_list(raw.get("modules", []), MAX_MODULES, "modules")
        ],
        "ops": None
        if ops is None
        else [_op(o, module=False) for o in bounded_list(ops, MAX_OPS, "ops")],
        "trace_error": text(raw.get("trace_error", ""), "a trace error", 1000),
        "parameters": {
            "trainable": _int(params.get("trainable", 0), "a parameter count"),
            "non_trainable": _int(params.get("non_trainable", 0), "a parameter count"),
        },
        "optimizers": [
            _int(k, "an optimizer key")
            for k in bounded_list(raw.get("optimizers", []), 100, "optimizers")
        ],
    }
