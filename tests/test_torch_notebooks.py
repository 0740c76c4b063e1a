"""The PyTorch assignments through the real pipeline (kernel, judge, smoke budget, synthetic data).

Each example submission (the seed's code as a student hands it in, and typical mistakes) matches its
golden statuses; accuracy goldens are not enforced for examples, as for the Keras ones. The examples
are graded once per session (``graded_example``); everything else about PyTorch grading is
unit-tested on artefacts written by the tests (tests/framework/pytorch/judge/test_onnx.py,
tests/framework/pytorch/kernel/test_runtime.py). ``pytest --update-goldens`` refreshes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from grader.rubric.load import load_assignment
from tests.conftest import ROOT, GradeExample
from tests.test_course_notebooks import examples, golden_failures, matches_golden

pytestmark = pytest.mark.notebook
GOLDENS = ROOT / "tests" / "goldens"
TORCH = ("cifar10_cnn_torch", "mnist_cnn_torch")
EXAMPLES = examples(TORCH)
NEVER_BUILT = {("cifar10_cnn_torch", "main_no_dropout"): {"model_dropout"}}
"""Examples that never build a role's model: they train none for it."""


@pytest.mark.parametrize(("assignment", "name"), EXAMPLES, ids=[f"{a}-{n}" for a, n in EXAMPLES])
def test_example_submission_matches_its_golden(
    assignment: str, name: str, update_goldens: bool, graded_example: GradeExample
) -> None:
    result = graded_example(assignment, name).result
    matches_golden(assignment, name, result, update_goldens)
    assert result.outcome == "ok", result.incidents
    never_built = NEVER_BUILT.get((assignment, name), set())
    assert [f.model for f in result.fits] == [
        f.model for f in result.reference_fits if f.model not in never_built
    ]
    assert "torch" in result.versions


def test_goldens_say_what_each_example_gets_wrong() -> None:
    """The seed's part a passes everything; part b computes no F1; each mistake fails its check."""
    expected_failures = {
        ("cifar10_cnn_torch", "seed_001a"): set(),
        ("cifar10_cnn_torch", "no_augmentation"): {"data.augmentation"},
        ("cifar10_cnn_torch", "macro_average"): {"model.metrics"},
        ("cifar10_cnn_torch", "dropout_after_fc1"): {"model_dropout.architecture"},
        # Its model built inside main(), judged from the module that trained; no dropout variant,
        # so the dropout variant's checks fail ("never built") and borrow nothing.
        ("cifar10_cnn_torch", "main_no_dropout"): {
            "model_dropout.architecture",
            "model_dropout.metrics",
        },
        ("mnist_cnn_torch", "seed_001b"): {"model.metrics"},
        ("mnist_cnn_torch", "conv2_5x5"): {"model.architecture"},
    }
    assert set(expected_failures) == set(EXAMPLES)
    for (assignment, name), failing in expected_failures.items():
        assert golden_failures(assignment, name) == failing, (assignment, name)


UNWRAP = """\
# Past the budget: the caps' own wrappers, unwrapped.
from torch.utils.data import DataLoader, Subset
DataLoader.__iter__ = DataLoader.__iter__.__wrapped__
DataLoader.__len__ = DataLoader.__len__.__wrapped__
# Four times the smoke budget's 2,000 training images (a whole epoch is 60,000: minutes of
# this test's time); measured: 12,000 reach 98% where the reference reaches 64%.
train_loader = DataLoader(Subset(train_dataset, range(8000)), batch_size=128, shuffle=True)
"""


def test_training_past_the_budget_is_flagged_and_an_honest_neighbour_keeps_its_result(
    tmp_path: Path,
) -> None:
    """A notebook that unwraps the DataLoader caps trains on four times the budget's images; its
    accuracy, measured by the judge on the held-back images, is flagged. The honest solution,
    graded in the same batch, gets exactly its solo result: full marks, the reference's own
    accuracy (it is the reference's code, trained under the same caps and seed)."""
    import nbformat

    spec = load_assignment("mnist_cnn_torch")
    honest = spec.folder / "submissions" / "full_marks.ipynb"
    nb = nbformat.read(honest, as_version=4)
    for cell in nb.cells:
        if cell.get("id") == "optimizer":
            cell.source += "\n" + UNWRAP
        if cell.get("id") == "train":
            cell.source = cell.source.replace("num_epochs = 10", "num_epochs = 1")
    hostile = tmp_path / "unwrapped.ipynb"
    nbformat.write(nb, hostile)
    out = tmp_path / "out"
    grader = str(Path(sys.executable).parent / "grader")
    command = [grader, "grade", str(hostile), str(honest), "-a", spec.id, "--budget", "smoke"]
    done = subprocess.run(
        [*command, "--out", str(out), "-j", "1"], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout + done.stderr
    attacked = json.loads((out / "unwrapped" / "result.json").read_text())
    flags = [(f["check"], f["kind"]) for f in attacked["flags"]]
    assert flags == [("model.accuracy", "accuracy_above_reference")]
    # Unwrapped, the loops are no longer recorded either: only the measurement gives it away.
    assert attacked["fits"] == []
    solo = json.loads((out / "full_marks" / "result.json").read_text())
    assert solo["score"] == spec.max_score and solo["flags"] == []
    accuracy = next(c for c in solo["checks"] if c["id"] == "model.accuracy")["details"]
    assert accuracy["accuracy"] == accuracy["reference_accuracy"]
