"""Reference for the course's PyTorch CIFAR-10 exercise (seed 001, Problem 3, part a).

A CNN of three 3x3 convolutions (3 -> 64 -> 128 -> 256 channels, no padding), each followed by
ReLU and 2x2 max-pooling, then ``Linear`` 1024 -> 128 -> 256 -> 10 with ReLU between and
``log_softmax`` at the end; a variant with ``Dropout`` 0.2, 0.2 and 0.1 before the three
``Linear`` layers. Trained with SGD (learning rate 0.001, momentum 0.9) and cross-entropy on
CIFAR-10 augmented by random horizontal flips and 32x32 crops of the image padded by 4, in a
hand-written loop that validates every ``val_per_epoch`` epochs.

:func:`train` runs the exercise as the solution notebook does, step for step, so that under
the grader's runtime (which serves the data and caps every DataLoader) its accuracy is what a
correct notebook reaches at the same budget.

Example:
    >>> model = build_net()
    >>> import torch
    >>> tuple(model(torch.zeros(2, 3, 32, 32)).shape)
    (2, 10)
"""

from __future__ import annotations

import typing as t

import torch
import torch.nn.functional as F
from torch import nn, optim

VAL_PER_EPOCH = 5
N_EPOCHS = 30
BATCH_SIZE = 64
# As the exercise does: the GPU when there is one (a grader machine with one calibrates in
# minutes what takes hours on a CPU); ONNX export and the judge take the model from either.
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Net(nn.Module):
    """The exercise's CNN; ``dropout`` gives the rates before ``fc1``, ``fc2`` and ``fc3``."""

    def __init__(self, dropout: t.Sequence[float] | None = None) -> None:
        super().__init__()
        if dropout is not None and (len(dropout) != 3 or not all(0 <= p < 1 for p in dropout)):
            raise ValueError(f"dropout takes three rates in [0, 1). Received dropout={dropout}")
        self.conv1 = nn.Conv2d(3, 64, 3)
        self.conv2 = nn.Conv2d(64, 128, 3)
        self.conv3 = nn.Conv2d(128, 256, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.dropout = dropout is not None
        if dropout is not None:
            self.do1 = nn.Dropout(dropout[0])
            self.do2 = nn.Dropout(dropout[1])
            self.do3 = nn.Dropout(dropout[2])
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Block 1-3: convolution, ReLU, 2x2 max-pooling (32 -> 15 -> 6 -> 2 pixels).
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(-1, 64 * 4 * 4)
        # Classifier; in the dropout variant, dropout before each linear layer.
        if self.dropout:
            x = self.do1(x)
        x = F.relu(self.fc1(x))
        if self.dropout:
            x = self.do2(x)
        x = F.relu(self.fc2(x))
        if self.dropout:
            x = self.do3(x)
        x = self.fc3(x)
        return F.log_softmax(x, dim=1)


def build_net() -> nn.Module:
    """The CNN of part a."""
    return Net()


def build_net_dropout() -> nn.Module:
    """The CNN with ``Dropout`` 0.2, 0.2 and 0.1 before its three linear layers."""
    return Net(dropout=(0.2, 0.2, 0.1))


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Share of the batch whose highest score is the true class."""
    return float((y_hat.argmax(dim=1) == y).float().mean().item())


def loaders(data_root: str) -> tuple[t.Any, t.Any]:
    """The augmented training loader and the plain test loader, batch 64, shuffled."""
    from torchvision import datasets, transforms

    train_transform = transforms.Compose(
        [
            transforms.RandomHorizontalFlip(p=0.5),
            transforms.RandomCrop(32, padding=4),
            transforms.ToTensor(),
            transforms.Normalize([0, 0, 0], [1, 1, 1]),
        ]
    )
    test_transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize([0, 0, 0], [1, 1, 1])]
    )
    trainset = datasets.CIFAR10(
        f"{data_root}/train", download=True, train=True, transform=train_transform
    )
    valset = datasets.CIFAR10(
        f"{data_root}/test", download=True, train=False, transform=test_transform
    )
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=BATCH_SIZE, shuffle=True)
    valloader = torch.utils.data.DataLoader(valset, batch_size=BATCH_SIZE, shuffle=True)
    return trainloader, valloader


def fit(
    model: nn.Module,
    trainloader: t.Any,
    valloader: t.Any,
    *,
    n_epochs: int = N_EPOCHS,
    val_per_epoch: int = VAL_PER_EPOCH,
) -> dict[str, list[float]]:
    """The exercise's training loop: SGD, cross-entropy, validation every ``val_per_epoch``."""
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    history: dict[str, list[float]] = {
        "train_loss": [],
        "train_acc": [],
        "val_loss": [],
        "val_acc": [],
    }
    for epoch in range(n_epochs):
        running_loss, running_acc = 0.0, 0.0
        model.train()
        for x, y in trainloader:
            x, y = x.to(DEVICE), y.to(DEVICE)
            optimizer.zero_grad()
            y_hat = model(x)
            loss = criterion(y_hat, y)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            running_acc += accuracy(y_hat, y)
        history["train_loss"].append(running_loss / max(1, len(trainloader)))
        history["train_acc"].append(running_acc / max(1, len(trainloader)))
        if epoch % val_per_epoch == val_per_epoch - 1:
            running_loss, running_acc = 0.0, 0.0
            model.eval()
            with torch.no_grad():
                for x, y in valloader:
                    x, y = x.to(DEVICE), y.to(DEVICE)
                    y_hat = model(x)
                    running_loss += criterion(y_hat, y).item()
                    running_acc += accuracy(y_hat, y)
            history["val_loss"].append(running_loss / max(1, len(valloader)))
            history["val_acc"].append(running_acc / max(1, len(valloader)))
    return history


def predictions(model: nn.Module, loader: t.Any) -> tuple[list[int], list[int]]:
    """True and predicted labels of ``model`` over ``loader`` (the exercise's metrics input)."""
    model.eval()
    actuals: list[int] = []
    predicted: list[int] = []
    with torch.no_grad():
        for x, y in loader:
            actuals += y.tolist()
            predicted += model(x.to(DEVICE)).argmax(dim=1).tolist()
    return actuals, predicted


def train(*, data_root: str = "./data") -> dict[str, nn.Module]:
    """Run the whole exercise: the CNN, then its dropout variant, each trained and evaluated.

    Run it under the grader's runtime: that serves the data (nothing is downloaded) and applies
    the budget to every loader.

    Returns:
        ``{"model": ..., "model_dropout": ...}``, trained.
    """
    trainloader, valloader = loaders(data_root)
    next(iter(trainloader))  # the notebook looks at one batch
    models = {}
    for role, build in (("model", build_net), ("model_dropout", build_net_dropout)):
        model = build().to(DEVICE)
        fit(model, trainloader, valloader)
        predictions(model, valloader)  # the notebook's metrics pass
        models[role] = model
    return models
