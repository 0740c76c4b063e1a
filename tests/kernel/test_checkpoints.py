"""The kernel's checkpoints: written after a cell that changed a role's model or a data
variable, and only then (saving a model every cell would cost a VGG19 notebook minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from grader.kernel import layout, runtime


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
