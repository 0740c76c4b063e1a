"""A model costing far more than the reference to evaluate is refused before it runs."""

from __future__ import annotations

import typing as t
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from grader.artefacts.folder import Artefacts
from grader.budget import DEFAULT_BUDGETS
from grader.checks import cost
from grader.checks.base import CheckContext, run_check
from grader.checks.cost import (
    MAX_RATIO,
    STEP_FLOPS,
    flops_per_image,
    prepare_reference_costs,
    reference_costs,
    reference_flops,
    too_costly,
)
from grader.data.sets import HeldOut, synthetic
from grader.rubric.load import load_assignment

ASSIGNMENT = load_assignment("cifar10_transfer")
CHECKS = {c.id: c for c in ASSIGNMENT.checks}
TRUTH = synthetic("cifar10", 0, n_train=40, n_test=100)
HELD = HeldOut(TRUTH.x_test, TRUTH.y_test.reshape(-1))


def context(tmp_path: Path, model: keras.Model | None = None) -> CheckContext:
    (tmp_path / "models").mkdir(parents=True, exist_ok=True)
    roles = {}
    if model is not None:
        model.save(tmp_path / "models" / "base.keras")
        roles = {"base": id(model)}
    art = Artefacts(tmp_path, [], roles, {r: r for r in roles}, {}, {}, {})
    figures = {"base.accuracy": 0.5, "transfer.accuracy": 0.5} | reference_costs(ASSIGNMENT)
    return CheckContext(art, ASSIGNMENT, TRUTH, HELD, DEFAULT_BUDGETS["smoke"], figures)


def recurrent_bomb(inputs: keras.KerasTensor) -> keras.KerasTensor:
    """The issue's attack: a few KB of weights, a sequence stretched 16 times, an RNN over it."""
    x = layers.Reshape((-1, 3))(inputs)
    x = layers.UpSampling1D(16)(x)
    x = layers.SimpleRNN(128)(x)
    return layers.Dense(5, activation="softmax")(x)


def bombs() -> dict[str, keras.Model]:
    fixed = keras.Input((32, 32, 3))
    open_ = keras.Input((None, None, 3))  # shapes left open: known only when images arrive
    inner = keras.Model(open_, recurrent_bomb(open_))
    return {
        "fixed": keras.Model(fixed, recurrent_bomb(fixed)),
        "open": keras.Model(open_, recurrent_bomb(open_)),
        "nested": keras.Sequential([keras.Input((32, 32, 3)), inner]),
    }


@pytest.mark.parametrize("kind", ["fixed", "open", "nested"])
def test_a_costly_model_is_refused_before_predict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    model = bombs()[kind]
    assert model.count_params() < 20_000  # small on disk: only its work is large

    def never(*args: t.Any, **kwargs: t.Any) -> t.Any:
        raise AssertionError("predict ran")

    monkeypatch.setattr(keras.Model, "predict", never)
    result = run_check(CHECKS["base.accuracy"], context(tmp_path, model))
    assert result.status == "fail", result.message
    assert result.message.startswith("model too costly to evaluate")
    assert "x the reference's" in result.message and result.details == {"refused": "cost"}


def honest_models() -> dict[str, keras.Model]:
    """The reference's base in several idioms, and a wider one (a wrong, honest model)."""

    def stack(filters: int = 32) -> list[layers.Layer]:
        return [
            layers.Conv2D(filters, 4, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(filters, 4, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(5, activation="softmax"),
        ]

    inputs = keras.Input((32, 32, 3))
    x = inputs
    for layer in stack():
        x = layer(x)
    added = keras.Sequential()
    added.add(keras.Input((32, 32, 3)))
    for layer in stack():
        added.add(layer)
    body = keras.Sequential([keras.Input((32, 32, 3)), *stack()[:-1]])
    return {
        "list": keras.Sequential([keras.Input((32, 32, 3)), *stack()]),
        "add": added,
        "functional": keras.Model(inputs, x),
        "nested": keras.Sequential([keras.Input((32, 32, 3)), body, layers.Dense(5)]),
        "wide": keras.Sequential([keras.Input((32, 32, 3)), *stack(128)]),
    }


def test_honest_models_in_any_idiom_are_cheap_enough(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    reference = reference_flops(ASSIGNMENT, "base")
    assert reference > 1e6
    costs = {name: flops_per_image(model) for name, model in honest_models().items()}
    same = [costs[k] for k in ("list", "add", "functional")]
    assert max(same) == min(same) and abs(costs["nested"] - same[0]) < 0.01 * same[0]
    assert same[0] == pytest.approx(reference, rel=0.01)
    assert costs["wide"] > 10 * reference  # 4x the filters: 16x the convolutions' work
    for name, model in honest_models().items():
        assert too_costly(ctx, "base", model) == "", name
    for name, model in bombs().items():
        assert flops_per_image(model, (32, 32, 3)) > MAX_RATIO * reference, name


def test_an_honest_model_is_still_evaluated(tmp_path: Path) -> None:
    model = honest_models()["functional"]
    result = run_check(CHECKS["base.accuracy"], context(tmp_path, model))
    assert "accuracy" in result.details and "too costly" not in result.message
    assert np.isfinite(result.details["accuracy"])


def stretched(steps_per_pixel: int) -> keras.Model:
    """The first round's attack: a 24-parameter RNN over every pixel value, repeated."""
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Reshape((3072, 1)),
        layers.UpSampling1D(steps_per_pixel),
        layers.SimpleRNN(4),
        layers.Dense(5, activation="softmax"),
    ])  # fmt: skip


def test_a_long_sequence_costs_its_steps_not_only_its_arithmetic(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    reference = reference_flops(ASSIGNMENT, "base")
    bomb = stretched(200)  # 614,400 steps: minutes of predict, few operations
    arithmetic = flops_per_image(bomb) - STEP_FLOPS * 3072 * 200
    assert arithmetic < reference * MAX_RATIO  # counted as operations alone, it would pass
    assert too_costly(ctx, "base", bomb).startswith("model too costly to evaluate")
    # A recurrent model of the usual size (a sequence per image row) stays cheap.
    rows = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Reshape((32, 96)),
        layers.Bidirectional(layers.LSTM(32)),
        layers.Dense(5, activation="softmax"),
    ])  # fmt: skip
    assert too_costly(ctx, "base", rows) == ""


def test_calibration_carries_the_reference_costs_and_the_judge_builds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calibration records each accuracy check's reference cost; a judge given them neither
    builds the reference's models while the notebook runs nor when it judges."""
    ctx = context(tmp_path)
    figures = reference_costs(ASSIGNMENT)
    assert figures == {
        "base.accuracy/reference_flops": reference_flops(ASSIGNMENT, "base"),
        "transfer.accuracy/reference_flops": reference_flops(ASSIGNMENT, "transfer"),
    }
    built: list[str] = []

    def build(_assignment: object, role: str) -> float:
        built.append(role)
        return 1.0

    monkeypatch.setattr(cost, "reference_flops", build)
    prepare_reference_costs(ASSIGNMENT, figures)
    assert built == []
    prepare_reference_costs(ASSIGNMENT, {"base.accuracy/reference_flops": 1.0})
    assert built == ["transfer"]  # a kit's calibration, or one cached before: built, as before

    built.clear()
    ctx.current = CHECKS["base.accuracy"]
    bomb = stretched(200)
    assert too_costly(ctx, "base", bomb).startswith("model too costly to evaluate")
    # The figure the calibration gave decides: were the reference a thousand times costlier,
    # the bomb would be within bounds.
    ctx.reference_figures["base.accuracy/reference_flops"] = 1000 * reference_flops(
        ASSIGNMENT, "base"
    )
    assert too_costly(ctx, "base", bomb) == ""
    assert built == []
