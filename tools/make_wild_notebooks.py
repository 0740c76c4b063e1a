"""Write the wild corpus (tests/wild/notebooks/): the student templates filled in the idioms and
habits of public implementations of the course's exercises.

The code below is ours, written afresh in each idiom: the manifest (tests/wild/corpus.toml)
names the public implementation that inspired each entry, as a reference; none of its code is
here. Each entry gives the code of the template's "### Your code goes here ###" cells in order;
``None`` leaves a cell as the template gives it (the student skipped it).

Run after editing an entry:  python tools/make_wild_notebooks.py
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

ROOT = Path(__file__).resolve().parent.parent
WILD = ROOT / "tests" / "wild"
PLACEHOLDER = "### Your code goes here ###"

# --- mnist_transfer ----------------------------------------------------------------------------

SPLIT = """\
below = y_train < 5
x_train_lt5, y_train_lt5 = x_train[below], y_train[below]
x_train_gte5, y_train_gte5 = x_train[~below], y_train[~below] - 5
below = y_test < 5
x_test_lt5, y_test_lt5 = x_test[below], y_test[below]
x_test_gte5, y_test_gte5 = x_test[~below], y_test[~below] - 5
"""
UNSHIFTED_SPLIT = """\
x_train_lt5 = x_train[y_train < 5]
y_train_lt5 = y_train[y_train < 5]
x_test_lt5 = x_test[y_test < 5]
y_test_lt5 = y_test[y_test < 5]
# the same labels for the upper digits: they are 5..9
x_train_gte5 = x_train[y_train >= 5]
y_train_gte5 = y_train[y_train >= 5]
x_test_gte5 = x_test[y_test >= 5]
y_test_gte5 = y_test[y_test >= 5]
"""


def keras2_train(imports: str, optimizer: str, to_categorical: str, epochs: str) -> str:
    """A train_model in the Keras 2 example's shape, with ``imports`` above it."""
    return f"""{imports}
def train_model(model, train, test, num_classes):
    xs = [d.reshape((d.shape[0],) + input_shape).astype('float32') / 255
          for d in (train[0], test[0])]
    ys = [{to_categorical}(d, num_classes) for d in (train[1], test[1])]
    model.compile(loss='categorical_crossentropy', optimizer={optimizer},
                  metrics=['accuracy'])
    started = now()
    model.fit(xs[0], ys[0], batch_size=batch_size, {epochs}, verbose=1,
              validation_data=(xs[1], ys[1]))
    print('took', now() - started)
    loss, acc = model.evaluate(xs[1], ys[1], verbose=0)
    print('test loss', loss, 'test accuracy', acc)
"""


def mnist_layers(first: str, second: str, suffix: str = "") -> str:
    """The feature layers, the two convolutions spelled ``first`` and ``second``."""
    return f"""\
feature_layers{suffix} = [
    {first},
    Activation('relu'),
    {second},
    Activation('relu'),
    MaxPooling2D(pool_size=pool_size),
    Dropout(0.25),
    Flatten(),
]
"""


def classifier(suffix: str = "") -> str:
    return f"""\
classification_layers{suffix} = [
    Dense(128), Activation('relu'), Dropout(0.5),
    Dense(num_classes), Activation('softmax'),
]
"""


CONV2 = "Conv2D(filters, kernel_size, padding='valid', input_shape=input_shape)"
CONV2_NEXT = "Conv2D(filters, kernel_size)"

MODEL = "model = Sequential(feature_layers + classification_layers)\nmodel.summary()\n"
FREEZE = "for layer in feature_layers:\n    layer.trainable = False\n"
STANDARD = mnist_layers(CONV2, CONV2_NEXT)
STANDARD_SUP = mnist_layers(CONV2, CONV2_NEXT, "_sup")

KERAS1_IMPORTS = """\
import numpy as np
from keras.layers import Convolution2D
from keras.utils import np_utils

np.random.seed(7)
nb_filters = filters
nb_epoch = epochs
"""
KERAS1_CONV = (
    "Convolution2D(nb_filters, kernel_size, kernel_size, border_mode='valid', "
    "input_shape=input_shape)"
)
KERAS1_CONV_NEXT = "Convolution2D(nb_filters, kernel_size, kernel_size)"


def mnist_entry(
    train: str,
    split: str = SPLIT,
    layers: str = STANDARD,
    model: str = MODEL,
    freeze: str = FREEZE,
    sup: tuple[str | None, str | None] = (None, None),
) -> list[str | None]:
    """The eight cells of the mnist_transfer template; no supplementary part unless given."""
    return [train, split, layers, classifier(), model, freeze, *sup]


PLAIN_TRAIN = keras2_train("", "'adadelta'", "keras.utils.to_categorical", "epochs=epochs")
MNIST: dict[str, list[str | None]] = {
    "w01_keras2beta_spellings": mnist_entry(
        keras2_train(
            "from keras.layers import Convolution2D\nfrom keras.utils import np_utils\n",
            "'adadelta'",
            "np_utils.to_categorical",
            "epochs=epochs",
        ),
        layers=mnist_layers(
            "Convolution2D(filters, kernel_size, kernel_size, border_mode='valid', "
            "input_shape=input_shape)",
            "Convolution2D(filters, kernel_size, kernel_size)",
        ),
    ),
    "w02_keras1_nb_epoch": mnist_entry(
        keras2_train(KERAS1_IMPORTS, "'adadelta'", "np_utils.to_categorical", "nb_epoch=nb_epoch"),
        layers=mnist_layers(KERAS1_CONV, KERAS1_CONV_NEXT),
    ),
    "w03_tf_keras_imports": mnist_entry(
        keras2_train(
            "from tensorflow import keras\n"
            "from tensorflow.keras.models import Sequential\n"
            "from tensorflow.keras.layers import Dense, Dropout, Activation, Flatten, "
            "Conv2D, MaxPooling2D\n",
            "'adadelta'",
            "keras.utils.to_categorical",
            "epochs=epochs",
        )
    ),
    "w04_eager_disabled": mnist_entry(
        keras2_train(
            "import tensorflow as tf\n"
            "tf.compat.v1.disable_eager_execution()\n"
            "for gpu in tf.config.experimental.list_physical_devices('GPU'):\n"
            "    tf.config.experimental.set_memory_growth(gpu, True)\n",
            "'adadelta'",
            "keras.utils.to_categorical",
            "epochs=epochs",
        )
    ),
    "w05_supplementary_part": mnist_entry(
        PLAIN_TRAIN,
        sup=(
            STANDARD_SUP
            + classifier("_sup")
            + "model_sup = Sequential(feature_layers_sup + classification_layers_sup)\n",
            FREEZE.replace("feature_layers", "feature_layers_sup"),
        ),
    ),
    "w06_labels_not_shifted": mnist_entry(PLAIN_TRAIN, split=UNSHIFTED_SPLIT),
    "w07_keras03_style": mnist_entry(
        """\
from keras.models import Sequential
from keras.layers.core import Dense, Dropout, Activation, Flatten
from keras.layers.convolutional import Convolution2D, MaxPooling2D
from keras.utils import np_utils

nb_classes, nb_epoch = num_classes, epochs
nb_filters, nb_pool, nb_conv = filters, pool_size, kernel_size
input_shape = (1, img_rows, img_cols)


def train_model(model, train, test, nb_classes):
    X = train[0].reshape(train[0].shape[0], 1, img_rows, img_cols).astype('float32') / 255
    Xt = test[0].reshape(test[0].shape[0], 1, img_rows, img_cols).astype('float32') / 255
    Y = np_utils.to_categorical(train[1], nb_classes)
    Yt = np_utils.to_categorical(test[1], nb_classes)
    model.compile(loss='categorical_crossentropy', optimizer='adadelta')
    model.fit(X, Y, batch_size=batch_size, nb_epoch=nb_epoch, show_accuracy=True,
              verbose=1, validation_data=(Xt, Yt))
    print('score', model.evaluate(Xt, Yt, show_accuracy=True, verbose=0))
""",
        layers=mnist_layers(
            "Convolution2D(nb_filters, nb_conv, nb_conv, border_mode='valid', "
            "input_shape=input_shape)",
            "Convolution2D(nb_filters, nb_conv, nb_conv)",
        ),
        model="model = Sequential()\n"
        "for l in feature_layers + classification_layers:\n    model.add(l)\n",
        freeze="for l in feature_layers:\n    l.trainable = False\n",
    ),
}

# --- vgg19_finetune ----------------------------------------------------------------------------

VGG: dict[str, list[str | None]] = {
    "w08_vgg19_nested_all_trainable": [
        """\
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import keras
from keras.applications import VGG19
from keras.datasets import cifar10
from keras.layers import Dense, Flatten
from keras.models import Sequential
""",
        """\
(xtrain, ytrain), (xtest, ytest) = cifar10.load_data()
xtrain, xtest = xtrain / 255.0, xtest / 255.0
print(xtrain.shape, ytrain.shape, np.unique(ytrain))
""",
        """\
vgg = VGG19(weights='imagenet', include_top=False, input_shape=(32, 32, 3))
model = Sequential()
model.add(vgg)
model.add(Flatten())
for width in (256, 128, 64):
    model.add(Dense(width, activation='relu'))
model.add(Dense(10, activation='softmax'))
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.summary()
""",
        """\
history = model.fit(xtrain, ytrain, epochs=10, batch_size=64, validation_split=0.1)
pd.DataFrame(history.history).plot()
plt.show()
""",
    ],
}

# --- PyTorch -----------------------------------------------------------------------------------

TUTORIAL_CIFAR: list[str | None] = [
    """\
plain = transforms.Compose([transforms.ToTensor(),
                            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
trainset = datasets.CIFAR10(root=train_path, train=True, download=True, transform=plain)
valset = datasets.CIFAR10(root=test_path, train=False, download=True, transform=plain)
""",
    """\
trainloader = torch.utils.data.DataLoader(trainset, batch_size=4, shuffle=True)
valloader = torch.utils.data.DataLoader(valset, batch_size=4, shuffle=False)
images, labels = next(iter(trainloader))
print(images.shape, labels)
""",
    """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


model = Net()
""",
    """\
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
""",
    """\
for epoch in range(2):
    running = 0.0
    for i, (inputs, labels) in enumerate(trainloader):
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        running += loss.item()
        if i % 2000 == 1999:
            print(epoch + 1, i + 1, running / 2000)
            running = 0.0
print('Finished Training')
""",
    """\
correct = total = 0
with torch.no_grad():
    for images, labels in valloader:
        predicted = model(images).argmax(1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
print(f'accuracy on the test images: {100 * correct // total} %')
""",
    None,
    None,
    None,
]

EXAMPLE_MNIST: list[str | None] = [
    """\
import argparse
import torch.nn.functional as F
from torch.optim.lr_scheduler import StepLR

mnist_stats = transforms.Compose([transforms.ToTensor(),
                                  transforms.Normalize((0.1307,), (0.3081,))])
""",
    """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)
""",
    None,
    """\
def train_epoch(model, loader, optimizer, epoch):
    model.train()
    for batch, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch % 10 == 0:
            print(f'epoch {epoch} batch {batch} loss {loss.item():.4f}')


def evaluate(model, loader):
    model.eval()
    loss = correct = 0
    with torch.no_grad():
        for data, target in loader:
            out = model(data.to(device))
            loss += F.nll_loss(out, target.to(device), reduction='sum').item()
            correct += (out.argmax(1) == target.to(device)).sum().item()
    n = len(loader.dataset)
    print(f'test loss {loss / n:.4f}, accuracy {correct}/{n}')


def main():
    parser = argparse.ArgumentParser(description='MNIST')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--lr', type=float, default=1.0)
    parser.add_argument('--gamma', type=float, default=0.7)
    args = parser.parse_args([])
    torch.manual_seed(1)
    train_loader = torch.utils.data.DataLoader(
        datasets.MNIST('../data', train=True, download=True, transform=mnist_stats),
        batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(
        datasets.MNIST('../data', train=False, transform=mnist_stats), batch_size=1000)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train_epoch(model, train_loader, optimizer, epoch)
        evaluate(model, test_loader)
        scheduler.step()


if __name__ == '__main__':
    main()
""",
    None,
]

CELLS: dict[str, list[str | None]] = {
    **MNIST,
    **VGG,
    "w09_torch_tutorial_cifar10": TUTORIAL_CIFAR,
    "w10_torch_example_mnist_main": EXAMPLE_MNIST,
}


def header(entry: dict[str, object]) -> str:
    """The first cell: what inspired the entry and which idioms it reproduces."""
    idioms = "\n".join(f"- {i}" for i in t_list(entry["idioms"]))
    return (
        f"**Wild corpus entry `{entry['id']}`** (assignment `{entry['assignment']}`), written "
        f"in the idioms of {entry['url']} (a reference only: no line of it is copied).\n\n"
        f"Idioms reproduced:\n{idioms}\n"
    )


def t_list(value: object) -> list[str]:
    assert isinstance(value, list)
    return [str(v) for v in value]


def fill(entry: dict[str, object]) -> nbformat.NotebookNode:
    """The assignment's student template with the entry's cells in its placeholders."""
    template = ROOT / "assignments" / str(entry["assignment"]) / "student.ipynb"
    nb = nbformat.read(template, as_version=4)
    answers = iter(CELLS[str(entry["id"])])
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip() == PLACEHOLDER:
            answer = next(answers)
            if answer is not None:
                cell.source = answer
    leftover = list(answers)
    assert not leftover, f"{entry['id']}: {len(leftover)} cells more than the template has"
    # A fixed id: regenerating the corpus changes nothing it did not mean to.
    nb.cells.insert(0, new_markdown_cell(header(entry), id="wild-corpus-entry"))
    return nb


def main() -> None:
    manifest = tomllib.loads((WILD / "corpus.toml").read_text())
    entries = manifest["entry"]
    assert {e["id"] for e in entries} == set(CELLS)
    for entry in entries:
        nbformat.write(fill(entry), WILD / "notebooks" / f"{entry['id']}.ipynb")


if __name__ == "__main__":
    main()
