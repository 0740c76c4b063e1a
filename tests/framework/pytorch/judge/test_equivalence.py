"""Style equivalence of the PyTorch assignments' structure checks: "judge like a teacher".

The solution's networks written in the idioms students use (the seed's attributes with
``F.relu`` and ``x.view``, ``nn.Sequential`` blocks with ``nn.ReLU`` and ``nn.Flatten``,
functional activations and pooling with ``F.dropout(training=self.training)``, helper
``ConvBlock`` modules in a ``ModuleList``, one ``nn.Sequential`` built by a function) each get
the solution's exact verdicts from ``torch_architecture``; the course's typical mistakes
written in each idiom (a wrong layer, a missing dropout, the MNIST exercise's 5x5 kernel) are
each caught with the same message, up to the student's own layer names.

In-process: the modules are built here, described and exported as the kernel does, and judged
on those artefacts (the roles and records of whole notebooks are in test_roles.py).
"""

from __future__ import annotations

import collections
import re
import typing as t
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from grader.results import CheckResult  # noqa: E402
from grader.rubric import Assignment  # noqa: E402
from grader.rubric.load import load_assignment  # noqa: E402
from tests.framework.pytorch.judge.test_onnx import judged, write_role  # noqa: E402

Rates = tuple[float | None, float | None, float | None]
NO_DROPOUT: Rates = (None, None, None)
DROPOUT: Rates = (0.2, 0.2, 0.1)
MISSING_DROPOUT: Rates = (0.2, 0.2, None)
Verdicts = dict[str, tuple[str, str]]


def _pool(kind: str) -> nn.Module:
    return nn.MaxPool2d(2, 2) if kind == "max" else nn.AvgPool2d(2, 2)


def _maybe_dropout(p: float | None) -> list[nn.Module]:
    return [] if p is None else [nn.Dropout(p)]


# --- CIFAR-10: three conv blocks, Linear 1024-128-256-10, log_softmax --------------------------


class SeedNet(nn.Module):
    """The seed's own idiom: layers as attributes, ``F.relu``, ``x.view``, ``F.log_softmax``."""

    def __init__(self, rates: Rates = NO_DROPOUT, pool2: str = "max") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3)
        self.conv2 = nn.Conv2d(64, 128, 3)
        self.conv3 = nn.Conv2d(128, 256, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.pool2 = _pool(pool2)
        self.drops = nn.ModuleList(nn.Dropout(p) if p else nn.Identity() for p in rates)
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x: t.Any) -> t.Any:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(-1, 64 * 4 * 4)
        x = F.relu(self.fc1(self.drops[0](x)))
        x = F.relu(self.fc2(self.drops[1](x)))
        x = self.fc3(self.drops[2](x))
        return F.log_softmax(x, dim=1)


class BlocksNet(nn.Module):
    """``nn.Sequential`` feature and classifier blocks with ``nn.ReLU`` and ``nn.Flatten``."""

    def __init__(self, rates: Rates = NO_DROPOUT, pool2: str = "max") -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(64, 128, kernel_size=3),
            nn.ReLU(inplace=True),
            _pool(pool2),
            nn.Conv2d(128, 256, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            *_maybe_dropout(rates[0]),
            nn.Linear(1024, 128),
            nn.ReLU(),
            *_maybe_dropout(rates[1]),
            nn.Linear(128, 256),
            nn.ReLU(),
            *_maybe_dropout(rates[2]),
            nn.Linear(256, 10),
            nn.LogSoftmax(dim=1),
        )

    def forward(self, x: t.Any) -> t.Any:
        return self.classifier(self.features(x))


class FunctionalNet(nn.Module):
    """Only the weighted layers as modules: ``torch.relu``, ``F.max_pool2d``,
    ``torch.flatten``, ``F.dropout(training=self.training)``, ``x.log_softmax(dim=-1)``."""

    def __init__(self, rates: Rates = NO_DROPOUT, pool2: str = "max") -> None:
        super().__init__()
        self.rates = rates
        self.pool2 = pool2
        self.convs = nn.ModuleList(
            [nn.Conv2d(3, 64, 3), nn.Conv2d(64, 128, 3), nn.Conv2d(128, 256, 3)]
        )
        self.dense = nn.ModuleList([nn.Linear(1024, 128), nn.Linear(128, 256), nn.Linear(256, 10)])

    def forward(self, x: t.Any) -> t.Any:
        for i, conv in enumerate(self.convs):
            x = torch.relu(conv(x))
            x = F.avg_pool2d(x, 2) if i == 1 and self.pool2 == "avg" else F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        for i, layer in enumerate(self.dense):
            p = self.rates[i]
            if p is not None:
                x = F.dropout(x, p, training=self.training)
            x = layer(x)
            if i < 2:
                x = x.relu()
        return x.log_softmax(dim=-1)


class ConvBlock(nn.Module):
    """A student's helper: convolution, ReLU, pooling."""

    def __init__(self, cin: int, cout: int, pool: str = "max") -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=(3, 3))
        self.act = nn.ReLU()
        self.pool = _pool(pool)

    def forward(self, x: t.Any) -> t.Any:
        return self.pool(self.act(self.conv(x)))


class Dense(nn.Module):
    """A student's helper: optional dropout, then a linear layer and its activation."""

    def __init__(self, cin: int, cout: int, p: float | None, act: bool = True) -> None:
        super().__init__()
        self.drop = nn.Dropout(p) if p is not None else None
        self.fc = nn.Linear(cin, cout)
        self.act = act

    def forward(self, x: t.Any) -> t.Any:
        if self.drop is not None:
            x = self.drop(x)
        x = self.fc(x)
        return F.relu(x) if self.act else x


class HelperNet(nn.Module):
    """Helper modules (``ConvBlock``, ``Dense``) in ``ModuleList`` and attributes."""

    def __init__(self, rates: Rates = NO_DROPOUT, pool2: str = "max") -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [ConvBlock(3, 64), ConvBlock(64, 128, pool2), ConvBlock(128, 256)]
        )
        self.head = nn.Sequential(
            Dense(1024, 128, rates[0]), Dense(128, 256, rates[1]), Dense(256, 10, rates[2], False)
        )

    def forward(self, x: t.Any) -> t.Any:
        for block in self.blocks:
            x = block(x)
        x = x.reshape(x.size(0), -1)
        return F.log_softmax(self.head(x), dim=1)


def sequential_net(rates: Rates = NO_DROPOUT, pool2: str = "max") -> nn.Module:
    """One ``nn.Sequential`` with named layers, built by a function."""
    layers: list[tuple[str, nn.Module]] = []
    for i, (cin, cout) in enumerate([(3, 64), (64, 128), (128, 256)], 1):
        pool = _pool(pool2) if i == 2 else nn.MaxPool2d(2)
        layers += [
            (f"conv{i}", nn.Conv2d(cin, cout, 3)),
            (f"relu{i}", nn.ReLU()),
            (f"pool{i}", pool),
        ]
    layers.append(("flatten", nn.Flatten()))
    sizes = [(1024, 128), (128, 256), (256, 10)]
    for i, ((cin, cout), p) in enumerate(zip(sizes, rates, strict=True), 1):
        if p is not None:
            layers.append((f"drop{i}", nn.Dropout(p=p)))
        layers.append((f"fc{i}", nn.Linear(cin, cout)))
        if i < 3:
            layers.append((f"act{i}", nn.ReLU()))
    layers.append(("out", nn.LogSoftmax(dim=1)))
    return nn.Sequential(collections.OrderedDict(layers))


CIFAR_IDIOMS: dict[str, t.Callable[..., nn.Module]] = {
    "seed": SeedNet,
    "sequential-blocks": BlocksNet,
    "functional": FunctionalNet,
    "helper-modules": HelperNet,
    "sequential-by-function": sequential_net,
}

# --- MNIST: two conv blocks, Linear 1600-128-10 --------------------------------------------------


class SeedClassifier(nn.Module):
    def __init__(self, kernel2: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=kernel2)
        self.pool = nn.MaxPool2d(2, 2)
        self.features = 64 * (5 if kernel2 == 3 else 4) ** 2
        self.fc1 = nn.Linear(self.features, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: t.Any) -> t.Any:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, self.features)
        return self.fc2(F.relu(self.fc1(x)))


class BlocksClassifier(nn.Module):
    def __init__(self, kernel2: int = 3) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(32, 64, kernel2), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * (5 if kernel2 == 3 else 4) ** 2, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x: t.Any) -> t.Any:
        return self.head(self.block2(self.block1(x)))


class FunctionalClassifier(nn.Module):
    def __init__(self, kernel2: int = 3) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3)
        self.c2 = nn.Conv2d(32, 64, kernel2)
        self.l1 = nn.Linear(64 * (5 if kernel2 == 3 else 4) ** 2, 128)
        self.l2 = nn.Linear(128, 10)

    def forward(self, x: t.Any) -> t.Any:
        x = F.max_pool2d(F.relu(self.c1(x)), kernel_size=2, stride=2)
        x = F.max_pool2d(torch.relu(self.c2(x)), 2)
        x = torch.flatten(x, start_dim=1)
        return self.l2(F.relu(self.l1(x)))


class HelperClassifier(nn.Module):
    def __init__(self, kernel2: int = 3) -> None:
        super().__init__()
        self.blocks = nn.Sequential(ConvBlock(1, 32), _KernelBlock(32, 64, kernel2))
        self.fc1 = Dense(64 * (5 if kernel2 == 3 else 4) ** 2, 128, None)
        self.fc2 = Dense(128, 10, None, act=False)

    def forward(self, x: t.Any) -> t.Any:
        x = self.blocks(x)
        return self.fc2(self.fc1(x.view(x.shape[0], -1)))


class _KernelBlock(ConvBlock):
    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__(cin, cout)
        self.conv = nn.Conv2d(cin, cout, kernel)


def sequential_classifier(kernel2: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, kernel2),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(64 * (5 if kernel2 == 3 else 4) ** 2, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


MNIST_IDIOMS: dict[str, t.Callable[..., nn.Module]] = {
    "seed": SeedClassifier,
    "sequential-blocks": BlocksClassifier,
    "functional": FunctionalClassifier,
    "helper-modules": HelperClassifier,
    "sequential-by-function": sequential_classifier,
}


# --- judging --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cifar() -> Assignment:
    return load_assignment("cifar10_cnn_torch")


@pytest.fixture(scope="module")
def mnist() -> Assignment:
    return load_assignment("mnist_cnn_torch")


def verdict(
    folder: Path, spec: Assignment, check_id: str, role: str, module: nn.Module
) -> tuple[str, str]:
    """The check's status and message, the student's own layer names taken out."""
    torch.manual_seed(0)
    shape = spec.torch.input_shape if spec.torch else ()
    write_role(folder, role, module, shape)
    result = judged(folder, spec, check_id)
    return result.status, without_names(result)


def without_names(result: CheckResult) -> str:
    message = result.message
    names = {str(row["name"]) for row in result.details.get("actual", [])}
    for name in sorted(names, key=len, reverse=True):
        message = message.replace(f"({name})", "(·)").replace(f"({name}, ", "(·, ")
    return message


def cifar_verdicts(tmp_path: Path, spec: Assignment, build: t.Callable[..., nn.Module]) -> Verdicts:
    cases = {
        "model": ("model.architecture", "model", build()),
        "model_dropout": ("model_dropout.architecture", "model_dropout", build(DROPOUT)),
        "wrong layer": ("model.architecture", "model", build(pool2="avg")),
        "missing dropout": ("model_dropout.architecture", "model_dropout", build(MISSING_DROPOUT)),
    }
    return {
        case: verdict(tmp_path / re.sub(r"\W", "-", case), spec, check, role, module)
        for case, (check, role, module) in cases.items()
    }


@pytest.fixture(scope="module")
def cifar_solution(tmp_path_factory: pytest.TempPathFactory, cifar: Assignment) -> Verdicts:
    return cifar_verdicts(tmp_path_factory.mktemp("solution"), cifar, SeedNet)


def test_the_solution_passes_and_the_mistakes_are_named(cifar_solution: Verdicts) -> None:
    assert cifar_solution["model"] == ("pass", "all 16 operations match")
    assert cifar_solution["model_dropout"] == ("pass", "all 19 operations match")
    status, message = cifar_solution["wrong layer"]
    assert status == "fail"
    assert "is AvgPool2d(kernel_size=2x2, stride=2x2, padding=0x0); expected MaxPool2d" in message
    assert cifar_solution["missing dropout"] == (
        "fail",
        "1 difference(s) from the expected architecture:\n- missing layer 17: Dropout(p=0.1)",
    )


@pytest.mark.parametrize("idiom", [i for i in CIFAR_IDIOMS if i != "seed"])
def test_cifar_idioms_get_the_solutions_verdicts(
    tmp_path: Path, cifar: Assignment, cifar_solution: Verdicts, idiom: str
) -> None:
    assert cifar_verdicts(tmp_path, cifar, CIFAR_IDIOMS[idiom]) == cifar_solution


@pytest.mark.parametrize("idiom", list(MNIST_IDIOMS))
def test_mnist_idioms_get_the_solutions_verdicts(
    tmp_path: Path, mnist: Assignment, idiom: str
) -> None:
    build = MNIST_IDIOMS[idiom]
    right = verdict(tmp_path / "right", mnist, "model.architecture", "model", build())
    wrong = verdict(tmp_path / "wrong", mnist, "model.architecture", "model", build(kernel2=5))
    assert right == ("pass", "all 10 operations match")
    assert wrong == (
        "fail",
        "5 difference(s) from the expected architecture:\n"
        "- layer 4 (·, Conv2d): kernel_size is 5x5, expected 3x3; output shape is Nonex64x9x9, "
        "expected Nonex64x11x11; parameters is 51264, expected 18496\n"
        "- layer 5 (·, ReLU): output shape is Nonex64x9x9, expected Nonex64x11x11\n"
        "- layer 6 (·, MaxPool2d): output shape is Nonex64x4x4, expected Nonex64x5x5\n"
        "- layer 7 (·, Flatten): output shape is Nonex1024, expected Nonex1600\n"
        "- layer 8 (·, Linear): in_features is 1024, expected 1600; parameters is 131200, "
        "expected 204928",
    )


def graph_verdicts(folder: Path, spec: Assignment, build: t.Callable[..., nn.Module]) -> Verdicts:
    """The architecture verdicts read from the exported graph alone (as for a forward that
    cannot be traced), right and with the wrong layer."""
    got: Verdicts = {}
    for case, module in {"right": build(), "wrong layer": build(pool2="avg")}.items():
        torch.manual_seed(0)
        write_role(folder / case.replace(" ", "-"), "model", module, ops=None, ops_source="none")
        result = judged(folder / case.replace(" ", "-"), spec, "model.architecture")
        got[case] = (result.status, without_names(result))
    return got


@pytest.fixture(scope="module")
def cifar_graph_solution(tmp_path_factory: pytest.TempPathFactory, cifar: Assignment) -> Verdicts:
    got = graph_verdicts(tmp_path_factory.mktemp("graph"), cifar, SeedNet)
    assert got["right"] == (
        "pass",
        "all 16 operations match (read from the exported graph: forward could not be traced; "
        "dropout is not visible there)",
    )
    status, message = got["wrong layer"]
    assert status == "fail" and message.startswith("1 difference(s)"), message
    assert "expected MaxPool2d(kernel_size=2x2, stride=2x2" in message
    return got


@pytest.mark.parametrize("idiom", [i for i in CIFAR_IDIOMS if i != "seed"])
def test_idioms_read_from_the_exported_graph_get_the_same_verdicts(
    tmp_path: Path, cifar: Assignment, cifar_graph_solution: Verdicts, idiom: str
) -> None:
    """Where ``forward`` cannot be traced, the judge reads the ONNX graph: the idioms export
    the same graph, so the verdicts are the same there too."""
    assert graph_verdicts(tmp_path, cifar, CIFAR_IDIOMS[idiom]) == cifar_graph_solution
