"""What every reference exercise trains through: the grader's budget-capping ``fit``."""

from __future__ import annotations

import typing as t

import keras


class FitFn(t.Protocol):
    """How a model gets trained; the grader passes one that applies the budget's caps."""

    def __call__(self, model: keras.Model, **kwargs: t.Any) -> t.Any: ...


def plain_fit(model: keras.Model, **kwargs: t.Any) -> t.Any:
    """``model.fit(**kwargs)``: training without a budget, when a reference runs on its own."""
    return model.fit(**kwargs)
