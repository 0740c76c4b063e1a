"""Training budgets: how much of each costly Keras call a notebook may spend.

A budget caps ``fit`` (epochs and training samples, validation samples too) and
``evaluate``/``predict`` (samples). The same caps are applied in the student's kernel and when
the reference is trained for calibration, so thresholds compare like with like.
The data itself is never shrunk: notebooks that hard-code ``n_examples = 50000`` keep working.
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass, fields

BUDGET_NAMES = ("smoke", "standard", "full")


@dataclass(frozen=True)
class Budget:
    """Caps for one budget level; ``None`` means no cap."""

    name: str
    max_epochs: int | None = None
    """Epochs each ``fit`` call may run."""
    max_train_samples: int | None = None
    """Training samples each ``fit`` call may see (the first ones, in the student's order)."""
    max_eval_samples: int | None = None
    """Samples each ``evaluate``/``predict`` call, and each ``fit``'s validation data, may use."""

    @property
    def capped(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "name")

    def limits(self) -> dict[str, int]:
        """The caps in force, for results and reports."""
        return {
            f.name: v
            for f in fields(self)
            if f.name != "name" and (v := getattr(self, f.name)) is not None
        }

    def describe(self) -> str:
        """The caps in words, as every report says them."""
        return describe_limits(self.limits())

    def cap_fit(self, kwargs: dict[str, t.Any]) -> tuple[dict[str, t.Any], list[str]]:
        """Return ``fit`` keyword arguments within the budget, and what was cut.

        Example:
            >>> b = Budget("smoke", max_epochs=1, max_train_samples=100)
            >>> kw, notes = b.cap_fit({"x": list(range(500)), "y": list(range(500)), "epochs": 10})
            >>> kw["epochs"], len(kw["x"]), notes
            (1, 100, ['epochs 10 -> 1', 'samples 500 -> 100'])
        """
        kw = dict(kwargs)
        notes: list[str] = []
        epochs = kw.get("epochs", 1)
        if self.max_epochs is not None and isinstance(epochs, int) and epochs > self.max_epochs:
            kw["epochs"] = self.max_epochs
            notes.append(f"epochs {epochs} -> {self.max_epochs}")
        if self.max_train_samples is not None:
            n = sample_count(kw.get("x"))
            if n is not None and n > self.max_train_samples:
                kw["x"] = _head(kw["x"], self.max_train_samples)
                if kw.get("y") is not None:
                    kw["y"] = _head(kw["y"], self.max_train_samples)
                if kw.get("sample_weight") is not None:
                    kw["sample_weight"] = _head(kw["sample_weight"], self.max_train_samples)
                notes.append(f"samples {n} -> {self.max_train_samples}")
            elif n is None and kw.get("x") is not None and kw.get("steps_per_epoch") is None:
                # A generator or tf.data pipeline: bound the steps instead of the samples.
                batch = kw.get("batch_size") or 32
                kw["steps_per_epoch"] = max(1, math.ceil(self.max_train_samples / batch))
                notes.append(f"steps per epoch -> {kw['steps_per_epoch']}")
        val = kw.get("validation_data")
        if self.max_eval_samples is not None and isinstance(val, tuple | list) and val:
            n = sample_count(val[0])
            if n is not None and n > self.max_eval_samples:
                kw["validation_data"] = tuple(_head(v, self.max_eval_samples) for v in val)
                notes.append(f"validation samples {n} -> {self.max_eval_samples}")
        return kw, notes

    def cap_eval(self, kwargs: dict[str, t.Any]) -> tuple[dict[str, t.Any], list[str]]:
        """Return ``evaluate``/``predict`` keyword arguments within the budget, and what was cut."""
        kw = dict(kwargs)
        notes: list[str] = []
        if self.max_eval_samples is None:
            return kw, notes
        n = sample_count(kw.get("x"))
        if n is not None and n > self.max_eval_samples:
            for key in ("x", "y", "sample_weight"):
                if kw.get(key) is not None:
                    kw[key] = _head(kw[key], self.max_eval_samples)
            notes.append(f"samples {n} -> {self.max_eval_samples}")
        elif n is None and kw.get("x") is not None and kw.get("steps") is None:
            kw["steps"] = max(1, math.ceil(self.max_eval_samples / (kw.get("batch_size") or 32)))
            notes.append(f"steps -> {kw['steps']}")
        return kw, notes


def describe_limits(limits: dict[str, int]) -> str:
    """Caps (``Budget.limits()``, or a result's ``budget_limits``) in words.

    Example:
        >>> describe_limits({"max_epochs": 1, "max_train_samples": 4000})
        'max epochs 1, max train samples 4000'
    """
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in limits.items()) or "no caps"


def sample_count(data: t.Any) -> int | None:
    """Number of samples in array-like data; None for generators and datasets.

    Example:
        >>> sample_count([[0, 1], [2, 3], [4, 5]]), sample_count(iter([1, 2]))
        (3, None)
    """
    if data is None:
        return None
    if isinstance(data, dict):
        lengths = {sample_count(v) for v in data.values()}
        return lengths.pop() if len(lengths) == 1 else None
    if isinstance(data, list | tuple) and data and hasattr(data[0], "shape"):
        # Multi-input models take a list of arrays.
        return sample_count(data[0])
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] is not None:
        return int(shape[0])
    if isinstance(data, list):
        return len(data)
    return None


def _head(data: t.Any, n: int) -> t.Any:
    if isinstance(data, dict):
        return {k: _head(v, n) for k, v in data.items()}
    if isinstance(data, list | tuple) and data and hasattr(data[0], "shape"):
        return type(data)(_head(v, n) for v in data)
    return data[:n]


@dataclass(frozen=True)
class Timeouts:
    """Seconds one cell, and the whole notebook, may run."""

    cell: float
    total: float

    def within(self, ceiling: Timeouts) -> Timeouts:
        """Never longer than ``ceiling`` (the rubric's ``[execution]`` limits, set for ``full``).

        Example:
            >>> Timeouts(300, 900).within(Timeouts(900, 600))
            Timeouts(cell=300, total=600)
        """
        return Timeouts(min(self.cell, ceiling.cell), min(self.total, ceiling.total))


DEFAULT_TIMEOUTS: dict[str, Timeouts | None] = {
    # A capped budget trains a few thousand images for an epoch or two: a cell that runs for
    # minutes is stuck, and a student's `grader check` should say so in minutes, not in the
    # quarter hour a full run may need. None: the rubric's [execution] limits as they are.
    "smoke": Timeouts(cell=300, total=900),
    "standard": Timeouts(cell=600, total=1800),
    "full": None,
}
"""Timeouts per budget; a rubric's ``[budgets.<name>]`` may set ``cell_timeout`` and
``total_timeout``, and the rubric's ``[execution]`` limits are the ceiling at every budget."""

DEFAULT_BUDGETS: dict[str, Budget] = {
    "smoke": Budget("smoke", max_epochs=1, max_train_samples=4000, max_eval_samples=1000),
    "standard": Budget("standard", max_epochs=2, max_train_samples=4000, max_eval_samples=2000),
    "full": Budget("full"),
}
