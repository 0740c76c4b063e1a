"""The PyTorch runtime in this process: data served by torchvision's classes, DataLoader caps,
training passes per optimizer, records, metric calls, ONNX export and module descriptions.

Each test installs a :class:`Runtime` and removes it again, as calibration does."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import typing as t
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torch import nn  # noqa: E402

from grader.framework.pytorch.kernel import layout  # noqa: E402
from grader.framework.pytorch.kernel.describe import describe  # noqa: E402
from grader.framework.pytorch.kernel.export import export_onnx  # noqa: E402
from grader.framework.pytorch.kernel.roles import capture_remaining, capture_role  # noqa: E402
from grader.framework.pytorch.kernel.runtime import Runtime  # noqa: E402
from reference import cifar10_cnn_torch, mnist_cnn_torch  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def write_data(path: Path, *, grey: bool = False, n_train: int = 600, n_test: int = 300) -> Path:
    rng = np.random.default_rng(0)
    shape = (28, 28) if grey else (32, 32, 3)

    def labels(n: int) -> np.ndarray:
        return (np.arange(n) % 10).astype(np.uint8)

    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        y_train=labels(n_train) if grey else labels(n_train).reshape(-1, 1),
        x_test=rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        y_test=labels(n_test) if grey else labels(n_test).reshape(-1, 1),
    )
    return path


@pytest.fixture
def runtime(tmp_path: Path) -> t.Iterator[Runtime]:
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir()
    rt = Runtime(
        {
            "seed": 3,
            "dataset": "cifar10",
            "data_path": str(write_data(tmp_path / "data.npz")),
            "data_note": "test data",
            "budget": {
                "name": "smoke",
                "max_epochs": 2,
                "max_train_samples": 150,
                "max_eval_samples": 70,
            },
            "artefacts": str(artefacts),
            "roles": {"model": ["model", "net"]},
            "torch": {"input_shape": [3, 32, 32], "cell_ids": ["a", "b", "c"]},
        }
    )
    rt.install()
    try:
        yield rt
    finally:
        rt.uninstall()


def loaders(root: Path, *, augment: bool = True) -> tuple[t.Any, t.Any]:
    from torchvision import datasets, transforms

    steps = [transforms.RandomHorizontalFlip(), transforms.RandomCrop(32, padding=4)]
    train = transforms.Compose([*(steps if augment else []), transforms.ToTensor()])
    test = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.25] * 3)])
    trainset = datasets.CIFAR10(root, train=True, download=True, transform=train)
    testset = datasets.CIFAR10(str(root), train=False, download=True, transform=test)
    return (
        torch.utils.data.DataLoader(trainset, batch_size=32, shuffle=True),
        torch.utils.data.DataLoader(testset, batch_size=32, shuffle=False),
    )


def train_pass(model: nn.Module, optimizer: t.Any, loader: t.Any) -> int:
    seen = 0
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        seen += len(y)
    return seen


def small_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))


def test_torchvision_serves_the_graders_arrays_from_any_root(
    runtime: Runtime, tmp_path: Path
) -> None:
    from torchvision import datasets, transforms

    root = tmp_path / "no" / "such" / "root"
    trainset = datasets.CIFAR10(root, train=True, download=True, transform=transforms.ToTensor())
    testset = datasets.CIFAR10(root, train=False, download=True)
    data = runtime.arrays()
    assert len(trainset) == 600 and len(testset) == 300
    image, label = trainset[7]
    # ToTensor on a PIL image, as torchvision's own class gives it: channels first, in [0, 1].
    assert image.shape == (3, 32, 32)
    assert np.allclose(image.numpy().transpose(1, 2, 0) * 255, data["x_train"][7], atol=1e-3)
    assert label == int(data["y_train"][7, 0])
    pil, _ = testset[3]
    assert type(pil).__name__.endswith("Image") and pil.size == (32, 32)
    assert np.array_equal(np.asarray(pil), data["x_test"][3])
    assert not (tmp_path / "no").exists()  # nothing downloaded, nothing written
    assert datasets.CIFAR10.__grader_original__ in type(trainset).__mro__
    with pytest.raises(RuntimeError, match="not available in this assignment"):
        datasets.MNIST(root, download=True)


def test_mnist_is_served_as_torchvision_serves_it(tmp_path: Path) -> None:
    from torchvision import datasets, transforms

    rt = Runtime(
        {
            "dataset": "mnist",
            "data_path": str(write_data(tmp_path / "d.npz", grey=True)),
            "budget": {"name": "full"},
            "torch": {"input_shape": [1, 28, 28], "quiet": True},
        }
    )
    rt.install()
    try:
        transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
        )
        train = datasets.MNIST(root="./data", train=True, transform=transform, download=True)
        assert train.data.dtype == torch.uint8 and tuple(train.data.shape) == (600, 28, 28)
        assert train.targets.dtype == torch.int64
        image, label = train[5]
        assert (
            tuple(image.shape) == (1, 28, 28)
            and -1 <= float(image.min()) <= float(image.max()) <= 1
        )
        assert label == 5
    finally:
        rt.uninstall()


def test_each_pass_is_capped_and_len_says_so(runtime: Runtime, tmp_path: Path) -> None:
    trainloader, testloader = loaders(tmp_path)
    assert len(trainloader) == 5  # ceil(150 / 32), of 19
    assert len(testloader) == 3  # ceil(70 / 32), of 10
    batches = [len(y) for _, y in trainloader]
    assert batches == [32, 32, 32, 32, 22]  # the last batch cut to 150 samples exactly
    assert sum(len(y) for _, y in testloader) == 70
    peek = next(iter(trainloader))
    assert len(peek[1]) == 32


def test_a_model_gets_max_epochs_training_passes_and_a_new_optimizer_its_own(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trainloader, testloader = loaders(tmp_path)
    next(iter(trainloader))  # a look at one batch is not a training pass
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    seen = [train_pass(model, optimizer, trainloader) for _ in range(4)]
    assert seen == [150, 150, 0, 0]
    # Evaluation passes are never skipped.
    assert [sum(len(y) for _, y in testloader) for _ in range(3)] == [70, 70, 70]
    # A new loader over the same data does not reset the count.
    again = torch.utils.data.DataLoader(trainloader.dataset, batch_size=50)
    assert train_pass(model, optimizer, again) == 0
    second = small_model()
    other = torch.optim.Adam(second.parameters())
    assert [train_pass(second, other, trainloader) for _ in range(3)] == [150, 150, 0]
    out = capsys.readouterr().out
    assert "capped at 150 samples per pass" in out
    assert "the SGD optimizer had its 2 training pass(es)" in out
    assert "the Adam optimizer had its 2 training pass(es)" in out
    records = {r["key"]: r for r in runtime.optimizers.as_records()}
    assert records[0]["passes"] == 2 and records[0]["skipped"] == 3
    assert records[1]["passes"] == 2 and records[1]["skipped"] == 1
    assert runtime.optimizers.of_module(model) == [0] and runtime.optimizers.of_module(second) == [
        1
    ]


def test_cell_records_are_written_once_with_what_the_cell_did(
    runtime: Runtime, tmp_path: Path
) -> None:
    from sklearn.metrics import f1_score

    trainloader, testloader = loaders(tmp_path)
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    train_pass(model, optimizer, trainloader)
    runtime.flush(1, "a")
    with torch.no_grad():
        for _, _ in testloader:
            pass
    value = f1_score([0, 1, 2, 2], [0, 1, 1, 2], average="macro")
    runtime.flush(2, "b")
    folder = Path(t.cast(Path, runtime.artefacts)) / layout.FOLDER
    first = json.loads((folder / "cell-1.json").read_text())
    second = json.loads((folder / "cell-2.json").read_text())
    (train,) = first["passes"]
    assert train["split"] == "train" and train["samples"] == 150 and train["steps"] == {"0": 5}
    assert train["losses"] == ["cross_entropy"] and train["loss_count"] == 5
    assert [e["type"] for e in train["transform"]] == [
        "RandomHorizontalFlip",
        "RandomCrop",
        "ToTensor",
    ]
    assert train["transform"][1]["padding"] == 4 and train["transform"][1]["size"] == [32, 32]
    assert first["optimizers"][0]["hyper"]["momentum"] == 0.9
    (test,) = second["passes"]
    assert test["split"] == "test" and test["steps"] == {} and test["grad"] is False
    (call,) = second["metrics"]
    assert call["function"] == "f1_score" and call["options"]["average"] == "macro"
    assert call["y_true"] == [0, 1, 2, 2] and call["result"] == pytest.approx(value)
    runtime.flush(2, "b")  # the same name again: never rewritten
    assert json.loads((folder / "cell-2.json").read_text()) == second


def test_a_role_is_exported_and_described(runtime: Runtime) -> None:
    from grader.framework.pytorch.judge.models import check_graph, description_matches, graph_ops

    model = cifar10_cnn_torch.build_net_dropout()
    capture_role(runtime, "model", {"net": model, "model": "not a module"}, "cell a")
    folder = Path(t.cast(Path, runtime.artefacts)) / layout.FOLDER
    record = json.loads((folder / "model-model.json").read_text())
    assert record["variable"] == "net" and record["class"] == "Net" and record["ops_source"] == "fx"
    types = [op["type"] for op in record["ops"]]
    assert types[:3] == ["Conv2d", "ReLU", "MaxPool2d"]
    assert types[9:] == [
        "Flatten",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "LogSoftmax",
    ]
    assert record["ops"][10]["config"] == {"p": 0.2}
    assert record["ops"][-1]["config"] == {"dim": 1}
    assert record["parameters"]["trainable"] == sum(p.numel() for p in model.parameters())
    graph = check_graph((folder / "model-model.onnx").read_bytes(), (3, 32, 32))
    assert description_matches(record["ops"], graph)
    assert "Dropout" not in [op["type"] for op in graph_ops(graph)]  # eval-mode export
    assert model.training  # the export left the module's mode as it was


def test_spellings_of_one_operation_are_described_alike() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 13 * 13, 10)

        def forward(self, x: t.Any) -> t.Any:
            x = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
            return self.fc(x.reshape(x.size(0), -1)).log_softmax(-1)

    class Modules(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(676, 10)
            )
            self.out = nn.LogSoftmax(dim=1)

        def forward(self, x: t.Any) -> t.Any:
            return self.out(self.body(x))

    def shape(m: nn.Module) -> list[tuple[t.Any, ...]]:
        return [
            (o["type"], o["config"], o["output_shape"]) for o in describe(m, (1, 28, 28))["ops"]
        ]

    assert shape(Functional()) == shape(Modules())


def test_an_untraceable_forward_has_no_ops_and_the_graph_stands_in() -> None:
    from grader.framework.pytorch.judge.models import check_graph, graph_ops

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(28 * 28, 10)

        def forward(self, x: t.Any) -> t.Any:
            if x.sum() > 0:  # data-dependent control flow defeats torch.fx
                x = x * 2
            return self.fc(x.flatten(1))

    model = Branchy()
    record = describe(model, (1, 28, 28))
    assert record["ops"] is None and record["ops_source"] == "none"
    assert "TraceError" in record["trace_error"]
    buffer = io.BytesIO()
    export_onnx(model, (1, 28, 28), buffer)
    ops = graph_ops(check_graph(buffer.getvalue(), (1, 28, 28)))
    assert [o["type"] for o in ops if o["type"] == "Linear"] == ["Linear"]


def test_uninstall_restores_torch_torchvision_and_sklearn(tmp_path: Path) -> None:
    import sklearn.metrics
    import torchvision.datasets
    from torch.utils.data import DataLoader

    def patched() -> tuple[object, ...]:
        """What the runtime replaces while installed, and determinism's switch."""
        return (
            DataLoader.__iter__,
            DataLoader.__len__,
            torchvision.datasets.CIFAR10,
            torchvision.datasets.MNIST,
            torch.Tensor.backward,
            torch.optim.Optimizer.__init__,
            nn.functional.cross_entropy,
            sklearn.metrics.f1_score,
            torch.are_deterministic_algorithms_enabled(),
        )

    before = patched()
    rt = Runtime(
        {
            "dataset": "cifar10",
            "data_path": str(write_data(tmp_path / "d.npz")),
            "budget": {"name": "smoke", "max_epochs": 1},
            "torch": {"input_shape": [3, 32, 32]},
        }
    )
    rt.install()
    assert DataLoader.__iter__ is not before[0] and sklearn.metrics.f1_score is not before[7]
    rt.uninstall()
    after = patched()
    assert after == before
    assert "__call__" not in vars(torch.nn.modules.loss._Loss)


def test_references_build_what_their_docstrings_say() -> None:
    net = cifar10_cnn_torch.build_net()
    assert tuple(net(torch.zeros(2, 3, 32, 32)).shape) == (2, 10)
    assert tuple(mnist_cnn_torch.build_classifier()(torch.zeros(3, 1, 28, 28)).shape) == (3, 10)
    with pytest.raises(ValueError, match="Received dropout"):
        cifar10_cnn_torch.Net(dropout=(0.2, 1.5, 0.1))


def test_keras_assignments_never_import_torch() -> None:
    """Grading a Keras assignment's rubric, checks and judge imports neither torch nor onnx."""
    code = (
        "import sys\n"
        "import grader.pipeline, grader.judge.__main__, grader.judge.evidence\n"
        "import grader.calibrate, grader.batch.cache, grader.export.gradescope, grader.kit.build\n"
        "from grader.rubric.load import load_assignment\n"
        "spec = load_assignment('cifar10_transfer')\n"
        "assert spec.torch is None\n"
        "bad = sorted(m for m in ('torch', 'torchvision', 'onnx', 'onnxruntime', 'sklearn')"
        " if m in sys.modules)\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_torch_imports_beside_tensorflow() -> None:
    """Without Triton blocked, importing torchvision after TensorFlow crashes the process (a
    segmentation fault: a batch grading a Keras and then a PyTorch assignment, a kit build)."""
    code = (
        "from grader.framework.pytorch.environment import without_triton\n"
        "without_triton()\n"
        "import tensorflow, torchvision, torch.onnx\n"
        "print('imported')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "imported"


def test_a_role_tied_to_a_cell_is_taken_there_and_a_later_crash_keeps_it(
    runtime: Runtime,
) -> None:
    runtime.capture = {"model": "b"}
    trained, replaced = small_model(), small_model()
    capture_role(runtime, "model", {"model": trained}, "cell b")  # what on_cell does after "b"
    capture_remaining(runtime, {"model": replaced})  # the end: the role is not taken again
    folder = Path(t.cast(Path, runtime.artefacts)) / layout.FOLDER
    record = json.loads((folder / "model-model.json").read_text())
    assert record["when"] == "cell b"


def test_a_role_whose_cell_never_ran_is_taken_at_the_end_and_says_so(runtime: Runtime) -> None:
    runtime.capture = {"model": "train"}  # no cell of this notebook has that id
    capture_remaining(runtime, {"net": small_model()})
    folder = Path(t.cast(Path, runtime.artefacts)) / layout.FOLDER
    record = json.loads((folder / "model-model.json").read_text())
    assert record["variable"] == "net"
    assert record["when"] == "end of notebook (its cell 'train' never ran)"
    assert (folder / layout.model_files("model")[0]).stat().st_size > 0


def test_a_metric_call_is_tied_to_the_module_whose_predictions_it_was_given(
    runtime: Runtime,
) -> None:
    """Predictions made outside any DataLoader pass count too; each call goes to the module
    whose predictions it was given, whichever was evaluated last."""
    import sklearn.metrics

    first, second = small_model(), small_model()
    x, y = torch.rand(40, 3, 32, 32), torch.arange(40) % 10
    with torch.no_grad():
        by_first, by_second = first(x).argmax(1), second(x).argmax(1)
    assert not torch.equal(by_first, by_second)
    sklearn.metrics.accuracy_score(y, by_first)
    sklearn.metrics.f1_score(y.tolist(), by_second.tolist(), average="weighted")
    sklearn.metrics.accuracy_score(y, torch.zeros(40, dtype=torch.long))  # nobody's
    keys = [runtime.modules.record(m).key for m in (first, second)]
    assert [(c["model"], c["attributed"]) for c in runtime.metrics] == [
        (keys[0], "predictions"),
        (keys[1], "predictions"),
        (keys[1], "last evaluated"),
    ]


def test_recording_a_module_call_never_breaks_the_notebooks_forward(runtime: Runtime) -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def parameters(self, recurse: bool = True) -> t.Any:
            raise RuntimeError("a module of the student's own making")

        def forward(self, x: t.Any) -> t.Any:
            return {"scores": self.fc(x)}

    with torch.no_grad():
        out = Odd()(torch.zeros(2, 4))
    assert out["scores"].shape == (2, 3)
    assert runtime.modules.depth == 0
