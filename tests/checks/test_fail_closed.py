"""A check whose evidence is missing, partial or inconsistent fails; it never passes.

The artefacts here are written by the kernel's own code (:mod:`grader.kernel.runtime`'s ``fit``
wrapper and its last cell), in-process, and read back by the judge's reader: an attack is the
honest run with files removed or rewritten between the two, as a student's cell would.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from grader.artefacts.folder import Artefacts, read_artefacts
from grader.artefacts.records import variables_from
from grader.budget import DEFAULT_BUDGETS
from grader.kernel import layout, runtime
from grader.kernel.variables import summarise_variables
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

    def checkpoint(self, **namespace: keras.Model) -> None:
        """The checkpoint the kernel writes after a cell that changed a role's model."""
        runtime._STATE.setdefault("checkpoints", 0)
        assert runtime.checkpoint(dict(namespace))

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


def hide_the_last_fit(folder: Path, model: keras.Model) -> None:
    """Issue 23, gap 1: the cell that ran an unfrozen ``fit`` removes its record and both
    snapshots and takes it off the kernel's count, then freezes the layers it trained."""
    index = runtime._STATE["fit_count"] - 1
    for name in (
        layout.fit_record(index),
        layout.snapshot(index, "before"),
        layout.snapshot(index, "after"),
    ):
        (folder / name).unlink()
    runtime._STATE["fit_count"] -= 1
    freeze_afterwards(folder, model)


def train_unrecorded(folder: Path, model: keras.Model) -> None:
    """Training through Keras' own ``fit``, which the grader's wrapper never sees."""
    x = np.random.default_rng(1).random((8, 32, 32, 3), dtype=np.float32)
    keras.Model.fit(model, x, keras.utils.to_categorical(np.arange(8) % 10, 10), verbose=0)
    freeze_afterwards(folder, model)


@pytest.mark.parametrize("tamper", [hide_the_last_fit, train_unrecorded])
def test_training_hidden_from_the_records_fails_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tamper: t.Callable[[Path, keras.Model], None]
) -> None:
    """The model looks never trained, and nothing the kernel counted is missing; but its
    frozen layers no longer hold the weights the base's fit (taken out of reach after an
    earlier cell) left them with. It scored as frozen."""
    trained = tamper is hide_the_last_fit  # else the tampering trains
    art = run(tmp_path, monkeypatch, freeze=False, tamper=tamper, train_transfer=trained)
    assert art.record_problems == [] and [f.index for f in art.fits] == [0]
    result = judge("transfer.frozen", art)
    assert result.status == "fail", result.message
    assert re.search(
        r"- layers conv2d\S*, conv2d\S* changed with no recorded training to explain it: they "
        r"differ from the weights fit #1 \(their last recorded training\) left them with; a "
        r"fit's record is missing \(removed, or the grader's fit bypassed\), so the frozen "
        r"weights cannot be confirmed unchanged",
        result.message,
    ), result.message
    assert "never trained" in result.message  # and the flags it saw were right


def test_a_pretrained_model_trained_again_unrecorded_fails_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pretraining_fits``: the model's own first fit is the weights' last record."""
    from reference.mnist_transfer import build_model
    from tests.checks.test_course_checks import MNIST
    from tests.checks.test_course_checks import judge as judge_course

    kernel = Kernel(tmp_path / "artefacts", monkeypatch, {"model": ["model"]})
    model = build_model()
    kernel.fit(model, 5, 0, shape=(28, 28, 1))
    for layer in model.layers[:7]:
        layer.trainable = False
    honest = judge_course(MNIST, "model.frozen", kernel.finish(model=model))
    assert honest.status == "pass" and "never trained after" in honest.message, honest.message
    for layer in model.layers[:7]:
        layer.trainable = True
    model.compile(optimizer="adadelta", loss="categorical_crossentropy")
    kernel.fit(model, 5, 1, shape=(28, 28, 1))
    hide_the_last_fit(kernel.folder, model)
    for layer in model.layers[:7]:
        layer.trainable = False
    result = judge_course(MNIST, "model.frozen", kernel.finish(model=model))
    assert result.status == "fail", result.message
    assert "differ from the weights fit #1 (their last recorded training)" in result.message


def vgg_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, train: bool, checkpoint: bool = True
) -> t.Any:
    """A base no fit trains (VGG19's blocks): built and checkpointed after its cell, then
    perhaps trained unrecorded with every layer trainable, then frozen by blocks."""
    from tests.checks.test_course_checks import VGG, mini_vgg
    from tests.checks.test_course_checks import judge as judge_course

    kernel = Kernel(tmp_path / "artefacts", monkeypatch, {"model": ["model"]})
    model = mini_vgg()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    if checkpoint:
        kernel.checkpoint(model=model)
    if train:
        x = np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32)
        keras.Model.fit(model, x, keras.utils.to_categorical(np.arange(8), 10), verbose=0)
    for layer in model.layers:
        layer.trainable = not layer.name.startswith(("block1", "block2", "block3", "block4"))
    return judge_course(VGG, "model.frozen_blocks", kernel.finish(model=model))


def test_layers_no_fit_trained_are_compared_with_the_first_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = vgg_run(tmp_path / "honest", monkeypatch, train=False)
    assert honest.status == "pass" and "never trained" in honest.message, honest.message
    hidden = vgg_run(tmp_path / "hidden", monkeypatch, train=True)
    assert hidden.status == "fail"
    assert (
        "changed with no recorded training to explain it: they differ from the weights the "
        "model model was first saved with (checkpoint 0)"
    ) in hidden.message, hidden.message
    assert "block1_conv1" in hidden.message and "block5" not in hidden.message


def test_frozen_weights_with_nothing_to_compare_them_with_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fit trained the layers and no checkpoint holds the model (the kernel's hook was
    removed): the weights cannot be confirmed, so the check cannot pass."""
    result = vgg_run(tmp_path, monkeypatch, train=False, checkpoint=False)
    assert result.status == "fail"
    assert (
        "the grader holds no earlier weights of frozen layers block1_conv1, block1_conv2"
    ) in result.message, result.message
    assert "no checkpoint holds the model model" in result.message


def test_a_data_summary_cut_short_is_unusable_not_judged_on_its_half() -> None:
    images = np.random.default_rng(0).random((100, 32, 32, 3), dtype=np.float32)
    labels = keras.utils.to_categorical(np.arange(100) % 5, 5)
    summary, arrays = summarise_variables({"x": images, "y": labels}, ["x", "y"])
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
