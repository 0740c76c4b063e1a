"""Write the notebooks of cifar10_cnn_torch and mnist_cnn_torch (course seed 001, Problem 3).

For each assignment: ``solution.ipynb``, ``student.ipynb`` made from it by ``grader release``,
and example ``submissions/``: the solution (``full_marks``), one typical mistake each (named
after it), and the course seed's own code pasted in as a student would (``seed_001a``,
``seed_001b``). The seed's text lost its underscores and indentation in extraction; here it is
written back as Python needs it, and nothing else is changed, except where noted below.
Run after editing a cell:  python tools/make_torch_notebooks.py
"""

from __future__ import annotations

from make_course_notebooks import Cell, Spec, write_assignment

TRAIN_LOOP = """\
history = {'train_loss': [], 'train_acc': [], 'val_loss': [], 'val_acc': []}
for epoch in range(n_epochs):
    running_loss = 0
    running_acc = 0
    model.train()
    for X, y in trainloader:
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = model(X)
        loss = criterion(y_hat, y)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        running_acc += accuracy(y_hat, y)
    history['train_loss'].append(running_loss / len(trainloader))
    history['train_acc'].append(running_acc / len(trainloader))
    if epoch % val_per_epoch == val_per_epoch - 1:
        running_loss = 0
        running_acc = 0
        model.eval()
        with torch.no_grad():
            for X, y in valloader:
                X, y = X.to(device), y.to(device)
                y_hat = model(X)
                running_loss += criterion(y_hat, y).item()
                running_acc += accuracy(y_hat, y)
        history['val_loss'].append(running_loss / len(valloader))
        history['val_acc'].append(running_acc / len(valloader))
        print(f'Epoch {epoch + 1}/{n_epochs}: validation loss {history["val_loss"][-1]:.4f}, '
              f'validation accuracy {history["val_acc"][-1]:.4f}')
"""
"""The course's training loop: the first model's cell, and the dropout model's after its
new optimizer (the seed notebook repeats it, as students do)."""

# --- cifar10_cnn_torch (seed 001, Problem 3 part a) ---------------------------------------------

CIFAR_INTRO = """\
**You must complete the cells with ### Your code goes here ###**

# CIFAR-10 with a CNN in PyTorch: augmentation, dropout, metrics

Load CIFAR-10 with `torchvision.datasets.CIFAR10`, augment the training images (random
horizontal flips, random 32x32 crops of the image padded by 4), train a CNN with a hand-written
loop, evaluate it with scikit-learn, then add dropout and do it again.

Keep the variable names used below (`trainset`, `valset`, `trainloader`, `valloader`, `model`,
`optimizer`): the grader looks for them. It takes `model` when the training cell ends (for the
CNN, then for its dropout variant), and serves CIFAR-10 itself: nothing is downloaded. The
cells without ### Your code goes here ### are locked: the grader restores them if they are
edited.
"""

CIFAR_CELLS = [
    Cell(
        "imports",
        """\
import numpy as np
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision import datasets, transforms
from torchvision.transforms import Compose
from tqdm import tqdm

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
train_path = "./data/cifar10/train"
test_path = "./data/cifar10/test"


def accuracy(y_hat, y):
    \"\"\"Share of the batch whose highest score is the true class.\"\"\"
    return (y_hat.argmax(dim=1) == y).float().mean().item()
""",
        markdown=CIFAR_INTRO,
    ),
    Cell(
        "data",
        """\
# We used data augmentation here, what is data augmentation?
train_transform = Compose([
    transforms.RandomHorizontalFlip(p=0.5),
    transforms.RandomCrop(32, padding=4),
    transforms.ToTensor(),
    transforms.Normalize([0, 0, 0], [1, 1, 1])
])
test_transform = Compose([
    transforms.ToTensor(),
    transforms.Normalize([0, 0, 0], [1, 1, 1])
])
trainset = datasets.CIFAR10(train_path, download=True, train=True, transform=train_transform)
valset = datasets.CIFAR10(test_path, download=True, train=False, transform=test_transform)
""",
        student=True,
        markdown=(
            "**Data and augmentation.** `train_transform`: random horizontal flip (p=0.5), "
            "random crop of 32x32 with padding 4, `ToTensor`, `Normalize([0, 0, 0], [1, 1, 1])`; "
            "`test_transform`: `ToTensor` and the same `Normalize` only. What is data "
            "augmentation, and why only on the training set?"
        ),
    ),
    Cell(
        "loaders",
        """\
# DataLoaders going to help us. What are they doing?
trainloader = torch.utils.data.DataLoader(trainset, batch_size=64, shuffle=True)
valloader = torch.utils.data.DataLoader(valset, batch_size=64, shuffle=True)

dataiter = iter(trainloader)
images, labels = next(dataiter)
print(images.shape)
print(labels.shape)
""",
        student=True,
        markdown="**DataLoaders** of batch 64, shuffled; look at one batch. What are they doing?",
    ),
    Cell(
        "net",
        """\
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 64, 3)
        self.conv2 = nn.Conv2d(64, 128, 3)
        self.conv3 = nn.Conv2d(128, 256, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(-1, 64 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return F.log_softmax(x, dim=1)


model = Net().to(device)
""",
        student=True,
        markdown=(
            "**The CNN**: three convolutions of 3x3 (3 → 64 → 128 → 256 channels), each followed "
            "by ReLU and 2x2 max-pooling, then fully connected layers 1024 → 128 → 256 → 10 with "
            "ReLU between, and `log_softmax` at the end."
        ),
    ),
    Cell(
        "hyperparameters",
        """\
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
val_per_epoch = 5
n_epochs = 30
""",
        student=True,
        markdown=(
            "**Hyper-parameters**: cross-entropy loss, SGD with learning rate 0.001 and momentum "
            "0.9, 30 epochs, validation every 5 epochs."
        ),
    ),
    Cell(
        "train",
        TRAIN_LOOP,
        student=True,
        markdown=(
            "**Training loop**: for every batch, zero the gradients, forward, loss, backward, "
            "step; keep the mean loss and accuracy of each epoch in `history`, and validate on "
            "`valloader` every `val_per_epoch` epochs."
        ),
    ),
    Cell(
        "evaluate",
        """\
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, accuracy_score


def test_label_predictions(model, device, test_loader):
    model.eval()
    actuals = []
    predictions = []
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            prediction = output.argmax(dim=1, keepdim=True)
            actuals.extend(target.view_as(prediction))
            predictions.extend(prediction)
    return [i.item() for i in actuals], [i.item() for i in predictions]


actuals, predictions = test_label_predictions(model, device, valloader)
print('Accuracy: %f' % accuracy_score(actuals, predictions))
print('Confusion matrix:')
print(confusion_matrix(actuals, predictions))
print('F1 score: %f' % f1_score(actuals, predictions, average='weighted'))
print('Precision: %f' % precision_score(actuals, predictions, average='weighted'))
print('Recall: %f' % recall_score(actuals, predictions, average='weighted'))
""",
        student=True,
        markdown=(
            "**Evaluation** with scikit-learn, on the test loader's labels and the model's "
            "predictions: accuracy, confusion matrix, and F1, precision and recall with "
            "`average='weighted'`."
        ),
    ),
    Cell(
        "dropout-net",
        """\
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 64, 3)
        self.conv2 = nn.Conv2d(64, 128, 3)
        self.conv3 = nn.Conv2d(128, 256, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.do1 = nn.Dropout(0.2)
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.do2 = nn.Dropout(0.2)
        self.fc2 = nn.Linear(128, 256)
        self.do3 = nn.Dropout(0.1)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(-1, 64 * 4 * 4)
        x = self.do1(x)
        x = F.relu(self.fc1(x))
        x = self.do2(x)
        x = F.relu(self.fc2(x))
        x = self.do3(x)
        x = self.fc3(x)
        return F.log_softmax(x, dim=1)


model = Net().to(device)
""",
        student=True,
        markdown=(
            "**Adding dropout.** The same CNN with `Dropout` 0.2 before `fc1`, 0.2 before `fc2` "
            "and 0.1 before `fc3`. What is dropout? What are its advantages and disadvantages?"
        ),
    ),
    Cell(
        "train-dropout",
        "criterion = nn.CrossEntropyLoss()\n"
        "optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)\n" + TRAIN_LOOP,
        student=True,
        markdown="**Train the dropout model** as the first one: a new optimizer, the same loop.",
    ),
    Cell(
        "evaluate-dropout",
        """\
actuals, predictions = test_label_predictions(model, device, valloader)
print('Accuracy: %f' % accuracy_score(actuals, predictions))
print('Confusion matrix:')
print(confusion_matrix(actuals, predictions))
print('F1 score: %f' % f1_score(actuals, predictions, average='weighted'))
print('Precision: %f' % precision_score(actuals, predictions, average='weighted'))
print('Recall: %f' % recall_score(actuals, predictions, average='weighted'))
""",
        student=True,
        markdown="**Evaluate the dropout model** with the same metrics. How do the results compare?",
    ),
]

# The seed's code as written, indented again. Its training loop accumulates the loss and
# accuracy per batch and averages them per epoch, as its text says ("averaged at the end of the
# epoch"); its validation block keeps the seed's `for ... else`. The dropout part says "the
# other parts of this code are exactly the same": they are repeated in its cells.
SEED_001A_TRAIN = """\
#Training loop
history = dict()
history['train_loss']= list()
history['train_acc']= list()
history['val_loss']= list()
history['val_acc']= list()
for epoch in range(n_epochs):
    running_loss = 0
    running_acc = 0
    model.train()
    for idx, (X, y) in enumerate(tqdm(trainloader)):
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = model(X)
        loss = criterion(y_hat, y)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        running_acc += accuracy(y_hat, y)
    running_loss = running_loss/ len(trainloader)
    running_acc = running_acc / len(trainloader)
    history['train_loss'].append(running_loss)
    history['train_acc'].append(running_acc)
    print(f'Epoch {epoch+1}/{n_epochs} : training loss: {running_loss}, training acc: {running_acc}')
    if epoch% val_per_epoch == val_per_epoch-1:
        running_loss = 0
        running_acc = 0
        model.eval()
        with torch.no_grad():
            for idx, (X, y) in enumerate(tqdm(valloader)):
                X, y = X.to(device), y.to(device)
                y_hat = model(X)
                loss = criterion(y_hat, y)

                running_loss += loss.item()
                running_acc += accuracy(y_hat, y)

            else:
                running_loss = running_loss/ len(valloader)
                running_acc = running_acc / len(valloader)
                history['val_loss'].append(running_loss)
                history['val_acc'].append(running_acc)
                print(f'Epoch {epoch+1}/{n_epochs} : validation loss: {running_loss}, validation acc: {running_acc}')
"""

SEED_001A_HYPERPARAMETERS = """\
# Model Hyperparameters, you can change every one of them to trying it with new parameters
criterion = nn.CrossEntropyLoss() # also can use "Mean Squared Error Loss"
optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)#also can use "Adam Optimizer"
val_per_epoch = 5
n_epochs = 30
batch_size = 4
#tuning Hyperparameters is important and difficult.
"""

SEED_001A_EVALUATE = """\
from sklearn.metrics import confusion_matrix ,f1_score ,precision_score ,recall_score, accuracy_score
def test_label_predictions(model, device, test_loader):
    model.eval()
    actuals = []
    predictions = []
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            prediction = output.argmax(dim=1, keepdim=True)
            actuals.extend(target.view_as(prediction))
            predictions.extend(prediction)
    return [i.item() for i in actuals], [i.item() for i in predictions]
actuals, predictions = test_label_predictions(model, device, valloader)
print('Accuracy: %f' % accuracy_score(actuals, predictions))
print('Confusion matrix:')
print(confusion_matrix(actuals, predictions))
print('F1 score: %f' % f1_score(actuals, predictions, average='weighted'))
print('Precision: %f' % precision_score(actuals, predictions, average='weighted'))
print('Recall: %f' % recall_score(actuals, predictions, average='weighted'))
"""

SEED_001A = {
    "data": """\
# We used data augmentation here, what is data augmentation?
train_transform = Compose([
    transforms.RandomHorizontalFlip(p=0.5),
    transforms.RandomCrop(32, padding=4),
    transforms.ToTensor(),
    transforms.Normalize([0, 0, 0], [1, 1, 1])
])
test_transform = Compose([
    transforms.ToTensor(),
    transforms.Normalize([0, 0, 0], [1, 1, 1])
])
trainset = datasets.CIFAR10(train_path, download=True, train=True, transform=train_transform)
valset = datasets.CIFAR10(test_path, download=True, train=False, transform=test_transform)
""",
    "loaders": """\
# DataLoaders going to help us. What are they doing?
trainloader = torch.utils.data.DataLoader(trainset, batch_size=64, shuffle=True)
valloader = torch.utils.data.DataLoader(valset, batch_size=64, shuffle=True)
dataiter = iter(trainloader)
images ,labels = next(dataiter)
print(images.shape)
print(labels.shape)
""",
    "net": """\
#Our CNN implement, 3 conv layer, pooling before fully connected Then fully connected layer for
# outputing our 10 classes

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 64, 3)
        self.conv2 = nn.Conv2d(64, 128, 3)
        self.conv3 = nn.Conv2d(128, 256, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(-1, 64 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return F.log_softmax(x, dim=1)
model = Net()
""",
    "hyperparameters": SEED_001A_HYPERPARAMETERS,
    "train": SEED_001A_TRAIN,
    "evaluate": SEED_001A_EVALUATE,
    "dropout-net": """\
# Adding DropOut here. What is DropOut?, what is advantages and disadvantages?, how result
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 64, 3)
        self.conv2 = nn.Conv2d(64, 128, 3)
        self.conv3 = nn.Conv2d(128, 256, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.do1 = nn.Dropout(0.2) # 20% Probability
        self.fc1 = nn.Linear(64 * 4 * 4, 128)
        self.do2 = nn.Dropout(0.2) # 20% Probability
        self.fc2 = nn.Linear(128, 256)
        self.do3 = nn.Dropout(0.1) # 10% Probability
        self.fc3 = nn.Linear(256, 10)
    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(-1, 64 * 4 * 4)
        x = self.do1(x)
        x = F.relu(self.fc1(x))
        x = self.do2(x)
        x = F.relu(self.fc2(x))
        x = self.do3(x)
        x = self.fc3(x)
        return F.log_softmax(x, dim=1)
model = Net()
""",
    "train-dropout": SEED_001A_HYPERPARAMETERS + "\n" + SEED_001A_TRAIN,
    "evaluate-dropout": SEED_001A_EVALUATE,
}

# --- mnist_cnn_torch (seed 001, Problem 3 part b) -----------------------------------------------

MNIST_INTRO = """\
**You must complete the cells with ### Your code goes here ###**

# MNIST with a CNN in PyTorch

Load MNIST with `torchvision.datasets.MNIST`, normalise it, train the `MNISTClassifier` below
with Adam in a hand-written loop, and evaluate it with scikit-learn: confusion matrix, and
precision, recall and F1 weighted by class support.

Keep the variable names used below (`train_loader`, `test_loader`, `model`, `optimizer`): the
grader looks for them, and takes `model` at the end of the notebook. It serves MNIST itself:
nothing is downloaded. The cells without ### Your code goes here ### are locked.
"""

MNIST_CELLS = [
    Cell(
        "imports",
        """\
import numpy as np
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.optim as optim
from torchvision import datasets, transforms
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
""",
        markdown=MNIST_INTRO,
    ),
    Cell(
        "data",
        """\
transform = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.5,), (0.5,))
])

train_dataset = datasets.MNIST(root='./data', train=True, transform=transform, download=True)
test_dataset = datasets.MNIST(root='./data', train=False, transform=transform, download=True)

train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=128, shuffle=True)
test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=128, shuffle=False)
""",
        student=True,
        markdown=(
            "**Data**: `ToTensor`, then `Normalize((0.5,), (0.5,))` (pixels in [-1, 1]), for "
            "the training and the test set; loaders of batch 128, the training one shuffled."
        ),
    ),
    Cell(
        "net",
        """\
import torch.nn.functional as F


class MNISTClassifier(nn.Module):
    def __init__(self):
        super(MNISTClassifier, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 64 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return x


model = MNISTClassifier().to(device)
""",
        student=True,
        markdown=(
            "**The CNN**: Conv 1 → 32 and Conv 32 → 64 (3x3), each followed by ReLU and 2x2 "
            "max-pooling; then Linear 64·5·5 → 128, ReLU, Linear 128 → 10."
        ),
    ),
    Cell(
        "optimizer",
        """\
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.001)
""",
        student=True,
        markdown="**Loss and optimizer**: cross-entropy, Adam with learning rate 0.001.",
    ),
    Cell(
        "train",
        """\
num_epochs = 10
for epoch in range(num_epochs):
    model.train()
    running_loss = 0.0
    for inputs, labels in train_loader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    print(f'Epoch [{epoch + 1}/{num_epochs}], Loss: {running_loss / len(train_loader):.4f}')
""",
        student=True,
        markdown="**Training loop**: 10 epochs; print the mean loss of each.",
    ),
    Cell(
        "evaluate",
        """\
model.eval()
correct = 0
total = 0
all_preds = []
all_labels = []
with torch.no_grad():
    for images, labels in test_loader:
        images = images.to(device)
        labels = labels.to(device)
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
        all_preds.extend(predicted.cpu().numpy())
        all_labels.extend(labels.cpu().numpy())

accuracy = 100 * correct / total
precision = precision_score(all_labels, all_preds, average='weighted')
recall = recall_score(all_labels, all_preds, average='weighted')
f1 = f1_score(all_labels, all_preds, average='weighted')
conf_matrix = confusion_matrix(all_labels, all_preds)
print('Accuracy of the model on the test images: {} %'.format(accuracy))
print('Precision: {}'.format(precision))
print('Recall: {}'.format(recall))
print('F1: {}'.format(f1))
print('Confusion Matrix:\\n', conf_matrix)
plt.figure(figsize=(8, 6))
plt.imshow(conf_matrix, interpolation='nearest', cmap=plt.cm.Blues)
plt.title('Confusion Matrix')
plt.colorbar()
plt.xlabel('Predicted Label')
plt.ylabel('True Label')
plt.show()
""",
        student=True,
        markdown=(
            "**Evaluation**: accuracy, and with scikit-learn the confusion matrix and precision, "
            "recall and F1 with `average='weighted'`."
        ),
    ),
]

# Part b as the seed writes it. Where its text lost code, the missing lines are written back
# from what it says and prints: the training loop (its tqdm lines survive; 10 epochs, as its
# printed output shows, each printing the last batch's loss), and `conf_matrix`, which it
# prints and plots but whose line was lost. It computes no F1.
SEED_001B = {
    "data": """\
transform = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.5,), (0.5,))

])

train_dataset = datasets.MNIST(root='./data', train=True, transform=transform, download=True)
test_dataset = datasets.MNIST(root='./data', train=False, transform=transform, download=True)

train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=128, shuffle=True)
test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=128, shuffle=False)
""",
    "net": """\
import torch.nn.functional as F

class MNISTClassifier(nn.Module):
    def __init__(self):
        super(MNISTClassifier, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.pool = nn.MaxPool2d(2, 2)
        self.fcl = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 64 * 5 * 5)
        x = F.relu(self.fcl(x))
        x = self.fc2(x)
        return x

model = MNISTClassifier()
""",
    "optimizer": """\
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.001)
""",
    "train": """\
from tqdm import tqdm
num_epochs = 10
for epoch in range(num_epochs):
    model.train()
    running_loss = 0.0
    train_progress = tqdm(train_loader)
    train_progress.set_description(f"Epoch {epoch+1}/{num_epochs}")
    for inputs, labels in train_progress:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        train_progress.set_postfix(loss=loss.item())
    print(f'Epoch [{epoch+1}/{num_epochs}], Loss: {loss.item():.4f}')
""",
    "evaluate": """\
# Evaluate the model on GPU
model.eval()
correct = 0
total = 0
all_preds = []
all_labels = []
with torch.no_grad():
    for images, labels in test_loader:
        images = images.to(device)
        labels = labels.to(device)

        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
        all_preds.extend(predicted.cpu().numpy())
        all_labels.extend(labels.cpu().numpy())
accuracy = 100 * correct / total
error_rate = 100 - accuracy
precision = precision_score(all_labels, all_preds, average='weighted')
recall = recall_score(all_labels, all_preds, average='weighted')
conf_matrix = confusion_matrix(all_labels, all_preds)
print('Accuracy of the model on the test images: {} %'.format(accuracy))
print('Error Rate: {} %'.format(error_rate))
print('Precision: {}'.format(precision))
print('Recall: {}'.format(recall))
print('Confusion Matrix:\\n', conf_matrix)
plt.figure(figsize=(8, 6))
plt.imshow(conf_matrix, interpolation='nearest', cmap=plt.cm.Blues)
plt.title('Confusion Matrix')
plt.colorbar()
plt.xlabel('Predicted Label')
plt.ylabel('True Label')
plt.show()
""",
}

SPECS = [
    Spec(
        "cifar10_cnn_torch",
        CIFAR_CELLS,
        {
            "no_augmentation": {
                "data": (
                    "    transforms.RandomHorizontalFlip(p=0.5),\n"
                    "    transforms.RandomCrop(32, padding=4),\n",
                    "",
                )
            },
            "macro_average": {"evaluate": ("average='weighted'", "average='macro'")},
            "dropout_after_fc1": {
                "dropout-net": (
                    "        x = self.do1(x)\n        x = F.relu(self.fc1(x))\n",
                    "        x = F.relu(self.fc1(x))\n        x = self.do1(x)\n",
                )
            },
        },
        {"seed_001a": SEED_001A},
    ),
    Spec(
        "mnist_cnn_torch",
        MNIST_CELLS,
        {
            # 5x5 instead of 3x3, with the sizes after it changed to match (64 * 4 * 4).
            "conv2_5x5": {
                "net": [
                    (
                        "self.conv2 = nn.Conv2d(32, 64, kernel_size=3)",
                        "self.conv2 = nn.Conv2d(32, 64, kernel_size=5)",
                    ),
                    ("64 * 5 * 5", "64 * 4 * 4"),
                ]
            }
        },
        {"seed_001b": SEED_001B},
    ),
]


def main() -> None:
    for spec in SPECS:
        write_assignment(spec)


if __name__ == "__main__":
    main()
