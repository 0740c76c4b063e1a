"""Write the notebooks of vgg19_finetune, mnist_transfer and cifar10_transfer_v2.

For each assignment: ``solution.ipynb`` (solution regions between ``### BEGIN SOLUTION`` and
``### END SOLUTION``), ``student.ipynb`` made from it by ``grader release``, and example
``submissions/``: the student notebook completed with the solution (``full_marks``), with one
typical mistake (named after it), or with the course seed's own code pasted in as a student
would (``seed_00N``). Run after editing a cell below:  python tools/make_course_notebooks.py
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.authoring.release import BEGIN, END, YOUR_CODE, release

ROOT = Path(__file__).resolve().parent.parent / "assignments"


@dataclass(frozen=True)
class Cell:
    """A code cell: its stable id, its code, and whether students write it."""

    id: str
    code: str
    student: bool = False
    markdown: str = ""


# --- vgg19_finetune (seed 002) -----------------------------------------------------------------

VGG19_INTRO = """\
**You must complete the cells with ### Your code goes here ###**

## Transfer learning with VGG19

Implement classification of the CIFAR-10 dataset using transfer learning, with the VGG19 model
and its ImageNet weights (`vgg19.VGG19(weights="imagenet", include_top=False,
input_shape=(32, 32, 3))`). **Keep the first four convolutional blocks fixed (frozen), finetune
the last block (`block5_*`)** and train the new classifier on top of it: Flatten, Dense 256
relu, Dropout 0.5, Dense 125 relu, Dense 10 softmax. Try to get an accuracy above 90%.

Keep the variable names used below (`model`, `xtrain`, `ytrain`, `xtest`, `ytest`): the grader
looks for them. Use Keras 3 APIs: `keras.utils.to_categorical` (there is no `np_utils` any
more), and note that Keras 3's `"Adadelta"` defaults to a learning rate of 0.001 where Keras 2
used 1.0.
"""

VGG19_CELLS = [
    Cell(
        "imports",
        """\
import keras
from keras.applications import vgg19
from keras.models import Model
from keras.layers import Dense, Dropout, Flatten
from keras.datasets import cifar10
from keras.utils import to_categorical
""",
        student=True,
        markdown=VGG19_INTRO,
    ),
    Cell(
        "load-data",
        """\
(xtrain, ytrain), (xtest, ytest) = cifar10.load_data()
xtrain = xtrain.astype('float32') / 255
xtest = xtest.astype('float32') / 255
ytrain = to_categorical(ytrain, 10)
ytest = to_categorical(ytest, 10)
""",
        student=True,
        markdown="**Load CIFAR-10, scale the pixels to [0, 1] and one-hot encode the labels.**",
    ),
    Cell(
        "build-model",
        """\
base = vgg19.VGG19(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
# Blocks 1-4 keep their ImageNet features; block 5 is finetuned.
for layer in base.layers:
    layer.trainable = layer.name.startswith("block5")

x = Flatten()(base.output)
x = Dense(256, activation='relu')(x)
x = Dropout(0.5)(x)
x = Dense(125, activation='relu')(x)
pred = Dense(10, activation='softmax')(x)
model = Model(inputs=base.input, outputs=pred)

model.compile(loss="categorical_crossentropy",
              optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
              metrics=['accuracy'])
model.summary()
""",
        student=True,
        markdown="**Build `model`: VGG19 with blocks 1-4 frozen, then the new head; compile it.**",
    ),
    Cell(
        "train",
        """\
model.fit(xtrain, ytrain,
          batch_size=128,
          epochs=25,
          verbose=2,
          validation_data=(xtest, ytest))
""",
        student=True,
        markdown="**Train it.**",
    ),
    Cell(
        "evaluate",
        """\
score = model.evaluate(xtest, ytest, verbose=0)
print('Test loss:', score[0])
print('Test accuracy:', score[1])
""",
    ),
]

# The seed's own cells, pasted into the student cells as they are in the course material.
SEED_002 = {
    "imports": """\
from keras.applications import vgg19
from keras.models import Sequential,Model
from keras.layers import Dense,Dropout,Flatten
from keras.datasets import cifar10
from keras.utils import np_utils
""",
    "load-data": """\
(xtrain,ytrain),(xtest,ytest)=cifar10.load_data()
xtrain = xtrain.astype('float32')          #float conversion
xtest = xtest.astype('float32')
xtrain = xtrain/255         #specific preprocessing applied 
xtest = xtest/255
ytrain = np_utils.to_categorical(ytrain, 10)  #conversion of output into matrix
ytest = np_utils.to_categorical(ytest, 10)
""",
    "build-model": """\
# transfer learning model
model=vgg19.VGG19(weights="imagenet",include_top=False,input_shape=(32,32,3))

# adding custom layers using Functional model api of keras
x= model.output
x= Flatten()(x)
x= Dense(256,activation='relu')(x)
x = Dropout(0.5)(x)
x= Dense(125,activation='relu')(x)
pred=Dense(10,activation="softmax")(x)

#creating the final model
model=Model(inputs=model.input,outputs=pred)

# setting no. of untrained layers in our final model
for layer in model.layers[:5]:
    layer.trainable = False
    
model.compile(loss="categorical_crossentropy",
              optimizer="Adadelta",
              metrics=['accuracy'])
model.summary()
""",
    "train": """\
model.fit(xtrain, ytrain,
          batch_size=128,
          epochs=25,
          verbose=1,
          validation_data=(xtest, ytest))
""",
}

# --- mnist_transfer (seed 003) -----------------------------------------------------------------

MNIST_INTRO = """\
**You must complete the cells with ### Your code goes here ###**

# Activity 2.2 - Transfer Learning

Train a CNN on the MNIST digits 5-9, freeze its feature layers, and retrain its classification
layers on the digits 0-4. The supplementary activity reverses the process. Keep the variable
names used below (`model`, `model_sup`, `feature_layers`, `x_train_lt5`, ...): the grader looks
for them. The cells without ### Your code goes here ### are locked: the grader restores them if
they are edited. Keras 3's `'adadelta'` defaults to a learning rate of 0.001 where Keras 2 used
1.0: pass `keras.optimizers.Adadelta(learning_rate=1.0)`.
"""

MNIST_CELLS = [
    Cell(
        "imports",
        """\
from __future__ import print_function

import datetime
import keras
from keras.datasets import mnist
from keras.models import Sequential
from keras.layers import Dense, Dropout, Activation, Flatten
from keras.layers import Conv2D, MaxPooling2D
from keras import backend as K
""",
        markdown=MNIST_INTRO,
    ),
    Cell(
        "parameters",
        """\
now = datetime.datetime.now
batch_size = 128
num_classes = 5
epochs = 5
img_rows, img_cols = 28, 28
filters = 32
pool_size = 2
kernel_size = 3
""",
        markdown="Set the parameters",
    ),
    Cell(
        "input-shape",
        """\
if K.image_data_format() == 'channels_first':
    input_shape = (1, img_rows, img_cols)
else:
    input_shape = (img_rows, img_cols, 1)
""",
        markdown="Set how the input data is loaded",
    ),
    Cell(
        "train-model",
        """\
def train_model(model, train, test, num_classes):
    x_train = train[0].reshape((train[0].shape[0],) + input_shape)
    x_test = test[0].reshape((test[0].shape[0],) + input_shape)
    x_train = x_train.astype('float32')
    x_test = x_test.astype('float32')
    x_train /= 255
    x_test /= 255
    print('x_train shape:', x_train.shape)
    print(x_train.shape[0], 'train samples')
    print(x_test.shape[0], 'test samples')

    # convert class vectors to binary class matrices
    y_train = keras.utils.to_categorical(train[1], num_classes)
    y_test = keras.utils.to_categorical(test[1], num_classes)

    model.compile(loss='categorical_crossentropy',
                  optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
                  metrics=['accuracy'])

    t = now()
    model.fit(x_train, y_train,
              batch_size=batch_size,
              epochs=epochs,
              verbose=1,
              validation_data=(x_test, y_test))
    print('Training time: %s' % (now() - t))

    score = model.evaluate(x_test, y_test, verbose=0)
    print('Test score:', score[0])
    print('Test accuracy:', score[1])
""",
        student=True,
        markdown=(
            "* Write a function to include all the training steps.\n"
            "* Use the model, training set, test set and number of classes as function "
            "parameters\n* Scale the pixels to [0, 1], one-hot encode the labels, compile with "
            "Adadelta (learning rate 1.0) and categorical cross-entropy, train, and evaluate."
        ),
    ),
    Cell(
        "load-data",
        "(x_train, y_train), (x_test, y_test) = mnist.load_data()\n",
        markdown="Shuffle and split the data between train and test sets",
    ),
    Cell(
        "digit-groups",
        """\
x_train_lt5 = x_train[y_train < 5]
y_train_lt5 = y_train[y_train < 5]
x_test_lt5 = x_test[y_test < 5]
y_test_lt5 = y_test[y_test < 5]

x_train_gte5 = x_train[y_train >= 5]
y_train_gte5 = y_train[y_train >= 5] - 5
x_test_gte5 = x_test[y_test >= 5]
y_test_gte5 = y_test[y_test >= 5] - 5
""",
        student=True,
        markdown=(
            "Create two datasets\n* one with digits below 5\n* one with 5 and above, its labels "
            "shifted by 5 (so they are 0-4 too)"
        ),
    ),
    Cell(
        "feature-layers",
        """\
feature_layers = [
    Conv2D(filters, kernel_size,
           padding='valid',
           input_shape=input_shape),
    Activation('relu'),
    Conv2D(filters, kernel_size),
    Activation('relu'),
    MaxPooling2D(pool_size=pool_size),
    Dropout(0.25),
    Flatten(),
]
""",
        student=True,
        markdown=(
            "* Define the feature layers that will used for transfer learning: Conv 32 3x3, relu, "
            "Conv 32 3x3, relu, MaxPool 2, Dropout 0.25, Flatten\n"
            "* Freeze these layers during fine-tuning process"
        ),
    ),
    Cell(
        "classification-layers",
        """\
classification_layers = [
    Dense(128),
    Activation('relu'),
    Dropout(0.5),
    Dense(num_classes),
    Activation('softmax')
]
""",
        student=True,
        markdown=(
            "Define the classification layers: Dense 128, relu, Dropout 0.5, Dense 5, softmax"
        ),
    ),
    Cell(
        "model",
        "model = Sequential(feature_layers + classification_layers)\nmodel.summary()\n",
        student=True,
        markdown="Create `model` by combining the feature layers and classification layers",
    ),
    Cell(
        "train-upper",
        """\
train_model(model,
            (x_train_gte5, y_train_gte5),
            (x_test_gte5, y_test_gte5), num_classes)
""",
        markdown="Train the model on the digits 5,6,7,8,9",
    ),
    Cell(
        "freeze",
        "for l in feature_layers:\n    l.trainable = False\n",
        student=True,
        markdown="Freeze only the feature layers",
    ),
    Cell(
        "train-lower",
        """\
train_model(model,
            (x_train_lt5, y_train_lt5),
            (x_test_lt5, y_test_lt5), num_classes)
""",
        markdown="Train again the model using the 0 to 4 digits",
    ),
    Cell(
        "model-sup",
        """\
feature_layers_sup = [
    Conv2D(filters, kernel_size, padding='valid', input_shape=input_shape),
    Activation('relu'),
    Conv2D(filters, kernel_size),
    Activation('relu'),
    MaxPooling2D(pool_size=pool_size),
    Dropout(0.25),
    Flatten(),
]
classification_layers_sup = [
    Dense(128),
    Activation('relu'),
    Dropout(0.5),
    Dense(num_classes),
    Activation('softmax')
]
model_sup = Sequential(feature_layers_sup + classification_layers_sup)
""",
        student=True,
        markdown=(
            "#### Supplementary Activity\nNow reverse this training process: train `model_sup` "
            "on the digits 0-4, then finetune only its last layers on the digits 5-9."
        ),
    ),
    Cell(
        "train-sup-lower",
        """\
train_model(model_sup,
            (x_train_lt5, y_train_lt5),
            (x_test_lt5, y_test_lt5), num_classes)
""",
    ),
    Cell(
        "freeze-sup",
        "for l in feature_layers_sup:\n    l.trainable = False\n",
        student=True,
        markdown="Freeze the feature layers of `model_sup`",
    ),
    Cell(
        "train-sup-upper",
        """\
train_model(model_sup,
            (x_train_gte5, y_train_gte5),
            (x_test_gte5, y_test_gte5), num_classes)
""",
    ),
]

# Seed 003's supplementary code reuses the first model's layer objects; its train_model
# compiles with the string 'adadelta'.
SEED_003 = {
    "train-model": next(c.code for c in MNIST_CELLS if c.id == "train-model").replace(
        "keras.optimizers.Adadelta(learning_rate=1.0)", "'adadelta'"
    ),
    "model-sup": "model_sup = Sequential(feature_layers + classification_layers)\n",
    "freeze-sup": "for l in feature_layers:\n    l.trainable = False\n",
}

# --- cifar10_transfer_v2 (seed 004) ------------------------------------------------------------

V2_INTRO = """\
**You must complete the cells with ### Your code goes here ###**

# Transfer Learning on CIFAR10 dataset

The first model learns to categorise the images of the first 5 classes of CIFAR-10; the second
(trans) model reuses what it learned to categorise the next 5 classes. 80% of each set is used
for training, the other 20% for validation. Keep the variable names used below (`x1_train`,
`model`, `trans_model`, ...): the grader looks for them.
"""

V2_CELLS = [
    Cell(
        "imports",
        """\
import numpy as np
import keras
from keras.datasets import cifar10
from keras.layers import Dense, Conv2D, Flatten, MaxPooling2D, Dropout
from keras.models import Sequential
from keras.utils import to_categorical
""",
        markdown=V2_INTRO,
    ),
    Cell("load-data", "(x_train, y_train), (x_test, y_test) = cifar10.load_data()\n"),
    Cell(
        "split",
        """\
labels = y_train.reshape(-1)
X1 = x_train[labels < 5] / 255.0
Y1 = to_categorical(labels[labels < 5], 5)
X2 = x_train[labels >= 5] / 255.0
Y2 = to_categorical(labels[labels >= 5], 10)

split1 = int(0.8 * len(X1))
split2 = int(0.8 * len(X2))
x1_train, x1_val = X1[:split1], X1[split1:]
y1_train, y1_val = Y1[:split1], Y1[split1:]
x2_train, x2_val = X2[:split2], X2[split2:]
y2_train, y2_val = Y2[:split2], Y2[split2:]
""",
        student=True,
        markdown=(
            "**Split the data:** classes 0-4 into set 1 (labels one-hot, width 5), classes 5-9 "
            "into set 2 (width 10), pixels divided by 255; the first 80% of each set for training "
            "(`x1_train`, `y1_train`), the rest for validation (`x1_val`, `y1_val`)."
        ),
    ),
    Cell(
        "base-model",
        """\
model = Sequential()
model.add(Conv2D(32, (5, 5), activation='relu', input_shape=(32, 32, 3)))
model.add(Conv2D(16, (5, 5), activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Conv2D(8, (3, 3), activation='relu'))
model.add(Flatten())
model.add(Dropout(0.42))
model.add(Dense(128, activation='relu'))
model.add(Dense(5, activation='softmax'))
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
""",
        student=True,
        markdown="""\
**Build and compile `model` for the first 5 classes:**

1. Convolutional layer with 32 5x5 kernels, expecting input of shape (32, 32, 3), relu.
2. Convolutional layer with 16 5x5 kernels, relu.
3. MaxPooling layer with (2, 2) pools: (24, 24, 16) becomes (12, 12, 16).
4. Convolutional layer with 8 3x3 kernels, relu.
5. Flatten: (10, 10, 8) becomes (800,).
6. Dropout with rate 0.42.
7. Fully connected layer with 128 neurons, relu.
8. Fully connected layer with 5 neurons (softmax) - the output classes.

Compile it with Adam, categorical cross-entropy and accuracy.""",
    ),
    Cell(
        "train-base",
        """\
hist1 = model.fit(x1_train, y1_train, epochs=10, batch_size=100, shuffle=True,
                  validation_data=(x1_val, y1_val), verbose=2)
""",
    ),
    Cell(
        "transfer-model",
        """\
trans_model = Sequential()
for layer in model.layers[:6]:
    layer.trainable = False
    trans_model.add(layer)
trans_model.add(Dense(128, activation='relu'))
trans_model.add(Dense(10, activation='softmax'))
trans_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
""",
        student=True,
        markdown="""\
**Build and compile `trans_model` for classes 5-9:**

Layers 1-6: the first 6 layers of `model`, made non-trainable to preserve what they learned.
Layer 7: fully connected layer with 128 neurons, relu.
Layer 8: fully connected layer with 10 neurons (softmax) - the output classes.""",
    ),
    Cell(
        "train-transfer",
        """\
hist2 = trans_model.fit(x2_train, y2_train, epochs=10, batch_size=100, shuffle=True,
                        validation_data=(x2_val, y2_val), verbose=2)
""",
    ),
]

# Seed 004 describes its script without its code; this is that description written out the way
# its author's layer list reads.
SEED_004 = {
    "base-model": """\
model = Sequential()
model.add(Conv2D(32, kernel_size=(5, 5), input_shape=(32, 32, 3), activation='relu'))  # Layer 1
model.add(Conv2D(16, kernel_size=(5, 5), activation='relu'))  # Layer 2
model.add(MaxPooling2D(pool_size=(2, 2)))  # Layer 3: (24,24,16) -> (12,12,16)
model.add(Conv2D(8, kernel_size=(3, 3), activation='relu'))  # Layer 4
model.add(Flatten())  # Layer 5: (10,10,8) -> (800,)
model.add(Dropout(0.42))  # Layer 6
model.add(Dense(128, activation='relu'))  # Layer 7
model.add(Dense(5, activation='softmax'))  # Layer 8
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
""",
    "transfer-model": """\
trans_model = Sequential()
for layer in model.layers[:6]:  # Layers 1-6, used as they are and made non-trainable
    layer.trainable = False
    trans_model.add(layer)
trans_model.add(Dense(128, activation='relu'))  # Layer 7
trans_model.add(Dense(10, activation='softmax'))  # Layer 8
trans_model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
""",
}


@dataclass(frozen=True)
class Spec:
    """One assignment's notebooks: cells, example submissions (cell id -> (old, new)), and
    written questions (a rubric's ``[[manual]]`` items) with the examples' written answers."""

    id: str
    cells: list[Cell]
    mistakes: dict[str, dict[str, tuple[str, str] | list[tuple[str, str]]]]
    seeds: dict[str, dict[str, str]]
    written: tuple[Written, ...] = ()
    written_answers: dict[str, dict[str, str]] = field(default_factory=dict)
    """Example -> answer cell id -> what that student wrote there."""


@dataclass(frozen=True)
class Written:
    """A written question: its prompt cell, then an answer cell the student replaces."""

    id: str
    prompt: str


ANSWER_PLACEHOLDER = "*Write your answer here, in this cell.*"

# Seed 002 opens with these questions; the course graded them by hand.
VGG19_WRITTEN = (
    Written(
        "written-transfer",
        "## Written question (graded by your instructor)\n\n"
        "What is Transfer Learning? Why? How does it help?",
    ),
)

# The seed's own answer, as its student wrote it at the top of the notebook.
SEED_002_ANSWER = """\
# What is Transfer Learning?

Transfer learning, is a research problem in machine learning that focuses on storing knowledge gained while solving one problem and applying it to a different but related problem

# Why Transfer Learning?

- In practice a very few people train a Convolution network from scratch (random initialisation) because it is rare to get enough dataset. So, using pre-trained network weights as initialisations or a fixed feature extractor helps in solving most of the problems in hand.
- Very Deep Networks are expensive to train. The most complex models take weeks to train using hundreds of machines equipped with expensive GPUs.
- Determining the topology/flavour/training method/hyper parameters for deep learning is a black art with not much theory to guide you.

# How Transfer Learning helps ?

When you look at what these Deep Learning networks learn, they try to detect edges in the earlier layers, Shapes in the middle layer and some high level data specific features in the later layers. These trained networks are generally helpful in solving other computer vision problems.
"""


SPECS = [
    Spec(
        "vgg19_finetune",
        VGG19_CELLS,
        # Issue 12: the exercise (seed 002) prescribes no optimizer; Adam must cost nothing.
        {
            "adam": {
                "build-model": (
                    "optimizer=keras.optimizers.Adadelta(learning_rate=1.0)",
                    "optimizer='adam'",
                )
            }
        },
        {"seed_002": SEED_002},
        VGG19_WRITTEN,
        {"seed_002": {"written-transfer": SEED_002_ANSWER}},
    ),
    Spec(
        "mnist_transfer",
        MNIST_CELLS,
        {
            "features_not_frozen": {"freeze": ("l.trainable = False", "l.trainable = True")},
            "edited_locked_cell": {},  # made below: a locked cell edited
        },
        {"seed_003": SEED_003},
    ),
    Spec(
        "cifar10_transfer_v2",
        V2_CELLS,
        {"five_layers_frozen": {"transfer-model": ("model.layers[:6]", "model.layers[:5]")}},
        {"seed_004": SEED_004},
    ),
]


def solution_notebook(spec: Spec) -> nbformat.NotebookNode:
    cells = []
    for cell in spec.cells:
        if cell.markdown:
            md = new_markdown_cell(cell.markdown)
            md.id = f"{cell.id}-text"
            cells.append(md)
        source = f"{BEGIN}\n{cell.code}{END}\n" if cell.student else cell.code
        code = new_code_cell(source)
        code.id = cell.id
        cells.append(code)
    for question in spec.written:
        prompt = new_markdown_cell(question.prompt)
        prompt.id = f"{question.id}-text"
        answer = new_markdown_cell(ANSWER_PLACEHOLDER)
        answer.id = question.id
        cells += [prompt, answer]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["grader"] = {"assignment": spec.id}
    return t.cast(nbformat.NotebookNode, nb)


def completed(
    student: nbformat.NotebookNode,
    answers: dict[str, str],
    written: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """The released notebook with each student cell's "your code" line replaced by an answer,
    and each written answer cell's placeholder by what the student wrote."""
    nb = t.cast(nbformat.NotebookNode, nbformat.from_dict(student))
    for cell in nb.cells:
        if cell.get("id") in (written or {}):
            assert cell.source == ANSWER_PLACEHOLDER, cell.id
            cell.source = (written or {})[cell.id]
        elif cell.get("id") in answers:
            assert YOUR_CODE in cell.source, cell.id
            cell.source = cell.source.replace(YOUR_CODE + "\n", answers[cell.id], 1)
    return nb


def write_assignment(spec: Spec) -> dict[str, nbformat.NotebookNode]:
    """Write ``spec``'s solution and student notebooks and its examples; return the examples
    (before they are written: a caller may still edit a locked cell of one and write it again).

    Each mistake edits the full-marks answers, cell by cell, with one ``(old, new)`` replacement
    or a list of them, applied in order.
    """
    folder = ROOT / spec.id
    (folder / "submissions").mkdir(parents=True, exist_ok=True)
    solution = solution_notebook(spec)
    student, _, _ = release(solution)
    nbformat.write(solution, folder / "solution.ipynb")
    nbformat.write(student, folder / "student.ipynb")
    answers = {c.id: c.code for c in spec.cells if c.student}
    examples = {"full_marks": completed(student, answers)}
    for name, edits in spec.mistakes.items():
        changed = dict(answers)
        for cell_id, edit in edits.items():
            for old, new in edit if isinstance(edit, list) else [edit]:
                assert old in changed[cell_id], (name, cell_id)
                changed[cell_id] = changed[cell_id].replace(old, new)
        examples[name] = completed(student, changed)
    for name, seed_answers in spec.seeds.items():
        examples[name] = completed(
            student, {**answers, **seed_answers}, spec.written_answers.get(name)
        )
    for name, nb in examples.items():
        nbformat.write(nb, folder / "submissions" / f"{name}.ipynb")
    return examples


def main() -> None:
    for spec in SPECS:
        examples = write_assignment(spec)
        if "edited_locked_cell" in examples:
            # Training the upper digits for one epoch instead of five, in a locked cell.
            nb = examples["edited_locked_cell"]
            cell = next(c for c in nb.cells if c.get("id") == "parameters")
            cell.source = cell.source.replace("epochs = 5", "epochs = 1")
            nbformat.write(nb, ROOT / spec.id / "submissions" / "edited_locked_cell.ipynb")


if __name__ == "__main__":
    main()
