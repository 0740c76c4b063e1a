"""What reports show: student and instructor views, layer diffs, curves, confusion, cell hints."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from rich.console import Console

from grader.report.facts import (
    HIDDEN_MESSAGE,
    cell_hint,
    confusions,
    fit_curves,
    for_view,
    layer_diffs,
    warning_notices,
)
from grader.report.render import render_html, render_markdown
from grader.report.terminal import print_report
from grader.results import CellResult, CheckResult, FitRecord, GradeResult
from tests.report.test_render import _assert_well_formed, _failing

SECRET = "reference threshold 0.6123 on hidden images"


def _layer(name: str, units: int, trainable: bool = True) -> dict[str, object]:
    return {
        "name": name,
        "type": "Dense",
        "config": {"units": str(units), "activation": "relu"},
        "output_shape": f"(None, {units})",
        "params": units * 11,
        "trainable": trainable,
    }


COMPARISON = [
    {
        "op": "same",
        "position": 1,
        "expected": _layer("fc1", 10, trainable=False),
        "actual": _layer("dense", 10),
        "differing": [],
        "trainable_differs": True,
    },
    {
        "op": "changed",
        "position": 2,
        "expected": _layer("fc2", 128),
        "actual": _layer("dense_1", 64),
        "differing": ["units", "output_shape", "params"],
        "trainable_differs": False,
    },
    {
        "op": "extra",
        "position": 3,
        "expected": None,
        "actual": _layer("dense_2", 7),
        "differing": [],
        "trainable_differs": False,
    },
    {
        "op": "missing",
        "position": 3,
        "expected": _layer("out", 10),
        "actual": None,
        "differing": [],
        "trainable_differs": False,
    },
]
CONFUSION = {
    "rows": [0, 1],
    "columns": [0, 1, 7],
    "names": {"0": "dog", "1": "frog", "7": "label 7"},
    "counts": [[8, 1, 1], [3, 7, 0]],
}


def _rich() -> GradeResult:
    """A failing result carrying every kind of evidence, one of its checks hidden."""
    base = _failing()
    checks = [
        CheckResult(
            "transfer.architecture",
            "Transfer layers",
            "fail",
            0.0,
            5.0,
            "2 difference(s)",
            "Use Dense(128).",
            {
                "comparison": COMPARISON,
                "parameters": {
                    "expected": {"trainable": 1408, "non_trainable": 110},
                    "actual": {"trainable": 1295, "non_trainable": 0},
                },
            },
        ),
        CheckResult(
            "transfer.accuracy",
            "Transfer accuracy",
            "fail",
            0.0,
            5.0,
            f"accuracy 75% is below {SECRET}",
            "Train longer.",
            {"confusion": CONFUSION, "threshold": 0.6123},
            hidden=True,
        ),
        *base.checks,
    ]
    reference = [
        FitRecord(
            "base", 10, 3, 50000, 2000, {"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.2, 0.9]}
        )
    ]
    return dataclasses.replace(base, checks=checks, reference_fits=reference)


def test_student_view_shows_hidden_checks_as_status_and_points_only() -> None:
    result = _rich()
    student = for_view(result, "student")
    hidden = student.checks[1]
    assert (hidden.status, hidden.score, hidden.max_score) == ("fail", 0.0, 5.0)
    assert hidden.message == HIDDEN_MESSAGE and hidden.hint == "" and hidden.details == {}
    assert student.checks[0] == result.checks[0]  # visible checks keep their evidence
    assert for_view(result, "instructor") is result
    for text in (render_html(result, "student"), render_markdown(result, "student")):
        assert SECRET not in text and "0.6123" not in text and "Train longer." not in text
        assert "transfer.accuracy" in text and "Student view" in text
        assert "Confusion" in text and "label 7" not in text  # its matrix is evidence too
    for text in (render_html(result, "instructor"), render_markdown(result, "instructor")):
        assert SECRET in text and "Train longer." in text and "hidden from students" in text
        assert "label 7" in text and "Evidence behind each check" in text


def test_student_view_drops_grader_tracebacks() -> None:
    broken = CheckResult(
        "x", "X", "error", 0.0, 1.0, "could not judge", "", {"traceback": "File grader/x.py"}
    )
    result = dataclasses.replace(_failing(), checks=[broken])
    assert for_view(result, "student").checks[0].details == {}
    assert "grader/x.py" in render_html(result, "instructor")
    assert "grader/x.py" not in render_html(result, "student")


def test_layer_diff_counts_and_marks_what_differs() -> None:
    (diff,) = layer_diffs(_rich().checks)
    assert diff.fields == ["units", "activation"]
    assert diff.differences == 3 and diff.trainable_differences == 1
    assert diff.summary == "3 of 4 layer rows differ; 1 trainable flag differs"
    html = render_html(_rich())
    _assert_well_formed(html)
    assert '<mark class="diff">≠ units=64</mark>' in html
    assert '<mark class="diff">≠ yes</mark>' in html  # trainable where the reference freezes
    assert "missing from your model" in html and "extra layer" in html
    assert '<mark class="diff">≠ 1,295</mark>' in html  # trainable parameter count
    markdown = render_markdown(_rich())
    assert "**≠ units=64**" in markdown and "_missing from your model_" in markdown
    assert "| Submitted | **≠ 1,295** | **≠ 0** |" in markdown


def test_curves_pair_each_fit_with_the_reference_fit_of_its_role() -> None:
    curves = fit_curves(_rich())
    assert [c.reference is not None for c in curves] == [True, False]  # no reference transfer fit
    loss = curves[0].panels[0]
    assert loss.metric == "loss" and loss.reference == {
        "loss": [2.0, 1.0, 0.5],
        "val_loss": [2.1, 1.2, 0.9],
    }
    assert loss.y_range == (0.5, 2.3)  # one scale for both charts
    html = render_html(_rich())
    assert "Fit 1 (base), reference: loss per epoch" in html
    assert "no matching fit of the transfer model" in html


def test_confusion_matrix_is_a_table_with_class_names_and_recall() -> None:
    (matrix,) = confusions(_rich().checks)
    assert matrix.recall(0) == pytest.approx(0.8) and matrix.row_total(1) == 10
    html = render_html(_rich())
    assert '<th scope="row">dog</th>' in html and '<th scope="col">label 7</th>' in html
    assert 'class="diag" aria-label="8 correct">8</td>' in html
    assert "80% of 10" in html and "70% of 10" in html
    markdown = render_markdown(_rich())
    assert "| dog | **8** | 1 | 1 | 80% of 10 |" in markdown


@pytest.mark.parametrize(
    ("name", "value", "source", "expected"),
    [
        ("ModuleNotFoundError", "No module named 'keras.utils.np_utils'", "", "to_categorical"),
        ("ImportError", "cannot import name 'np_utils' from 'keras.utils'", "", "np_utils"),
        ("ValueError", "Argument(s) not recognized: {'lr': 0.01}", "", "learning_rate="),
        (
            "ValueError",
            "Shapes (None, 10) and (None, 5) are incompatible",
            "",
            "final Dense(n)",
        ),
        (
            "ValueError",
            "Arguments `target` and `output` must have the same shape. Received: "
            "target.shape=(None, 10), output.shape=(None, 5)",
            "",
            "final Dense(n)",
        ),
        ("AttributeError", "'Sequential' object has no attribute 'predict_classes'", "", "argmax"),
        ("NameError", "name 'trans_model' is not defined", "", "spelling"),
        # Issue 24.5: the errors of old Keras, Python 2 and PyTorch habits, as raised today.
        (
            "ValueError",
            "Unrecognized keyword arguments passed to Conv2D: {'border_mode': 'same'}",
            "",
            "padding=",
        ),
        (
            "TypeError",
            "TensorFlowTrainer.fit() got an unexpected keyword argument 'nb_epoch'",
            "",
            "epochs=",
        ),
        (
            "TypeError",
            "Dense.__init__() missing 1 required positional argument: 'units'",
            "model.add(Dense(output_dim=10))",
            "units=",
        ),
        (
            "ValueError",
            "Computed output size would be zero or negative. Received `inputs shape=(None, 3, "
            "3, 32)`, `kernel shape=(5, 5, 32, 64)`, `dilation_rate=[1 1]`, `strides=(5, 5)`, "
            "`padding=valid`.",
            "model.add(Convolution2D(64, 5, 5))",
            "Conv2D(32, (5, 5))",
        ),
        (
            "AttributeError",
            "'_SingleProcessDataLoaderIter' object has no attribute 'next'",
            "images, labels = iter(train_loader).next()",
            "next(iter(train_loader))",
        ),
        (
            "UnpicklingError",
            "Weights only load failed. This file can still be loaded, to do so you have two "
            "options, do those steps only if you trust the source of the checkpoint.",
            "model = torch.load('model.pt')",
            "state_dict",
        ),
        (
            "Exception",
            "URL fetch failure on https://storage.googleapis.com/tensorflow/keras-applications/"
            "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5: None -- [Errno -2] Name or "
            "service not known",
            "",
            "Nothing is downloaded",
        ),
        ("ZeroDivisionError", "division by zero", "1/0", ""),
    ],
    ids=[
        "np_utils-module",
        "np_utils-import",
        "lr",
        "shape-tf",
        "shape-keras3",
        "predict_classes",
        "name",
        "border_mode",
        "nb_epoch",
        "output_dim",
        "conv2d-strides",
        "iterator-next",
        "torch-load-module",
        "download",
        "none",
    ],
)
def test_known_errors_get_a_hint(name: str, value: str, source: str, expected: str) -> None:
    hint = cell_hint(CellResult(3, "error", 0.1, source, name, value, f"{name}: {value}"))
    assert (expected in hint) if expected else hint == ""


def test_failed_cell_hints_reach_every_rendering() -> None:
    result = _failing()  # cell 3 raises a NameError; cell 4 times out
    assert "spelling" in render_html(result) and "spelling" in render_markdown(result)
    out = io.StringIO()
    print_report(result, "student", Console(file=out, width=120))
    text = out.getvalue()
    assert "Hint:" in text and "spelling" in text and "fewer epochs" in text


def test_input_shape_warning_becomes_one_notice() -> None:
    warning = "UserWarning: Do not pass an `input_shape`/`input_dim` argument to a layer."
    notices = warning_notices([(2, warning), (4, ""), (5, warning)])
    assert len(notices) == 1 and notices[0].startswith("Cell 2 printed a Keras warning.")
    assert "keras.Input(shape=...)" in notices[0]


def test_a_base_the_grader_does_not_serve_becomes_a_notice() -> None:
    printed = (
        "[grader] VGG16(weights='imagenet'): this assignment asks for VGG19; nothing is "
        "downloaded, so VGG16 starts from random weights\n"
    )
    notices = warning_notices([(3, printed)])
    assert len(notices) == 1
    assert notices[0].startswith("Cell 3 asked for ImageNet weights the grader does not have.")
    assert "Nothing is downloaded" in notices[0]


def test_terminal_report_carries_the_same_facts_as_html() -> None:
    out = io.StringIO()
    print_report(_rich(), "instructor", Console(file=out, width=160))
    text = out.getvalue()
    for fact in ("Instructor view", "transfer.architecture", "≠ units=64", "extra layer"):
        assert fact in text, fact
    assert "missing from your model" in text
    assert "expected 1,408 / 110; submitted 1,295 / 0" in text
    assert "[8]" in text and "label 7" in text and "80% of 10" in text
    assert "Reference" in text and "loss 0.5" in text
    student = io.StringIO()
    print_report(_rich(), "student", Console(file=student, width=160))
    assert SECRET not in student.getvalue() and "label 7" not in student.getvalue()


def test_results_round_trip_with_reference_fits_and_hidden_checks() -> None:
    result = _rich()
    text = result.to_json()
    back = GradeResult.from_json(text)
    assert back.to_json() == text and back.checks[1].hidden and back.reference_fits
    old = json.loads(text)
    del old["reference_fits"]  # a result.json from before this field existed
    assert GradeResult.from_json(json.dumps(old)).reference_fits == []


def test_gradescope_output_is_the_student_view() -> None:
    """Students read Gradescope's results.json: a hidden check's message must not reach it."""
    from grader.export.gradescope_results import gradescope_json

    text = gradescope_json(_rich())
    assert SECRET not in text and "Train longer." not in text
    assert HIDDEN_MESSAGE in text  # still listed, with its status and points
