"""Roles found by what a PyTorch notebook did, names as a first guess.

Each notebook here is a list of cells run in this process under the grader's
:class:`~grader.framework.pytorch.kernel.runtime.Runtime` (the data served, the loops capped and
recorded, the roles taken after their cells or at the end), as the kernel runs a notebook; the
artefacts
are then judged by the assignment's checks. The solution written another way (variables
renamed, the models built inside ``main()``, the metrics in another cell, the training loop in
a function, the optimizers created in a cell of their own) gets the solution's verdicts, and a
mistake (the wrong optimizer, no dropout variant) is caught with the same message whatever the
idiom. A role the notebook never built fails with "never built" and borrows no other role's
model.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import nbformat
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("onnxruntime")

from grader.checks.base import run_check  # noqa: E402
from grader.framework.pytorch.judge.artefacts import TorchArtefacts, read_torch_artefacts  # noqa: E402
from grader.framework.pytorch.kernel.roles import capture_remaining  # noqa: E402
from grader.framework.pytorch.kernel.runtime import Runtime  # noqa: E402
from grader.rubric import Assignment  # noqa: E402
from grader.rubric.load import load_assignment  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.framework.pytorch.judge.test_onnx import context  # noqa: E402
from tests.framework.pytorch.kernel.test_runtime import write_data  # noqa: E402

Cells = list[tuple[str, str]]
Verdicts = dict[str, tuple[str, str]]


def solution_cells(assignment: str) -> Cells:
    """The solution notebook's code cells, with fewer epochs (the budget caps them anyway)."""
    nb = nbformat.read(ROOT / "assignments" / assignment / "solution.ipynb", as_version=4)
    cells = [(str(c.get("id")), str(c.source)) for c in nb.cells if c.cell_type == "code"]
    return [
        (i, re.sub(r"(n_epochs|num_epochs) = \d+", r"\1 = 5", s).replace("plt.show()", ""))
        for i, s in cells
    ]


def run_cells(tmp_path: Path, spec: Assignment, cells: Cells) -> TorchArtefacts:
    """Run ``cells`` as the kernel runs a notebook, and read back what they left."""
    assert spec.torch is not None
    grey = spec.torch.input_shape[0] == 1
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir()
    runtime = Runtime(
        {
            "seed": 5,
            "dataset": spec.dataset,
            "data_path": str(write_data(tmp_path / "data.npz", grey=grey, n_test=200)),
            "data_note": "test data",
            "budget": {
                "name": "test",
                "max_epochs": 1,
                "max_train_samples": 64,
                "max_eval_samples": 64,
            },
            "artefacts": str(artefacts),
            "roles": spec.roles,
            "torch": {
                "input_shape": list(spec.torch.input_shape),
                "capture": dict(spec.torch.capture),
                "cell_ids": [cell_id for cell_id, _ in cells],
                "quiet": True,
            },
        }
    )
    runtime.install()
    try:
        namespace: dict[str, t.Any] = {"__name__": "__main__"}
        for count, (cell_id, source) in enumerate(cells, 1):
            exec(compile(source, f"<cell {cell_id}>", "exec"), namespace)
            runtime.cell_done(count, cell_id, namespace)
        capture_remaining(runtime, namespace)
        runtime.flush(0, "end of notebook")
    finally:
        runtime.uninstall()
    return read_torch_artefacts(artefacts, spec)


def verdicts(arts: TorchArtefacts, spec: Assignment) -> Verdicts:
    """Every check but accuracy (not structural), as (status, message); where the module came
    from (the note a role found by training carries) is left out of the message."""
    ctx = context(arts.folder, spec)
    out: Verdicts = {}
    for check in spec.checks:
        if check.kind == "accuracy":
            continue
        result = run_check(check, ctx)
        out[check.id] = (result.status, re.sub(r" \(judged on .*\)$", "", result.message))
    return out


def replace(cells: Cells, **sources: str) -> Cells:
    """``cells`` with the named cells' sources replaced (``-`` in an id is ``_`` here)."""
    return [(cell_id, sources.get(cell_id.replace("-", "_"), source)) for cell_id, source in cells]


# --- CIFAR-10: two models ----------------------------------------------------------------------

CIFAR = "cifar10_cnn_torch"
CIFAR_CELLS = solution_cells(CIFAR)
CIFAR_SOURCE = dict(CIFAR_CELLS)
DROPOUT_NET = CIFAR_SOURCE["dropout-net"].replace("class Net", "class NetDO")
NETS = (CIFAR_SOURCE["net"] + "\n" + DROPOUT_NET.replace("super(Net,", "super(NetDO,")).replace(
    "model = Net().to(device)", ""
)

FIT = """
def fit(model, optimizer, criterion, loader, epochs):
    for epoch in range(epochs):
        model.train()
        for X, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(X), y)
            loss.backward()
            optimizer.step()


def predictions_of(model, loader):
    model.eval()
    actuals, predictions = [], []
    with torch.no_grad():
        for X, y in loader:
            predictions += model(X).argmax(dim=1).tolist()
            actuals += y.tolist()
    return actuals, predictions


def report(actuals, predictions):
    print(accuracy_score(actuals, predictions), confusion_matrix(actuals, predictions))
    for score in (f1_score, precision_score, recall_score):
        print(score(actuals, predictions, average="weighted"))
"""
IMPORT_METRICS = (
    "from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, "
    "recall_score\n"
)

CIFAR_VARIANTS: dict[str, Cells] = {
    "renamed-variables": [
        (i, re.sub(r"\bmodel\b", "net", re.sub(r"\boptimizer\b", "opt", s))) for i, s in CIFAR_CELLS
    ],
    "built-inside-main": [
        *CIFAR_CELLS[:3],
        ("nets", IMPORT_METRICS + NETS + FIT),
        (
            "main",
            """
def main():
    criterion = nn.CrossEntropyLoss()
    for build in (Net, NetDO):
        model = build().to(device)
        optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
        fit(model, optimizer, criterion, trainloader, 3)
        report(*predictions_of(model, valloader))


main()
""",
        ),
    ],
    "metrics-in-another-cell": replace(
        CIFAR_CELLS,
        evaluate=CIFAR_SOURCE["evaluate"].split("actuals, predictions =")[0],
        dropout_net="first_model = model\n" + CIFAR_SOURCE["dropout-net"],
        evaluate_dropout="""
for m in (first_model, model):
    actuals, predictions = test_label_predictions(m, device, valloader)
    print(accuracy_score(actuals, predictions), confusion_matrix(actuals, predictions))
    print(f1_score(actuals, predictions, average='weighted'))
    print(precision_score(actuals, predictions, average='weighted'))
    print(recall_score(actuals, predictions, average='weighted'))
""",
    ),
    "loop-in-a-function": [
        *CIFAR_CELLS[:3],
        ("helpers", IMPORT_METRICS + FIT),
        ("net", CIFAR_SOURCE["net"]),
        ("hyperparameters", CIFAR_SOURCE["hyperparameters"]),
        ("train", "fit(model, optimizer, criterion, trainloader, n_epochs)"),
        ("evaluate", "report(*predictions_of(model, valloader))"),
        ("dropout-net", CIFAR_SOURCE["dropout-net"]),
        (
            "train-dropout",
            "optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)\n"
            "fit(model, optimizer, criterion, trainloader, n_epochs)",
        ),
        ("evaluate-dropout", "report(*predictions_of(model, valloader))"),
    ],
    "optimizers-in-a-cell-of-their-own": [
        *CIFAR_CELLS[:3],
        ("nets", IMPORT_METRICS + NETS + FIT + "\nfirst, second = Net(), NetDO()\n"),
        (
            "optimizers",
            "criterion = nn.CrossEntropyLoss()\n"
            "opt_first = optim.SGD(first.parameters(), lr=0.001, momentum=0.9)\n"
            "opt_second = optim.SGD(second.parameters(), lr=0.001, momentum=0.9)\n",
        ),
        ("training", "fit(first, opt_first, criterion, trainloader, 2)"),
        ("training-2", "fit(second, opt_second, criterion, trainloader, 2)"),
        (
            "results",
            "report(*predictions_of(second, valloader))\n"
            "report(*predictions_of(first, valloader))\n",
        ),
    ],
}


@pytest.fixture(scope="module")
def cifar() -> Assignment:
    return load_assignment(CIFAR)


@pytest.fixture(scope="module")
def cifar_solution(tmp_path_factory: pytest.TempPathFactory, cifar: Assignment) -> Verdicts:
    arts = run_cells(tmp_path_factory.mktemp("solution"), cifar, CIFAR_CELLS)
    return verdicts(arts, cifar)


def test_the_solution_run_here_passes_every_structural_check(cifar_solution: Verdicts) -> None:
    assert {status for status, _ in cifar_solution.values()} == {"pass"}, cifar_solution


@pytest.mark.parametrize("variant", list(CIFAR_VARIANTS))
def test_cifar_variants_get_the_solutions_verdicts(
    tmp_path: Path, cifar: Assignment, cifar_solution: Verdicts, variant: str
) -> None:
    arts = run_cells(tmp_path, cifar, CIFAR_VARIANTS[variant])
    assert verdicts(arts, cifar) == cifar_solution
    assert [f.model for f in arts.fit_records()] == ["model", "model_dropout"]


def test_a_model_found_by_training_says_which_object_it_is(
    tmp_path: Path, cifar: Assignment
) -> None:
    arts = run_cells(tmp_path, cifar, CIFAR_VARIANTS["built-inside-main"])
    first, second = arts.descriptions["model"], arts.descriptions["model_dropout"]
    assert first["variable"] == second["variable"] == ""
    assert first["taken"] == (
        "the Net object the SGD optimizer trained in cell 'main' (no variable `model` held a "
        "module of its own)"
    )
    assert second["class"] == "NetDO" and first["module"] != second["module"]
    result = run_check(
        next(c for c in cifar.checks if c.id == "model_dropout.architecture"),
        context(arts.folder, cifar),
    )
    assert result.message.endswith(f"(judged on {second['taken']})")
    assert result.details["taken"] == second["taken"]
    assert arts.role_variables == {}


NO_DROPOUT = [(i, s) for i, s in CIFAR_CELLS if "dropout" not in i]
MAIN_WITHOUT_DROPOUT = [
    (i, s.replace("(Net, NetDO)", "(Net,)")) for i, s in CIFAR_VARIANTS["built-inside-main"]
]


@pytest.mark.parametrize(
    "cells", [NO_DROPOUT, MAIN_WITHOUT_DROPOUT], ids=["solution-idiom", "inside-main"]
)
def test_a_dropout_variant_never_built_is_never_borrowed(
    tmp_path: Path, cifar: Assignment, cifar_solution: Verdicts, cells: Cells
) -> None:
    got = verdicts(run_cells(tmp_path, cifar, cells), cifar)
    for check_id, (status, message) in got.items():
        if check_id.startswith("model_dropout."):
            assert status == "fail", (check_id, message)
            assert message.startswith("the model_dropout model could not be taken: never built")
        else:
            assert (status, message) == cifar_solution[check_id], check_id


@pytest.mark.parametrize("variant", ["solution", "built-inside-main"])
def test_the_wrong_optimizer_is_caught_alike_in_any_idiom(
    tmp_path: Path, cifar: Assignment, variant: str
) -> None:
    cells = CIFAR_CELLS if variant == "solution" else CIFAR_VARIANTS[variant]
    adam = [
        (
            i,
            s.replace(
                "optim.SGD(model.parameters(), lr=0.001, momentum=0.9)",
                "optim.Adam(model.parameters(), lr=0.001)",
            ),
        )
        for i, s in cells
    ]
    got = verdicts(run_cells(tmp_path, cifar, adam), cifar)
    assert got["model.training"] == (
        "fail",
        "the optimizer is Adam, expected SGD; momentum is None, expected 0.9",
    )


# --- MNIST: one model --------------------------------------------------------------------------

MNIST = "mnist_cnn_torch"
MNIST_CELLS = solution_cells(MNIST)
MNIST_SOURCE = dict(MNIST_CELLS)
TRAIN_AND_SCORE = """
def main():
    model = MNISTClassifier()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    for epoch in range(3):
        model.train()
        for inputs, labels in train_loader:
            optimizer.zero_grad()
            criterion(model(inputs), labels).backward()
            optimizer.step()
    model.eval()
    preds, truth = [], []
    with torch.no_grad():
        for images, labels in test_loader:
            preds.extend(model(images).argmax(1).numpy())
            truth.extend(labels.numpy())
    print(confusion_matrix(truth, preds))
    for score in (precision_score, recall_score, f1_score):
        print(score(truth, preds, average="weighted"))


if __name__ == "__main__":
    main()
"""
EVALUATE = MNIST_SOURCE["evaluate"]
MNIST_VARIANTS: dict[str, Cells] = {
    "renamed-variables": [(i, re.sub(r"\bmodel\b", "clf", s)) for i, s in MNIST_CELLS],
    "built-inside-main": [
        *MNIST_CELLS[:2],
        ("net", MNIST_SOURCE["net"].replace("model = MNISTClassifier().to(device)", "")),
        ("main", TRAIN_AND_SCORE),
    ],
    "metrics-in-another-cell": [
        *MNIST_CELLS[:-1],
        ("evaluate", EVALUATE[: EVALUATE.index("accuracy = ")]),
        ("plots", "print(len(all_preds))"),
        ("scores", EVALUATE[EVALUATE.index("accuracy = ") :]),
    ],
}


@pytest.fixture(scope="module")
def mnist() -> Assignment:
    return load_assignment(MNIST)


@pytest.fixture(scope="module")
def mnist_solution(tmp_path_factory: pytest.TempPathFactory, mnist: Assignment) -> Verdicts:
    return verdicts(run_cells(tmp_path_factory.mktemp("solution"), mnist, MNIST_CELLS), mnist)


@pytest.mark.parametrize("variant", list(MNIST_VARIANTS))
def test_mnist_variants_get_the_solutions_verdicts(
    tmp_path: Path, mnist: Assignment, mnist_solution: Verdicts, variant: str
) -> None:
    assert {status for status, _ in mnist_solution.values()} == {"pass"}, mnist_solution
    arts = run_cells(tmp_path, mnist, MNIST_VARIANTS[variant])
    assert verdicts(arts, mnist) == mnist_solution
    assert [f.model for f in arts.fit_records()] == ["model"]


@pytest.mark.parametrize("variant", ["solution", "built-inside-main"])
def test_mnist_wrong_optimizer_is_caught_alike(
    tmp_path: Path, mnist: Assignment, variant: str
) -> None:
    cells = MNIST_CELLS if variant == "solution" else MNIST_VARIANTS[variant]
    sgd = [(i, s.replace("optim.Adam(", "optim.SGD(")) for i, s in cells]
    got = verdicts(run_cells(tmp_path, mnist, sgd), mnist)
    assert got["model.training"] == ("fail", "the optimizer is SGD, expected Adam")
