"""The judge's side of PyTorch grading, on artefact folders written here: the ONNX allow-list,
evaluation, the description checked against the graph, malformed records, and each check kind.

Hostile inputs are what a kernel can write: forged descriptions, graphs with operators that
allocate or loop at will, external-data references, custom domains, oversized files."""

from __future__ import annotations

import io
import json
import time
import typing as t
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402
from torch import nn  # noqa: E402

from grader.checks.base import CheckContext, run_check  # noqa: E402
from grader.data.cifar10 import CIFAR10_CLASSES  # noqa: E402
from grader.data.sets import Dataset, HeldOut  # noqa: E402
from grader.framework.pytorch.judge import models as judge_models  # noqa: E402
from grader.framework.pytorch.judge.artefacts import read_torch_artefacts  # noqa: E402
from grader.framework.pytorch.judge.models import (  # noqa: E402
    OnnxClassifier,
    OnnxRefused,
    check_graph,
    description_matches,
)
from grader.framework.pytorch.kernel import layout  # noqa: E402
from grader.framework.pytorch.kernel.describe import describe  # noqa: E402
from grader.framework.pytorch.kernel.export import export_onnx  # noqa: E402
from grader.results import CheckResult  # noqa: E402
from grader.rubric import Assignment  # noqa: E402
from grader.rubric.load import load_assignment  # noqa: E402
from reference import cifar10_cnn_torch  # noqa: E402

SHAPE = (3, 32, 32)


def onnx_bytes(module: nn.Module, shape: tuple[int, ...] = SHAPE) -> bytes:
    buffer = io.BytesIO()
    export_onnx(module, shape, buffer)
    return buffer.getvalue()


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))


def write_role(
    folder: Path, role: str, module: nn.Module, shape: tuple[int, ...] = SHAPE, **override: t.Any
) -> None:
    root = folder / layout.FOLDER
    root.mkdir(parents=True, exist_ok=True)
    onnx_name, json_name = layout.model_files(role)
    (root / onnx_name).write_bytes(onnx_bytes(module, shape))
    record = {"role": role, "variable": "model", "optimizers": [0], **describe(module, shape)}
    record.update(override)
    (root / json_name).write_text(json.dumps(record))


def write_cell(folder: Path, n: int, cell: str, **content: t.Any) -> None:
    root = folder / layout.FOLDER
    root.mkdir(parents=True, exist_ok=True)
    (root / layout.cell_file(n)).write_text(json.dumps({"cell": cell, **content}))


def a_pass(
    index: int, split: str, transform: list[dict[str, t.Any]], **fields: t.Any
) -> dict[str, t.Any]:
    return {
        "index": index,
        "split": split,
        "dataset": "CIFAR10",
        "transform": transform,
        "batch_size": 64,
        "dataset_size": 50000 if split == "train" else 5000,
        "batches": 4,
        "samples": 256,
        "skipped": False,
        "steps": {},
        "loss_sum": 0.0,
        "loss_count": 0,
        "losses": [],
        "grad": split == "train",
        **fields,
    }


AUGMENTED: list[dict[str, t.Any]] = [
    {"type": "RandomHorizontalFlip", "p": 0.5},
    {"type": "RandomCrop", "size": [32, 32], "padding": 4},
    {"type": "ToTensor"},
    {"type": "Normalize", "mean": [0, 0, 0], "std": [1, 1, 1]},
]
PLAIN: list[dict[str, t.Any]] = [
    {"type": "ToTensor"},
    {"type": "Normalize", "mean": [0, 0, 0], "std": [1, 1, 1]},
]
SGD = {"key": 0, "class": "SGD", "hyper": {"lr": 0.001, "momentum": 0.9}, "passes": 1, "skipped": 0}


@pytest.fixture(scope="module")
def spec() -> Assignment:
    return load_assignment("cifar10_cnn_torch")


def context(folder: Path, spec: Assignment) -> CheckContext:
    rng = np.random.default_rng(1)
    truth = Dataset(
        "cifar10",
        rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        np.zeros((20, 1), np.uint8),
        rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        np.zeros((20, 1), np.uint8),
        "synthetic",
        "test data",
        CIFAR10_CLASSES,
    )
    held = HeldOut(rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), np.arange(40) % 10)
    arts = read_torch_artefacts(folder, spec)
    return CheckContext(
        arts,
        spec,
        truth,
        held,
        spec.plan("smoke"),
        {"model.accuracy": 0.1, "model_dropout.accuracy": 0.1},
    )


def judged(folder: Path, spec: Assignment, check_id: str) -> CheckResult:
    check = next(c for c in spec.checks if c.id == check_id)
    return run_check(check, context(folder, spec))


# --- the ONNX allow-list -----------------------------------------------------------------------


def test_a_plain_export_is_accepted_and_predicts_as_torch_does() -> None:
    model = cifar10_cnn_torch.build_net().eval()
    data = onnx_bytes(model)
    check_graph(data, SHAPE)
    classifier = OnnxClassifier(data, input_shape=SHAPE, mean=[0.5] * 3, std=[0.25] * 3)
    images = np.random.default_rng(0).random((5, 32, 32, 3), dtype=np.float32)
    expected = model(torch.from_numpy((images.transpose(0, 3, 1, 2) - 0.5) / 0.25).contiguous())
    assert np.allclose(classifier.predict(images), expected.detach().numpy(), atol=1e-4)
    assert classifier.input_shape == (None, 32, 32, 3)


def _model_with(mutate: t.Callable[[t.Any], None]) -> bytes:
    model = onnx.load_model_from_string(onnx_bytes(tiny()))
    mutate(model)
    return model.SerializeToString()


def _looping_graph(trips: int) -> bytes:
    """Scores computed after ``trips`` iterations of a Loop: as slow as its author likes."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v", "one"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 10]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1, 10]),
        ],
        [helper.make_tensor("one", TensorProto.FLOAT, [1, 10], [1.0] * 10)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("Loop", ["trips", "cond", "start"], ["looped"], body=body),
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["scores"]),
            helper.make_node("Add", ["scores", "looped"], ["output"]),
        ],
        "looping",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *SHAPE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])],
        [
            helper.make_tensor("trips", TensorProto.INT64, [], [trips]),
            helper.make_tensor("cond", TensorProto.BOOL, [], [True]),
            helper.make_tensor("start", TensorProto.FLOAT, [1, 10], [0.0] * 10),
            helper.make_tensor("w", TensorProto.FLOAT, [3072, 10], [0.0] * 30720),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _custom_domain(model: t.Any) -> None:
    model.graph.node[-1].domain = "com.example.evil"
    model.opset_import.append(helper.make_opsetid("com.example.evil", 1))


def _allocating(model: t.Any) -> None:
    model.graph.node[-1].op_type = "ConstantOfShape"


def _external(model: t.Any) -> None:
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="/etc/shadow")


def _function(model: t.Any) -> None:
    model.functions.append(
        helper.make_function(
            "evil",
            "f",
            ["x"],
            ["y"],
            [helper.make_node("Identity", ["x"], ["y"])],
            [helper.make_opsetid("", 17)],
        )
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (lambda: _looping_graph(10**9), "operator 'Loop' is not allowed"),
        (lambda: _model_with(_custom_domain), "domain 'com.example.evil'"),
        (lambda: _model_with(_allocating), "operator 'ConstantOfShape' is not allowed"),
        (lambda: _model_with(_external), "refers to an external file"),
        (lambda: _model_with(_function), "defines functions"),
        (
            lambda: onnx_bytes(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), (1, 28, 28)),
            "expected (batch, 3, 32, 32)",
        ),
        (lambda: b"\x08\x07" + b"\xff" * 100, "not an ONNX model"),
    ],
    ids=[
        "loop",
        "custom-domain",
        "allocation",
        "external-data",
        "function",
        "input-shape",
        "garbage",
    ],
)
def test_hostile_graphs_are_refused_before_any_runtime_sees_them(
    data: t.Callable[[], bytes], reason: str
) -> None:
    started = time.monotonic()
    with pytest.raises(OnnxRefused, match=_escape(reason)):
        check_graph(data(), SHAPE)
    assert time.monotonic() - started < 5


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_an_oversized_file_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(judge_models, "MAX_ONNX_BYTES", 1000)
    with pytest.raises(OnnxRefused, match="larger than 1,000 bytes"):
        check_graph(onnx_bytes(tiny()), SHAPE)


def test_a_refused_graph_fails_the_accuracy_check_with_the_reason(
    tmp_path: Path, spec: Assignment
) -> None:
    write_role(tmp_path, "model", tiny())
    (tmp_path / "torch" / "model-model.onnx").write_bytes(_looping_graph(10**9))
    result = judged(tmp_path, spec, "model.accuracy")
    assert result.status == "fail"
    assert "operator 'Loop' is not allowed" in result.message


# --- the description against the graph ---------------------------------------------------------


def test_a_forged_description_is_not_believed(tmp_path: Path, spec: Assignment) -> None:
    """The kernel writes the reference's description beside a one-layer model's graph: the
    comparison is made on the graph, and fails."""
    forged = describe(cifar10_cnn_torch.build_net(), SHAPE)
    write_role(tmp_path, "model", tiny(), **forged)
    graph = check_graph((tmp_path / "torch" / "model-model.onnx").read_bytes(), SHAPE)
    assert not description_matches(forged["ops"], graph)
    result = judged(tmp_path, spec, "model.architecture")
    assert result.status == "fail"
    assert "did not match" in result.message
    assert result.details["ops_source"] == "onnx"
    assert result.details["parameters"]["actual"]["trainable"] == 3072 * 10 + 10


def test_an_honest_description_is_compared_operation_by_operation(
    tmp_path: Path, spec: Assignment
) -> None:
    write_role(tmp_path, "model", cifar10_cnn_torch.build_net())
    passed = judged(tmp_path, spec, "model.architecture")
    assert passed.status == "pass", passed.message
    assert passed.details["ops_source"] == "fx"
    assert len(passed.details["comparison"]) == 16

    class Misplaced(cifar10_cnn_torch.Net):
        def forward(self, x: t.Any) -> t.Any:
            x = self.pool(nn.functional.relu(self.conv1(x)))
            x = self.pool(nn.functional.relu(self.conv2(x)))
            x = self.pool(nn.functional.relu(self.conv3(x)))
            x = x.view(-1, 1024)
            x = nn.functional.relu(self.fc1(x))
            x = self.do1(x)  # after fc1, not before it
            x = self.do2(x)
            x = nn.functional.relu(self.fc2(x))
            x = self.do3(x)
            return nn.functional.log_softmax(self.fc3(x), dim=1)

    other = tmp_path / "other"
    write_role(other, "model_dropout", Misplaced(dropout=(0.2, 0.2, 0.1)))
    failed = judged(other, spec, "model_dropout.architecture")
    assert failed.status == "fail"
    ops = [row["op"] for row in failed.details["comparison"]]
    assert ops.count("missing") == 1 and ops.count("extra") == 1, ops
    assert "missing layer 11: Dropout(p=0.2)" in failed.message


def test_an_untraced_forward_is_compared_from_the_graph(tmp_path: Path, spec: Assignment) -> None:
    write_role(tmp_path, "model", cifar10_cnn_torch.build_net(), ops=None, ops_source="none")
    result = judged(tmp_path, spec, "model.architecture")
    assert result.status == "pass", result.message
    assert "forward could not be traced" in result.message


# --- malformed records -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "[1, 2, 3]",
        '{"cell": "a", "passes": [{"index": "zero"}]}',
        '{"cell": "a\\u001b[31m", "passes": []}',
        '{"cell": "a", "metrics": [{"function": "f1_score", "y_true": [1.5], "y_pred": [1]}]}',
        '{"cell": "a", "passes": "' + "x" * 100 + '"}',
        '{"cell": "a", "metrics": [{"function": "f1_score", "y_true": [1], "y_pred": [1], '
        '"model": "0"}]}',
        '{"cell": "a", "metrics": [{"function": "f1_score", "y_true": [1], "y_pred": [1], '
        '"model": 0, "attributed": "\\u001b[31mpredictions"}]}',
        '{"cell": "a", "passes": [{"index": 0, "split": "train", "dataset": "D", '
        '"batches": 1, "samples": 1, "modules": [true]}]}',
    ],
    ids=[
        "not-an-object",
        "bad-index",
        "control-characters",
        "float-labels",
        "wrong-type",
        "metric-model-as-text",
        "metric-attribution-unknown",
        "pass-module-not-a-key",
    ],
)
def test_malformed_cell_records_are_ignored_with_a_note(
    tmp_path: Path, spec: Assignment, content: str
) -> None:
    root = tmp_path / "torch"
    root.mkdir()
    (root / "cell-1.json").write_text(content)
    arts = read_torch_artefacts(tmp_path, spec)
    assert arts.passes == [] and arts.metric_calls == []
    assert len(arts.notes) == 1 and "cell-1.json was ignored" in arts.notes[0]


def test_an_oversized_record_is_not_read(
    tmp_path: Path, spec: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.framework.pytorch.judge import artefacts as judge_artefacts

    monkeypatch.setattr(judge_artefacts, "MAX_JSON_BYTES", 100)
    write_cell(tmp_path, 1, "a", passes=[a_pass(0, "train", AUGMENTED)] * 3)
    arts = read_torch_artefacts(tmp_path, spec)
    assert arts.passes == [] and "larger than 100 bytes" in arts.notes[0]


@pytest.mark.parametrize(
    "override",
    [{"module": True}, {"module": -1}, {"taken": "the Net\u001b[2J object"}, {"module": "0"}],
    ids=["module-bool", "module-negative", "taken-control-characters", "module-text"],
)
def test_a_malformed_role_record_is_ignored_and_its_checks_fail(
    tmp_path: Path, spec: Assignment, override: dict[str, t.Any]
) -> None:
    write_module_key(tmp_path, "model", 0)
    path = tmp_path / "torch" / layout.model_files("model")[1]
    path.write_text(json.dumps({**json.loads(path.read_text()), **override}))
    write_cell(tmp_path, 7, "evaluate", metrics=notebook_metrics(Y_TRUE, Y_PRED))
    arts = read_torch_artefacts(tmp_path, spec)
    assert arts.descriptions == {} and "model-model.json was ignored" in arts.notes[0]
    result = judged(tmp_path, spec, "model.metrics")
    assert result.status == "fail" and result.message == "no model model found in the notebook"


def test_a_role_the_kernel_could_not_export_fails_with_why(
    tmp_path: Path, spec: Assignment
) -> None:
    root = tmp_path / "torch"
    root.mkdir()
    (root / "model-model.json").write_text(
        json.dumps({"role": "model", "error": "no nn.Module in model"})
    )
    result = judged(tmp_path, spec, "model.architecture")
    assert result.status == "fail" and "no nn.Module in model" in result.message


# --- the checks --------------------------------------------------------------------------------


def metric(
    function: str,
    y_true: list[int],
    y_pred: list[int],
    result: t.Any,
    model: int | None = 0,
    **options: t.Any,
) -> dict[str, t.Any]:
    return {
        "model": model,
        "attributed": "predictions",
        "function": function,
        "options": {"average": "binary", "labels": None, "normalize": None, **options},
        "weighted_samples": False,
        "y_true": y_true,
        "y_pred": y_pred,
        "result": result,
    }


def notebook_metrics(
    y_true: list[int], y_pred: list[int], average: str = "weighted"
) -> list[dict[str, t.Any]]:
    from sklearn import metrics

    calls = [
        metric(
            "accuracy_score", y_true, y_pred, metrics.accuracy_score(y_true, y_pred), normalize=True
        ),
        metric(
            "confusion_matrix", y_true, y_pred, metrics.confusion_matrix(y_true, y_pred).tolist()
        ),
    ]
    for name in ("precision_score", "recall_score", "f1_score"):
        value = getattr(metrics, name)(y_true, y_pred, average=average, zero_division=0)
        calls.append(metric(name, y_true, y_pred, float(value), average=average))
    return calls


Y_TRUE = [0, 1, 2, 2, 3, 3, 3, 4, 5, 9, 9, 9]
Y_PRED = [0, 1, 1, 2, 3, 3, 4, 4, 5, 9, 8, 9]


def write_module_key(folder: Path, role: str, key: int) -> None:
    """A role's record as far as the metrics check reads it: the key of its module object."""
    root = folder / layout.FOLDER
    root.mkdir(parents=True, exist_ok=True)
    record = {"role": role, "variable": "model", "module": key}
    (root / layout.model_files(role)[1]).write_text(json.dumps(record))


def test_metrics_computed_as_asked_pass(tmp_path: Path, spec: Assignment) -> None:
    write_module_key(tmp_path, "model", 0)
    write_cell(tmp_path, 7, "evaluate", metrics=notebook_metrics(Y_TRUE, Y_PRED))
    result = judged(tmp_path, spec, "model.metrics")
    assert result.status == "pass", result.message
    assert result.details["confusion"]["rows"] == [0, 1, 2, 3, 4, 5, 9]


def test_macro_where_weighted_was_asked_is_named(tmp_path: Path, spec: Assignment) -> None:
    write_module_key(tmp_path, "model", 0)
    write_cell(tmp_path, 7, "evaluate", metrics=notebook_metrics(Y_TRUE, Y_PRED, "macro"))
    result = judged(tmp_path, spec, "model.metrics")
    assert result.status == "fail"
    assert (
        "f1_score was computed with average='macro'; the exercise asks for average='weighted'"
        in result.message
    )
    assert "precision_score" in result.message and "recall_score" in result.message


def test_a_value_the_grader_does_not_compute_is_reported(tmp_path: Path, spec: Assignment) -> None:
    write_module_key(tmp_path, "model", 0)
    calls = notebook_metrics(Y_TRUE, Y_PRED)
    calls[4]["result"] = 0.99  # f1 as a patched scikit-learn (or a forged record) would say
    write_cell(tmp_path, 7, "evaluate", metrics=calls)
    result = judged(tmp_path, spec, "model.metrics")
    assert result.status == "fail"
    assert (
        "the notebook's f1_score is 0.9900, but on the same labels and predictions"
        in result.message
    )


def test_metrics_count_for_the_model_they_were_computed_on_in_any_cell(
    tmp_path: Path, spec: Assignment
) -> None:
    """Calls are the role's when given its module's predictions, whichever cell made them; the
    dropout variant's calls never count for the first model."""
    write_module_key(tmp_path, "model", 0)
    calls = notebook_metrics(Y_TRUE, Y_PRED)
    calls[2] = notebook_metrics(Y_TRUE, Y_TRUE)[2]  # precision on other predictions
    write_cell(tmp_path, 7, "evaluate", metrics=calls[:4])
    other = [{**c, "model": 1} for c in notebook_metrics(Y_TRUE, Y_PRED)[4:]]
    write_cell(tmp_path, 9, "evaluate", metrics=other)
    result = judged(tmp_path, spec, "model.metrics")
    assert result.status == "fail"
    assert "never computed f1_score on the model model's predictions" in result.message
    assert "different labels or predictions" in result.message
    later = tmp_path / "later"
    write_module_key(later, "model", 0)
    write_cell(later, 7, "results", metrics=notebook_metrics(Y_TRUE, Y_PRED)[:2])
    write_cell(later, 12, "a-new-cell", metrics=notebook_metrics(Y_TRUE, Y_PRED)[2:])
    assert judged(later, spec, "model.metrics").status == "pass"


def test_augmentation_is_judged_from_the_pipelines_the_loaders_applied(
    tmp_path: Path, spec: Assignment
) -> None:
    write_cell(
        tmp_path,
        3,
        "train",
        passes=[
            a_pass(0, "train", PLAIN),  # a look at a batch: no step, not judged
            a_pass(1, "train", AUGMENTED, steps={"0": 4}),
            a_pass(2, "test", PLAIN),
        ],
        optimizers=[SGD],
    )
    assert judged(tmp_path, spec, "data.augmentation").status == "pass"
    no_flip = tmp_path / "no-flip"
    write_cell(
        no_flip,
        3,
        "train",
        passes=[
            a_pass(0, "train", AUGMENTED[1:], steps={"0": 4}),
            a_pass(1, "test", [{"type": "RandomCrop", "size": [32, 32], "padding": 2}, *PLAIN]),
        ],
    )
    result = judged(no_flip, spec, "data.augmentation")
    assert result.status == "fail"
    assert "the training data is not transformed with RandomHorizontalFlip" in result.message
    assert "the test data is transformed with RandomCrop" in result.message
    wrong_padding = tmp_path / "padding"
    crop = {"type": "RandomCrop", "size": [32, 32], "padding": 2}
    write_cell(
        wrong_padding,
        3,
        "train",
        passes=[
            a_pass(0, "train", [AUGMENTED[0], crop, *PLAIN], steps={"0": 1}),
            a_pass(1, "test", PLAIN),
        ],
    )
    result = judged(wrong_padding, spec, "data.augmentation")
    assert "RandomCrop has padding=2 (expected [4])" in result.message


def test_training_is_judged_from_the_roles_optimizer(tmp_path: Path, spec: Assignment) -> None:
    write_role(tmp_path, "model", cifar10_cnn_torch.build_net())
    train = a_pass(
        1,
        "train",
        AUGMENTED,
        steps={"0": 4},
        losses=["CrossEntropyLoss", "cross_entropy"],
        loss_sum=9.2,
        loss_count=4,
    )
    write_cell(tmp_path, 3, "train", passes=[train], optimizers=[SGD])
    result = judged(tmp_path, spec, "model.training")
    assert result.status == "pass", result.message
    arts = read_torch_artefacts(tmp_path, spec)
    (fit,) = arts.fit_records()
    assert (fit.model, fit.epochs_run, fit.samples_used, fit.history) == (
        "model",
        1,
        256,
        {"loss": [2.3]},
    )
    adam = tmp_path / "adam"
    write_role(adam, "model", cifar10_cnn_torch.build_net())
    write_cell(
        adam,
        3,
        "train",
        passes=[train],
        optimizers=[{**SGD, "class": "Adam", "hyper": {"lr": 0.01}}],
    )
    result = judged(adam, spec, "model.training")
    assert result.status == "fail"
    assert (
        "the optimizer is Adam, expected SGD" in result.message and "lr is 0.01" in result.message
    )


def test_an_optimizer_naming_the_roles_module_is_the_roles(
    tmp_path: Path, spec: Assignment
) -> None:
    """The optimizer record names the module object it trained: that ties it to the role even
    where the role's record lists no optimizer; an optimizer of another module does not."""
    write_module_key(tmp_path, "model", 3)
    train = a_pass(1, "train", AUGMENTED, steps={"0": 4, "1": 4}, losses=["CrossEntropyLoss"])
    adam = {**SGD, "key": 1, "class": "Adam", "module": 4}
    write_cell(tmp_path, 3, "train", passes=[train], optimizers=[{**SGD, "module": 3}, adam])
    result = judged(tmp_path, spec, "model.training")
    assert result.status == "pass", result.message
    alone = tmp_path / "alone"
    write_module_key(alone, "model", 3)
    write_cell(alone, 3, "train", passes=[train], optimizers=[adam])
    assert judged(alone, spec, "model.training").message == (
        "the model model was never trained by an optimizer"
    )


def test_accuracy_uses_the_notebooks_test_normalisation(tmp_path: Path, spec: Assignment) -> None:
    write_role(tmp_path, "model", tiny())
    write_cell(
        tmp_path,
        3,
        "train",
        passes=[
            a_pass(
                0,
                "test",
                [{"type": "ToTensor"}, {"type": "Normalize", "mean": [0.5] * 3, "std": [0.2] * 3}],
            )
        ],
    )
    arts = read_torch_artefacts(tmp_path, spec)
    assert arts.test_normalisation() == ((0.5, 0.5, 0.5), (0.2, 0.2, 0.2))
    result = judged(tmp_path, spec, "model.accuracy")
    assert result.status in ("pass", "fail", "not_judged")
    assert result.details["evaluated_images"] == 40


def test_a_gradescope_bundle_of_a_torch_assignment_installs_the_torch_extra(tmp_path: Path) -> None:
    import tomllib
    import zipfile

    from grader.export.gradescope import build_bundle

    def dependencies(assignment: str) -> list[str]:
        out = build_bundle(assignment, out=tmp_path / f"{assignment}.zip", budget="smoke")
        with zipfile.ZipFile(out) as zf:
            project = tomllib.loads(zf.read("grader-src/pyproject.toml").decode())
        return list(project["project"]["dependencies"])

    torch_deps = dependencies("mnist_cnn_torch")
    assert any(d.startswith("torch==2.14.1") and "x86_64" in d for d in torch_deps)
    assert any(d.startswith("onnxruntime==") for d in torch_deps)
    assert not any("extra ==" in d for d in torch_deps)
    keras_deps = dependencies("mnist_transfer")
    assert not any(d.startswith(("torch", "onnx")) for d in keras_deps)


def test_a_crash_after_the_capture_cell_keeps_the_captured_model(
    tmp_path: Path, spec: Assignment
) -> None:
    """A role is exported when its ``[torch.capture]`` cell ends and taken out of the kernel's
    reach then: a kernel that dies later (no final cell) still has that model judged."""
    from grader.judge.evidence import EvidenceCollector

    kernel, evidence = tmp_path / "kernel", tmp_path / "evidence"
    collector = EvidenceCollector(
        kernel, evidence, spec.roles, max_file_bytes=2**26, max_total_bytes=2**28
    )
    passes = [a_pass(0, "train", AUGMENTED, steps={"0": 4}), a_pass(1, "test", PLAIN)]
    write_cell(kernel, 1, "train", passes=passes)
    write_role(kernel, "model", cifar10_cnn_torch.build_net())
    collector.after_cell(5)
    # The kernel then rewrites the model and dies before the grader's last cell.
    write_role(kernel, "model", tiny())
    collector.at_end()
    assert collector.restored_from is None  # nothing of Keras' checkpoints is involved
    result = judged(evidence, spec, "model.architecture")
    assert result.status == "pass", result.message
    assert judged(evidence, spec, "data.augmentation").status == "pass"
