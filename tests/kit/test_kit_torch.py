"""A student kit of a PyTorch assignment: the architecture check judges from the kit's public
description as it judges from the reference, and the live check says it is Keras-only.

The kit is built without calibration (no training); the artefacts judged are written here as a
PyTorch kernel writes them (tests/framework/pytorch/judge/test_onnx.py's helpers), so no kernel
runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from torch import nn  # noqa: E402

from grader import course  # noqa: E402
from grader.checks.base import run_check  # noqa: E402
from grader.exceptions import KitError  # noqa: E402
from grader.kit import live  # noqa: E402
from grader.kit.build import BuiltKit, build_kit  # noqa: E402
from grader.results import CheckResult  # noqa: E402
from grader.rubric import Assignment  # noqa: E402
from grader.rubric.load import load_assignment  # noqa: E402
from reference import mnist_cnn_torch  # noqa: E402
from tests.framework.pytorch.judge.test_onnx import context, write_role  # noqa: E402

NAME = "mnist_cnn_torch"


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> BuiltKit:
    return build_kit([NAME], out=tmp_path_factory.mktemp("kit"), budgets=())


def architecture(folder: Path, spec: Assignment) -> CheckResult:
    check = next(c for c in spec.checks if c.id == "model.architecture")
    return run_check(check, context(folder, spec))


def test_the_kit_judges_the_architecture_as_the_course_does(kit: BuiltKit, tmp_path: Path) -> None:
    kit_spec = load_assignment(kit.folder / "assignments" / NAME)
    course_spec = load_assignment(NAME)
    assert kit_spec.kit is not None and kit_spec.torch == course_spec.torch
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    write_role(right, "model", mnist_cnn_torch.build_classifier(), shape=(1, 28, 28))
    narrow = mnist_cnn_torch.MNISTClassifier()
    narrow.fc1, narrow.fc2 = nn.Linear(64 * 5 * 5, 64), nn.Linear(64, 10)
    write_role(wrong, "model", narrow, shape=(1, 28, 28))
    for folder, status in ((right, "pass"), (wrong, "fail")):
        by_kit, by_course = architecture(folder, kit_spec), architecture(folder, course_spec)
        assert by_kit.status == by_course.status == status, (by_kit.message, by_course.message)
        assert by_kit.message == by_course.message


def test_the_live_check_says_it_is_keras_only(
    kit: BuiltKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(kit.folder / "assignments" / NAME)
    saved = course._chosen
    monkeypatch.setenv(course.ENV, str(kit.folder))
    try:
        with pytest.raises(KitError, match=r"PyTorch assignment.*full_check"):
            live.check({}, assignment=NAME)
    finally:
        course._chosen = saved
    assert "kit.full_check()" in (kit.folder / "README.md").read_text()
