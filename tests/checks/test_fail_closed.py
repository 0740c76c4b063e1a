"""A check whose evidence is missing, partial or inconsistent fails; it never passes.

The artefacts here are written by the kernel's own code (:mod:`grader.kernel.runtime`'s ``fit``
wrapper and its last cell), in-process, and read back by the judge's reader: an attack is the
honest run with files removed or rewritten between the two, as a student's cell would.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from grader.budget import DEFAULT_BUDGETS
from grader.judge.artefacts import Artefacts, read_artefacts, variables_from
from grader.kernel import layout, runtime
from tests.checks.test_checks import artefacts, base_cnn, judge


class Kernel:
    """The kernel's recording, without a kernel: ``fit`` wrapped as the runtime wraps it."""

    def __init__(
        self,
        folder: Path,
        monkeypatch: pytest.MonkeyPatch,
        roles: dict[str, list[str]] | None = None,
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        roles = roles or {"base": ["model"], "transfer": ["trans_model"]}
        config = {"roles": roles, "variables": []}
        state = {
            "config": config,
            "budget": DEFAULT_BUDGETS["smoke"],
            "fit_count": 0,
            "artefacts": folder,
        }
        monkeypatch.setattr(runtime, "_STATE", state)
        self._fit = runtime._fit_wrapper(keras.Model.fit)

    def fit(
        self, model: keras.Model, width: int, seed: int, shape: tuple[int, ...] = (32, 32, 3)
    ) -> None:
        x = np.random.default_rng(seed).random((8, *shape), dtype=np.float32)
        y = keras.utils.to_categorical(np.arange(8) % width, width)
        self._fit(model, x, y, epochs=1, batch_size=8, verbose=0)

    def finish(self, **namespace: keras.Model) -> Artefacts:
        runtime.finish(dict(namespace))
        return read_artefacts(self.folder)


def transfer_of(base: keras.Model, *, freeze: bool) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            *base.layers[:5],
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    for layer in model.layers[:5]:
        layer.trainable = not freeze
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    freeze: bool,
    tamper: t.Callable[[Path, keras.Model], None] = lambda folder, model: None,
    train_transfer: bool = True,
) -> Artefacts:
    """The course's transfer notebook: train the base, reuse five layers, train again; then
    ``tamper`` with the artefacts in the same cell, as a student's code may."""
    kernel = Kernel(tmp_path / "artefacts", monkeypatch)
    base = base_cnn()
    kernel.fit(base, 5, 0)
    transfer = transfer_of(base, freeze=freeze)
    if train_transfer:
        kernel.fit(transfer, 10, 1)
    tamper(kernel.folder, transfer)
    return kernel.finish(model=base, trans_model=transfer)


def freeze_afterwards(folder: Path, model: keras.Model) -> None:
    for layer in model.layers[:5]:
        layer.trainable = False


def remove(*names: str) -> t.Callable[[Path, keras.Model], None]:
    def tamper(folder: Path, model: keras.Model) -> None:
        for name in names:
            (folder / name).unlink()
        freeze_afterwards(folder, model)

    return tamper


def test_the_honest_notebook_passes_frozen_and_transferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    art = run(tmp_path, monkeypatch, freeze=True)
    assert art.record_problems == [] and all(not f.problem for f in art.fits)
    frozen = judge("transfer.frozen", art)
    assert frozen.status == "pass" and "unchanged by training" in frozen.message
    assert judge("transfer.weights_transferred", art).status == "pass"


def test_the_unfrozen_notebook_fails_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = judge("transfer.frozen", run(tmp_path, monkeypatch, freeze=False))
    assert result.status == "fail" and "changed during training (fit #2)" in result.message


def test_deleting_the_after_snapshot_then_freezing_fails_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23's attack: the `not_frozen` notebook deletes its transfer fit's ``after``
    snapshot and freezes the reused layers once trained. It scored as frozen."""
    art = run(tmp_path, monkeypatch, freeze=False, tamper=remove("snapshots/1-after.npz"))
    result = judge("transfer.frozen", art)
    assert result.status == "fail", result.message
    assert (
        "the record of fit #2 (transfer model) is incomplete: snapshots/1-after.npz is missing; "
        "the frozen weights cannot be confirmed unchanged"
    ) in result.message
    # The weights the transfer model started from are on record: that check is not charged.
    assert judge("transfer.weights_transferred", art).status == "pass"


def test_weights_transferred_fails_when_what_it_compares_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    art = run(tmp_path, monkeypatch, freeze=True, tamper=remove("snapshots/0-after.npz"))
    result = judge("transfer.weights_transferred", art)
    assert result.status == "fail"
    assert (
        "the record of fit #1 (base model) is incomplete: snapshots/0-after.npz is missing; "
        "the transferred weights cannot be confirmed"
    ) in result.message


@pytest.mark.parametrize(
    ("removed", "says"),
    [
        (["snapshots/1-before.npz"], "snapshots/1-before.npz is missing"),
        (
            ["fits/1.json", "snapshots/1-before.npz", "snapshots/1-after.npz"],
            "the record of fit #2 is missing",
        ),
        (["fits/1.json"], "the record of fit #2 is missing"),
    ],
)
def test_any_evidence_removed_fails_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, removed: list[str], says: str
) -> None:
    art = run(tmp_path, monkeypatch, freeze=False, tamper=remove(*removed))
    result = judge("transfer.frozen", art)
    assert result.status == "fail" and says in result.message, result.message


def test_a_record_claiming_an_unbuilt_model_is_compared_with_the_earlier_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model not built before its fit has no ``before`` snapshot; its reused layers are then
    compared with the weights the base's fit left them, so the claim buys nothing."""

    def unbuilt(folder: Path, model: keras.Model) -> None:
        record = folder / layout.fit_record(1)
        record.write_text(json.dumps({**json.loads(record.read_text()), "built": False}))
        remove("snapshots/1-before.npz")(folder, model)

    result = judge("transfer.frozen", run(tmp_path, monkeypatch, freeze=False, tamper=unbuilt))
    assert result.status == "fail" and "changed during training (fit #2)" in result.message


def test_a_model_never_trained_is_still_judged_on_its_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fit ran on it, as the kernel counted: the missing training is the accuracy check's
    to charge (one mistake, charged once), and the verdict says what was not confirmed."""
    art = run(tmp_path, monkeypatch, freeze=True, train_transfer=False)
    result = judge("transfer.frozen", art)
    assert result.status == "pass" and "never trained" in result.message


def test_a_data_summary_cut_short_is_unusable_not_judged_on_its_half() -> None:
    images = np.random.default_rng(0).random((100, 32, 32, 3), dtype=np.float32)
    labels = keras.utils.to_categorical(np.arange(100) % 5, 5)
    summary, arrays = runtime.summarise_variables({"x": images, "y": labels}, ["x", "y"])
    assert variables_from(summary, arrays)[1] == {}
    short = {**summary, "x": {**summary["x"], "rows": summary["x"]["rows"][:1]}}
    clipped = {**arrays, "x": arrays["x"][:1], "y": arrays["y"][:10]}
    _, errors = variables_from(short, clipped)
    assert errors == {
        "x": "its summary is incomplete or inconsistent (1 sampled rows of 100)",
        "y": "its summary is incomplete or inconsistent (arrays of shape (10, 5) for a "
        "variable of shape (100, 5))",
    }


def test_images_that_cannot_be_the_training_images_fail_class_groups(tmp_path: Path) -> None:
    from tests.checks.test_course_checks import MNIST, MNIST_TRUTH, digit_group
    from tests.checks.test_course_checks import judge as judge_course

    groups = {**digit_group("lt5", [0, 1, 2, 3, 4], 0), **digit_group("gte5", [5, 6, 7, 8, 9], 5)}
    x = groups["x_train_lt5"]
    groups["x_train_lt5"] = dataclasses.replace(
        x, shape=(x.shape[0], 14, 14), values=x.values[:, ::2, ::2]
    )
    result = judge_course(
        MNIST, "data.digit_groups", artefacts(tmp_path, {}, [], groups), MNIST_TRUTH
    )
    assert result.status == "fail"
    assert "x_train_lt5 holds images of shape (14, 14); the training images are (28, 28)" in (
        result.message
    )
    channels = x.values.reshape((-1, 28, 28, 1))  # the same images with a channel axis pass
    groups["x_train_lt5"] = dataclasses.replace(x, shape=(*x.shape, 1), values=channels)
    art = artefacts(tmp_path / "b", {}, [], groups)
    assert judge_course(MNIST, "data.digit_groups", art, MNIST_TRUTH).status == "pass"


def test_a_fit_that_raised_is_recorded_and_charged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels of the wrong width stop the transfer fit: its record keeps the numbering whole,
    the frozen layers are compared across it, and the missing training is the accuracy
    check's to charge, not evidence missing."""
    kernel = Kernel(tmp_path / "artefacts", monkeypatch)
    base = base_cnn()
    kernel.fit(base, 5, 0)
    transfer = transfer_of(base, freeze=True)
    with pytest.raises(ValueError):
        kernel.fit(transfer, 5, 1)  # ten outputs, five-wide labels
    art = kernel.finish(model=base, trans_model=transfer)
    assert art.record_problems == [] and [f.raised for f in art.fits] == [False, True]
    assert len(art.fit_records()) == 1
    result = judge("transfer.frozen", art)
    assert result.status == "pass" and "never trained" in result.message, result.message
