from __future__ import annotations

import numpy as np

from grader.budget import DEFAULT_BUDGETS, Budget

SMOKE = Budget("smoke", max_epochs=1, max_train_samples=100, max_eval_samples=30)


def test_fit_is_capped_in_epochs_samples_and_validation() -> None:
    x, y = np.zeros((500, 4)), np.zeros((500, 2))
    kw, notes = SMOKE.cap_fit({"x": x, "y": y, "epochs": 10, "validation_data": (x, y)})
    assert kw["epochs"] == 1
    assert kw["x"].shape[0] == 100 and kw["y"].shape[0] == 100
    assert all(v.shape[0] == 30 for v in kw["validation_data"])
    assert notes == ["epochs 10 -> 1", "samples 500 -> 100", "validation samples 500 -> 30"]


def test_data_within_the_budget_is_untouched() -> None:
    x = np.zeros((50, 4))
    kw, notes = SMOKE.cap_fit({"x": x, "y": x, "epochs": 1})
    assert kw["x"] is x and notes == []


def test_generators_get_bounded_steps_instead() -> None:
    kw, notes = SMOKE.cap_fit({"x": iter(range(10)), "epochs": 3, "batch_size": 32})
    assert kw["steps_per_epoch"] == 4 and kw["epochs"] == 1
    assert notes == ["epochs 3 -> 1", "steps per epoch -> 4"]


def test_multi_input_lists_are_cut_together() -> None:
    xs = [np.zeros((500, 2)), np.ones((500, 3))]
    kw, _ = SMOKE.cap_fit({"x": xs, "y": np.zeros(500)})
    assert [a.shape[0] for a in kw["x"]] == [100, 100]


def test_evaluate_and_predict_are_capped() -> None:
    kw, notes = SMOKE.cap_eval({"x": np.zeros((500, 4)), "y": np.zeros(500)})
    assert kw["x"].shape[0] == 30 and kw["y"].shape[0] == 30 and notes


def test_full_budget_caps_nothing() -> None:
    full = DEFAULT_BUDGETS["full"]
    x = np.zeros((5000, 4))
    assert not full.capped and full.limits() == {}
    assert full.cap_fit({"x": x, "epochs": 50})[0]["epochs"] == 50
    assert full.cap_eval({"x": x})[0]["x"] is x
