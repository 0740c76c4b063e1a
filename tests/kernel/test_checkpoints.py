"""The kernel's checkpoints: written after a cell that changed a role's model or a data
variable, and only then (saving a model every cell would cost a VGG19 notebook minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from grader.kernel import layout, runtime, variables


@pytest.fixture
def kernel_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = {
        "config": {"roles": {"base": ["model"]}, "variables": ["x_train"]},
        "artefacts": tmp_path,
        "fit_count": 0,
        "checkpoints": 0,
        "checkpointed": None,
    }
    monkeypatch.setattr(runtime, "_STATE", state)
    return tmp_path


def small_model() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


def test_a_checkpoint_is_written_only_when_something_changed(kernel_state: Path) -> None:
    namespace: dict[str, object] = {}
    assert not runtime.checkpoint(namespace)  # nothing to keep yet
    namespace["model"] = small_model()
    namespace["x_train"] = np.zeros((3, 4), dtype=np.float32)
    assert runtime.checkpoint(namespace)
    assert not runtime.checkpoint(namespace)  # an unchanged cell costs nothing
    namespace["model"].layers[0].trainable = False  # type: ignore[attr-defined]
    assert runtime.checkpoint(namespace)
    runtime._STATE["fit_count"] += 1  # a fit ran
    assert runtime.checkpoint(namespace)
    files = sorted(p.name for p in (kernel_state / layout.CHECKPOINTS).iterdir())
    assert "2-model-base.keras" in files and "2-roles.json" in files and "3-roles.json" not in files
    roles = json.loads((kernel_state / layout.checkpoint_file(2, layout.ROLES)).read_text())
    assert roles["base"]["variable"] == "model"
    summary = json.loads((kernel_state / layout.checkpoint_file(2, layout.VARIABLES)).read_text())
    assert summary["x_train"]["shape"] == [3, 4]


def test_the_finish_cell_ends_checkpointing(kernel_state: Path) -> None:
    namespace: dict[str, object] = {"model": small_model()}
    runtime.finish(namespace)
    assert (kernel_state / layout.ROLES).is_file()
    assert runtime._STATE["finished"]


def ranges_read(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The first value of every array whose range is read from now on."""
    read: list[float] = []
    original = variables._finite_range

    def counted(value: np.ndarray) -> tuple[float, float]:
        read.append(float(value.flat[0]))
        return original(value)

    monkeypatch.setattr(variables, "_finite_range", counted)
    return read


def test_a_checkpoint_reads_only_the_ranges_of_arrays_that_changed(
    kernel_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = ranges_read(monkeypatch)
    images = np.full((500, 4, 4, 3), 255.0)
    namespace: dict[str, object] = {"model": small_model(), "x_train": images}
    assert runtime.checkpoint(namespace)
    runtime._STATE["fit_count"] += 1  # a fit ran: the model is saved again, the data kept
    assert runtime.checkpoint(namespace)
    assert read == [255.0]
    summary = json.loads((kernel_state / layout.checkpoint_file(1, layout.VARIABLES)).read_text())
    assert summary["x_train"]["max"] == 255.0
    # Scaled in place: the same array object, its sampled rows changed.
    images /= 255.0
    runtime._STATE["fit_count"] += 1
    assert runtime.checkpoint(namespace)
    summary = json.loads((kernel_state / layout.checkpoint_file(2, layout.VARIABLES)).read_text())
    assert summary["x_train"]["max"] == 1.0 and read == [255.0, 1.0]
    # The final summary, the one graded, reads every array whatever was seen before.
    runtime.finish(namespace)
    assert read == [255.0, 1.0, 1.0]
    assert json.loads((kernel_state / layout.VARIABLES).read_text())["x_train"]["max"] == 1.0
