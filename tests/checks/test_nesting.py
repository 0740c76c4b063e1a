"""The same model built in the idioms students use gets the same structural verdicts, nested
models seen through; and the same mistake, in any idiom, the same message (the nesting as the
student wrote it aside).

Models are built here, in-process, with random weights; fits are recorded by the kernel's own
``fit`` wrapper (:class:`tests.checks.test_fail_closed.Kernel`), so the weight snapshots of a
nested model go through the kernel's numbering and the judge's reader.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import keras
import pytest
from keras import layers

from grader.artefacts.folder import Artefacts
from grader.kernel.nesting import SEPARATOR
from tests.checks.test_checks import artefacts, base_cnn
from tests.checks.test_checks import judge as judge_cifar
from tests.checks.test_course_checks import MNIST, VGG
from tests.checks.test_course_checks import judge as judge_course
from tests.checks.test_fail_closed import Kernel

NESTING = re.compile(rf"[\w.-]+{re.escape(SEPARATOR)}")


def plain(message: str) -> str:
    """A message with the nesting of its layer names left out."""
    return NESTING.sub("", message)


# --- cifar10_transfer: five reused layers, frozen, under a new head ------------------------------


def reused(base: keras.Model, freeze: bool) -> keras.Model:
    """The base's first five layers as a model of their own, frozen as a whole."""
    inner = keras.Sequential([keras.Input((32, 32, 3)), *base.layers[:5]], name="reused")
    inner.trainable = not freeze
    return inner


def head(width: int = 128) -> list[layers.Layer]:
    return [layers.Dense(width, activation="relu"), layers.Dense(10, activation="softmax")]


def sequential_list(base: keras.Model, freeze: bool, width: int) -> keras.Model:
    for layer in base.layers[:5]:
        layer.trainable = not freeze
    return keras.Sequential([keras.Input((32, 32, 3)), *base.layers[:5], *head(width)])


def sequential_add(base: keras.Model, freeze: bool, width: int) -> keras.Model:
    model = keras.Sequential()
    for layer in base.layers[:5]:
        layer.trainable = not freeze
        model.add(layer)
    for layer in head(width):
        model.add(layer)
    return model


def functional_flat(base: keras.Model, freeze: bool, width: int) -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for layer in base.layers[:5]:
        layer.trainable = not freeze
        x = layer(x)
    for layer in head(width):
        x = layer(x)
    return keras.Model(inputs, x)


def nested_sequential(base: keras.Model, freeze: bool, width: int) -> keras.Model:
    return keras.Sequential([reused(base, freeze), *head(width)])


def nested_functional(base: keras.Model, freeze: bool, width: int) -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = reused(base, freeze)(inputs)
    for layer in head(width):
        x = layer(x)
    return keras.Model(inputs, x)


CIFAR_IDIOMS: dict[str, t.Callable[[keras.Model, bool, int], keras.Model]] = {
    "sequential list": sequential_list,
    "sequential add": sequential_add,
    "functional": functional_flat,
    "nested in sequential": nested_sequential,
    "base called as a layer": nested_functional,
}
CIFAR_CHECKS = ("transfer.architecture", "transfer.frozen", "transfer.weights_transferred")


def graded_cifar(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    idiom: str,
    *,
    freeze: bool = True,
    width: int = 128,
) -> dict[str, t.Any]:
    kernel = Kernel(tmp_path / idiom.replace(" ", "-"), monkeypatch)
    base = base_cnn()
    kernel.fit(base, 5, 0)
    transfer = CIFAR_IDIOMS[idiom](base, freeze, width)
    transfer.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    kernel.fit(transfer, 10, 1)
    art = kernel.finish(model=base, trans_model=transfer)
    return {check: judge_cifar(check, art) for check in CIFAR_CHECKS}


@pytest.mark.parametrize("idiom", list(CIFAR_IDIOMS))
def test_cifar_transfer_in_every_idiom_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idiom: str
) -> None:
    results = graded_cifar(tmp_path, monkeypatch, idiom)
    assert {c: r.status for c, r in results.items()} == dict.fromkeys(CIFAR_CHECKS, "pass"), {
        c: r.message for c, r in results.items()
    }
    assert "unchanged by training" in results["transfer.frozen"].message


@pytest.mark.parametrize(
    "idiom", ["sequential add", "nested in sequential", "base called as a layer"]
)
def test_cifar_mistakes_get_one_message_in_every_idiom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idiom: str
) -> None:
    unfrozen = graded_cifar(tmp_path / "unfrozen", monkeypatch, idiom, freeze=False)
    frozen = unfrozen["transfer.frozen"]
    assert frozen.status == "fail"
    lines = plain(frozen.message).splitlines()
    for i, line in enumerate(lines[:5], start=1):  # the same five lines, whatever the idiom
        assert re.fullmatch(rf"- layer {i} \([\w.-]+\) is trainable; it should be frozen", line)
    assert "changed during training (fit #2)" in frozen.message
    assert unfrozen["transfer.architecture"].status == "pass"
    narrow = graded_cifar(tmp_path / "narrow", monkeypatch, idiom, width=64)
    architecture = narrow["transfer.architecture"]
    assert architecture.status == "fail"
    assert re.search(r"layer 6 \([\w.-]+, Dense\): units is 64, expected 128", architecture.message)
    assert narrow["transfer.frozen"].status == "pass"


# --- vgg19_finetune: blocks 1-4 frozen, block 5 and the head trainable ----------------------------


def vgg_base(freeze: str) -> keras.Model:
    """VGG19 without its top, random weights; ``freeze``: ``blocks`` (the solution's, per
    layer), ``whole`` (``base.trainable = False``: block 5 frozen too, a mistake)."""
    base = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    if freeze == "whole":
        base.trainable = False
    else:
        for layer in base.layers:
            layer.trainable = layer.name.startswith("block5")
    return base


def vgg_head(width: int) -> list[layers.Layer]:
    return [
        layers.Flatten(),
        layers.Dense(width, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(125, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]


def vgg_solution(base: keras.Model, width: int) -> keras.Model:
    x = base.output
    for layer in vgg_head(width):
        x = layer(x)
    return keras.Model(base.input, x)


def vgg_sequential(base: keras.Model, width: int) -> keras.Model:
    return keras.Sequential([base, *vgg_head(width)])


def vgg_add(base: keras.Model, width: int) -> keras.Model:
    model = keras.Sequential()
    model.add(keras.Input((32, 32, 3)))
    model.add(base)
    for layer in vgg_head(width):
        model.add(layer)
    return model


def vgg_called(base: keras.Model, width: int) -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = base(inputs)
    for layer in vgg_head(width):
        x = layer(x)
    return keras.Model(inputs, x)


VGG_IDIOMS = {
    "solution": vgg_solution,
    "nested in sequential": vgg_sequential,
    "model.add(base)": vgg_add,
    "base called as a layer": vgg_called,
}
VGG_CHECKS = ("model.architecture", "model.frozen_blocks")


def graded_vgg(tmp_path: Path, idiom: str, freeze: str = "blocks", width: int = 256) -> t.Any:
    model = VGG_IDIOMS[idiom](vgg_base(freeze), width)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    art: Artefacts = artefacts(tmp_path / idiom.replace(" ", "-"), {"model": model})
    return {check: judge_course(VGG, check, art) for check in VGG_CHECKS}


@pytest.mark.parametrize("idiom", list(VGG_IDIOMS))
def test_vgg19_in_every_idiom_gets_the_solutions_verdicts(tmp_path: Path, idiom: str) -> None:
    results = graded_vgg(tmp_path, idiom)
    assert {c: r.status for c, r in results.items()} == dict.fromkeys(VGG_CHECKS, "pass"), {
        c: r.message for c, r in results.items()
    }
    assert results["model.architecture"].message == "all 26 layers match"


@pytest.mark.parametrize("idiom", ["solution", "nested in sequential", "base called as a layer"])
def test_vgg19_mistakes_get_one_message_in_every_idiom(tmp_path: Path, idiom: str) -> None:
    whole = graded_vgg(tmp_path / "whole", idiom, freeze="whole")["model.frozen_blocks"]
    block5 = ", ".join(f"block5_conv{i}" for i in range(1, 5))
    assert whole.status == "fail"
    assert plain(whole.message).startswith(f"- layers {block5} are frozen; make them trainable")
    if idiom != "solution":  # the report names the layers as the student nested them
        assert f"vgg19{SEPARATOR}block5_conv1" in whole.message
    narrow = graded_vgg(tmp_path / "narrow", idiom, width=128)["model.architecture"]
    assert narrow.status == "fail"
    assert re.search(r"layer 23 \([\w.-]+, Dense\): units is 128, expected 256", narrow.message)


class Subclassed(keras.Model):  # type: ignore[misc]
    """A model of the student's own class: no graph of layers is saved."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = layers.Conv2D(32, 4, activation="relu")
        self.flatten = layers.Flatten()
        self.out = layers.Dense(5, activation="softmax")

    def call(self, x: t.Any) -> t.Any:
        return self.out(self.flatten(self.conv(x)))


Subclassed.__module__ = "__main__"  # as in a notebook


def test_a_subclassed_model_fails_with_what_to_change(tmp_path: Path) -> None:
    model = Subclassed()
    model(keras.ops.zeros((1, 32, 32, 3)))
    result = judge_cifar("base.architecture", artefacts(tmp_path, {"base": model}))
    assert result.status == "fail"
    assert "Subclassed, a class defined in the notebook" in result.message
    assert "build the model with keras.Sequential([...]) or keras.Model(inputs, outputs)" in (
        result.message
    )


# --- mnist_transfer: one model, trained, its feature layers frozen, trained again --------------


def mnist_layers() -> tuple[list[layers.Layer], list[layers.Layer]]:
    features = [
        layers.Conv2D(32, 3, padding="valid"),
        layers.Activation("relu"),
        layers.Conv2D(32, 3),
        layers.Activation("relu"),
        layers.MaxPooling2D(pool_size=2),
        layers.Dropout(0.25),
        layers.Flatten(),
    ]
    head = [
        layers.Dense(128),
        layers.Activation("relu"),
        layers.Dropout(0.5),
        layers.Dense(5),
        layers.Activation("softmax"),
    ]
    return features, head


@pytest.mark.parametrize("idiom", ["solution", "nested feature model"])
@pytest.mark.parametrize("freeze", [True, False])
def test_mnist_transfer_in_two_idioms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idiom: str, freeze: bool
) -> None:
    features, head_layers = mnist_layers()
    if idiom == "solution":
        model = keras.Sequential([keras.Input((28, 28, 1)), *features, *head_layers])
        to_freeze: list[t.Any] = features
    else:
        block = keras.Sequential([keras.Input((28, 28, 1)), *features], name="features")
        model = keras.Sequential([block, keras.Sequential(head_layers, name="classifier")])
        to_freeze = [block]
    kernel = Kernel(tmp_path, monkeypatch, {"model": ["model"], "model_sup": ["model_sup"]})
    model.compile(optimizer="adadelta", loss="categorical_crossentropy", metrics=["accuracy"])
    kernel.fit(model, 5, 0, (28, 28, 1))
    for layer in to_freeze:
        layer.trainable = not freeze
    model.compile(optimizer="adadelta", loss="categorical_crossentropy", metrics=["accuracy"])
    kernel.fit(model, 5, 1, (28, 28, 1))
    art = kernel.finish(model=model)
    architecture = judge_course(MNIST, "model.architecture", art)
    assert architecture.status == "pass", architecture.message
    frozen = judge_course(MNIST, "model.frozen", art)
    if freeze:
        assert frozen.status == "pass", frozen.message
        assert "unchanged by training" in frozen.message
    else:
        assert frozen.status == "fail"
        lines = plain(frozen.message).splitlines()
        for i, line in enumerate(lines[:7], start=1):
            assert re.fullmatch(rf"- layer {i} \([\w.-]+\) is trainable; it should be frozen", line)
        assert "changed during training (fit #2)" in frozen.message
