"""Write the cifar10_transfer notebooks: student template, solution, and example submissions.

The solution is the course's own code (seed 000, Problem 4) as students write it; each example
submission is the solution with one typical mistake, named by what it gets wrong. Run after
editing a cell below:  python tools/make_cifar10_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent / "assignments" / "cifar10_transfer"
YOUR_CODE = "### Your code goes here ###\n"

INTRO = """\
**You must complete the cells with ### Your code goes here ###**

## **Transfer Learning**
Transfer learning in Convolutional Neural Networks (CNNs) is a technique where a model developed
for a specific task is reused as the starting point for a model on a second, related task.

**Pre-trained Model:** a CNN is first trained on a large dataset for a task such as image
classification.

**Feature Extraction:** the pre-trained model has already learned useful features. For transfer
learning, we use the weights and architecture of this model and repurpose it for a new task.

**Fine-tuning:** the final layers are replaced with new layers specific to the new task. Only
these new layers, or sometimes the entire network, are retrained on the new dataset.

*Grading:* `grader check student.ipynb` runs this notebook at a small training budget and tells
you which parts are right. Keep the variable names used below (`x1_train`, `model`,
`new_model`, `trans_model`, ...): the grader looks for them.
"""

IMPORTS = """\
import numpy as np
from matplotlib import pyplot as plt
import keras
from keras.datasets import cifar10
from keras.layers import Dense, Conv2D, Flatten, Activation, MaxPool2D, Dropout
from keras.models import Sequential
from keras.utils import to_categorical
import time, datetime
"""

LOAD = """\
(x_train, y_train), (x_test, y_test) = cifar10.load_data()
n_examples = 50000
"""

SPLIT_SETS = """\
X1_train = []
X1_test = []
X2_train = []
X2_test = []
Y1_train = []
Y1_test = []
Y2_train = []
Y2_test = []

for ix in range(n_examples):
    if y_train[ix] < 5:
        # put data in set 1
        X1_train.append(x_train[ix]/255.0) #Dividing by 255 is for normalization
        Y1_train.append(y_train[ix])
    else:
        # put data in set 2
        X2_train.append(x_train[ix]/255.0)
        Y2_train.append(y_train[ix])

for ix in range(y_test.shape[0]):
    if y_test[ix] < 5:
        # put data in set 1
        X1_test.append(x_test[ix]/255.0)
        Y1_test.append(y_test[ix])
    else:
        # put data in set 2
        X2_test.append(x_test[ix]/255.0)
        Y2_test.append(y_test[ix])
"""

TO_ARRAYS = """\
X1_train = np.asarray(X1_train).reshape((-1, 32, 32, 3))
X1_test = np.asarray(X1_test).reshape((-1, 32, 32, 3))
X2_train = np.asarray(X2_train).reshape((-1, 32, 32, 3))
X2_test = np.asarray(X2_test).reshape((-1, 32, 32, 3))

Y1_train = to_categorical(np.asarray(Y1_train), 5)
Y1_test = to_categorical(np.asarray(Y1_test), 5)

Y2_train = to_categorical(np.asarray(Y2_train), 10)
Y2_test = to_categorical(np.asarray(Y2_test), 10)
print (X1_train.shape, X1_test.shape)
print (Y1_train.shape, Y1_test.shape)
"""

TRAIN_VAL = """\
split1 = int(0.8 * X1_train.shape[0])
split2 = int(0.8 * X2_train.shape[0])

x1_val = X1_train[split1:]
x1_train = X1_train[:split1]
y1_val = Y1_train[split1:]
y1_train = Y1_train[:split1]

x2_val = X2_train[split2:]
x2_train = X2_train[:split2]
y2_val = Y2_train[split2:]
y2_train = Y2_train[:split2]
"""

BASE_MODEL = """\
from keras.layers import MaxPooling2D
model = Sequential()
model.add(Conv2D(32, kernel_size=(4, 4), input_shape=(32, 32, 3), activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Conv2D(32, kernel_size=(4, 4), input_shape=(32, 32, 3), activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(256, activation='relu'))
model.add(Dense(5, activation='softmax'))
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
"""

TRAIN_BASE = """\
start = datetime.datetime.now()
hist1 = model.fit(x1_train, y1_train,
         epochs=10,
         shuffle=True,
         batch_size=100,
         validation_data=(x1_val, y1_val), verbose=2)

time_taken = datetime.datetime.now() - start
print ('\\n'*2, '-'*20, '\\n')
print ('Time taken for first training: ', time_taken)
print ('\\n', '-'*20, '\\n'*2)
"""

TRANSFER_MODEL = """\
previous_model = model
new_model = Sequential()
for layer in previous_model.layers[:5]:
    layer.trainable = False
    new_model.add(layer)

new_model.add(Dense(128, activation='relu'))
new_model.add(Dense(10, activation='softmax'))
new_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
"""

TRAIN_TRANSFER = """\
trans_model = new_model
start = datetime.datetime.now()
hist2 = trans_model.fit(x2_train, y2_train, epochs=10, shuffle=True, batch_size=100, validation_data=(x2_val, y2_val), verbose=2)
time_taken = datetime.datetime.now() - start
print ('\\n'*2, '-'*20, '\\n')
print ('Time taken for final training: ', time_taken)
print ('\\n', '-'*20, '\\n'*2)
"""

# (markdown, code, students write it?)
CELLS: list[tuple[str, str, bool]] = [
    (INTRO, IMPORTS, False),
    (
        "**We load the cifar 10 dataset then separate the first 5 classes of data as the first "
        "training set.**\n**Images with labels less than 5 are put in set 1, and the rest are put "
        "in set 2. Data is also normalized by dividing by 255.**",
        LOAD,
        False,
    ),
    ("", SPLIT_SETS, True),
    (
        "**Convert the lists to NumPy arrays and reshape them to the correct input format. Labels "
        "are one-hot encoded for classification** (width 5 for set 1, width 10 for set 2).",
        TO_ARRAYS,
        True,
    ),
    (
        "**Split the training data into training and validation sets using an 80-20 split** "
        "(`x1_train`, `y1_train`, `x1_val`, `y1_val`, and the same for set 2).",
        TRAIN_VAL,
        True,
    ),
    (
        """**Build and compile Keras CNN model for classification.** Call it `model`.

Your layers should be arranged like this:

Layer 1. Convolutional layer with 32 4x4 kernels, expecting input of shape (32, 32, 3) and using relu as activation function.

Layer 2. 2DMaxPooling layer which pool_size is 2x2.

Layer 3. Convolutional layer with 32 4x4 kernels, using relu as activation function.

Layer 4. 2DMaxPooling layer which pool_size is 2x2.

Layer 5. Flatten layer

Layer 6. Fully connected layer with 256 neurons, using relu as activation function.

Layer 7. Fully connected layer with 5 neurons - acting as the final output classes.

Compile it with the Adam optimizer, categorical cross-entropy loss and the accuracy metric.""",
        BASE_MODEL,
        True,
    ),
    ("**Now it's time to train the network.**", TRAIN_BASE, False),
    (
        """**Build and compile the transfer model (`new_model`) for classes 5..9.**

Layer 1-5: First 5 layers of the previous model (basically the convoluted layers) are used as it is in this model. Further they are made non-trainable to preserve the information gained by them while training of previous model.

Layer 6: Fully connected layer with 128 neurons, using relu as activation function.

Layer 7. Fully connected layer with 10 neurons - acting as the final output classes.""",
        TRANSFER_MODEL,
        True,
    ),
    ("**Now it's time to train the 2nd Part**", TRAIN_TRANSFER, False),
]

# name -> (cell code to replace, replacement): one typical mistake each.
MISTAKES: dict[str, tuple[str, str]] = {
    "not_frozen": ("    layer.trainable = False\n", ""),
    "recreated_layers": (
        "for layer in previous_model.layers[:5]:\n    layer.trainable = False\n    new_model.add(layer)\n",
        "new_model.add(Conv2D(32, kernel_size=(4, 4), input_shape=(32, 32, 3), activation='relu', trainable=False))\n"
        "new_model.add(MaxPooling2D(pool_size=(2, 2), trainable=False))\n"
        "new_model.add(Conv2D(32, kernel_size=(4, 4), activation='relu', trainable=False))\n"
        "new_model.add(MaxPooling2D(pool_size=(2, 2), trainable=False))\n"
        "new_model.add(Flatten(trainable=False))\n",
    ),
    "wrong_kernel_size": (
        "model.add(Conv2D(32, kernel_size=(4, 4), input_shape=(32, 32, 3), activation='relu'))\nmodel.add(MaxPooling2D(pool_size=(2, 2)))\nmodel.add(Conv2D(32, kernel_size=(4, 4)",
        "model.add(Conv2D(32, kernel_size=(4, 4), input_shape=(32, 32, 3), activation='relu'))\nmodel.add(MaxPooling2D(pool_size=(2, 2)))\nmodel.add(Conv2D(32, kernel_size=(3, 3)",
    ),
    "wrong_dense_width": (
        "new_model.add(Dense(128, activation='relu'))",
        "new_model.add(Dense(64, activation='relu'))",
    ),
    # Seed 001's own mistake: trans_model is used but never defined.
    "name_error": ("trans_model = new_model\n", ""),
}


def notebook(solution: bool, mistake: str | None = None) -> nbformat.NotebookNode:
    cells = []
    for markdown, code, students_write in CELLS:
        if markdown:
            cells.append(new_markdown_cell(markdown))
        given = "" if students_write and not solution else code
        if mistake:
            old, new = MISTAKES[mistake]
            given = given.replace(old, new)
        cells.append(new_code_cell((YOUR_CODE + given) if students_write else given))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["grader"] = {"assignment": "cifar10_transfer"}
    return nb


def main() -> None:
    nbformat.write(notebook(solution=False), ROOT / "student.ipynb")
    nbformat.write(notebook(solution=True), ROOT / "solution.ipynb")
    examples = ROOT / "submissions"
    examples.mkdir(exist_ok=True)
    nbformat.write(notebook(solution=True), examples / "full_marks.ipynb")
    for name, (old, _) in MISTAKES.items():
        text = "".join(code for _, code, _ in CELLS)
        assert old in text, f"{name}: the text to replace is not in the solution"
        nbformat.write(notebook(solution=True, mistake=name), examples / f"{name}.ipynb")
    nbformat.write(late_crash(), examples / "late_crash.ipynb")


def late_crash() -> nbformat.NotebookNode:
    """Everything right, then a last cell kills the kernel (as a segfault or memory would):
    the models built and trained before it are still judged."""
    nb = notebook(solution=True)
    nb.cells.append(new_markdown_cell("**Plot the training curves.**"))
    nb.cells.append(new_code_cell(LATE_CRASH))
    return nb


LATE_CRASH = """\
import os
# A plotting library that crashes the process: the kernel dies here, after all the work.
os._exit(1)
"""


if __name__ == "__main__":
    main()
