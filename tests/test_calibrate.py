"""The calibration cache: graders sharing it train a reference once, not once each."""

from __future__ import annotations

import threading
import time
import typing as t
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader import calibrate
from grader.checks.cost import reference_costs
from grader.data.prepare import PreparedData
from grader.rubric.load import load_assignment


def test_graders_calibrating_at_once_train_the_reference_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two parallel test workers (or two batches) on a cold cache: the second waits for the
    first's entry instead of training the same reference beside it."""
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    trained: list[int] = []

    def train(*args: object, **kwargs: object) -> dict[str, float]:
        trained.append(threading.get_ident())
        time.sleep(0.5)  # long enough for the other grader to look up the cache meanwhile
        return {"base.accuracy": 0.5, "transfer.accuracy": 0.6}

    monkeypatch.setattr(calibrate, "train_and_measure", train)
    spec = load_assignment("cifar10_transfer")
    plan = spec.plan("smoke")
    data = t.cast(
        PreparedData,
        SimpleNamespace(
            visible=SimpleNamespace(source="synthetic"), held_out=None, fingerprint="f" * 16
        ),
    )
    found: list[calibrate.Calibration] = []
    graders = [
        threading.Thread(target=lambda: found.append(calibrate.calibration(spec, plan, data)))
        for _ in range(2)
    ]
    for grader in graders:
        grader.start()
    for grader in graders:
        grader.join(timeout=60)
    assert len(trained) == 1
    # The reference's costs beside its accuracies: the judges need not build its models.
    expected = {"base.accuracy": 0.5, "transfer.accuracy": 0.6} | reference_costs(spec)
    assert [c.figures for c in found] == [expected] * 2
