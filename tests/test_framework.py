"""The framework seam: chosen once from the rubric, and the only place that branches on it."""

from __future__ import annotations

import re

from grader.framework import framework_of
from grader.framework.keras import KERAS
from grader.framework.pytorch import PYTORCH
from grader.rubric.load import load_assignment
from tests.conftest import ROOT

BRANCH = re.compile(r"\.torch is (not )?None|if [\w.]+\.torch\b|[\w.]+\.torch else")
"""A branch on whether a rubric is PyTorch's."""
SEAM = ("grader/framework/", "grader/rubric/")
"""The seam, and the rubric that names the framework."""


def test_the_rubric_chooses_the_framework() -> None:
    assert framework_of(load_assignment("cifar10_transfer")) is KERAS
    assert framework_of(load_assignment("mnist_cnn_torch")) is PYTORCH
    assert (KERAS.name, PYTORCH.name) == ("keras", "torch")
    assert KERAS.versions() == {} and "torch" in PYTORCH.versions()


def test_nothing_outside_the_seam_branches_on_the_framework() -> None:
    found = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where.startswith(SEAM):
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{where}:{text[: m.start()].count(chr(10)) + 1}" for m in BRANCH.finditer(text)]
    assert found == []


def test_pytorchs_files_live_under_its_framework_package() -> None:
    """PyTorch is a package grouped by stage (kernel, judge, checks), not a file-name prefix
    spread over the stages' folders."""
    found = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "grader").rglob("*.py"))
        if "torch" in path.stem
        and not path.is_relative_to(ROOT / "grader" / "framework" / "pytorch")
        and path != ROOT / "grader" / "rubric" / "pytorch.py"  # the [torch] table's reader
    ]
    assert found == []
