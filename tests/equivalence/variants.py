"""The course's Keras solutions written in the idioms students use, and its typical mistakes
written in those idioms too.

Each variant is the code of the student's cells, run in order (:mod:`tests.equivalence.harness`
provides the few training images: ``x1``/``y1`` and ``x2``/``y2`` for the CIFAR-10 assignments,
``xa``/``ya`` for MNIST, ``xtrain``/``ytrain`` for VGG19). A correct variant must get the
solution's structural verdicts exactly; a mistake must be caught by the same check, with the
same message, whatever idiom it is written in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CifarSpec:
    """What differs between the two CIFAR-10 transfer assignments."""

    layers: tuple[str, ...]
    """The base CNN's layers as constructor calls (no input layer)."""
    reused: int
    """How many leading layers the transfer model reuses, frozen."""
    optimizer: str = "adam"


CIFAR = {
    "cifar10_transfer": CifarSpec(
        (
            "Conv2D(32, (4, 4), activation='relu')",
            "MaxPooling2D(pool_size=(2, 2))",
            "Conv2D(32, (4, 4), activation='relu')",
            "MaxPooling2D(pool_size=(2, 2))",
            "Flatten()",
            "Dense(256, activation='relu')",
            "Dense(5, activation='softmax')",
        ),
        5,
    ),
    "cifar10_transfer_v2": CifarSpec(
        (
            "Conv2D(32, (5, 5), activation='relu')",
            "Conv2D(16, (5, 5), activation='relu')",
            "MaxPooling2D(pool_size=(2, 2))",
            "Conv2D(8, (3, 3), activation='relu')",
            "Flatten()",
            "Dropout(0.42)",
            "Dense(128, activation='relu')",
            "Dense(5, activation='softmax')",
        ),
        6,
    ),
}

IMPORTS = """\
import keras
from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense, Dropout, Input
from keras.models import Sequential, Model
"""


def _list(layers: tuple[str, ...], indent: str = "    ") -> str:
    return ",\n".join(f"{indent}{layer}" for layer in layers)


def cifar_variants(spec: CifarSpec) -> dict[str, str]:
    """The course solution (``add``) and eight other idioms, for either CIFAR-10 assignment."""
    n, opt = spec.reused, spec.optimizer
    first, rest = spec.layers[0], spec.layers[1:]
    first_with_input = first[:-1] + ", input_shape=(32, 32, 3))"
    adds = "\n".join(f"model.add({layer})" for layer in (first_with_input, *rest))
    compile_ = f"compile(optimizer='{opt}', loss='categorical_crossentropy', metrics=['accuracy'])"
    solution = f"""{IMPORTS}
model = Sequential()
{adds}
model.{compile_}
model.fit(x1, y1, epochs=1)

previous_model = model
new_model = Sequential()
for layer in previous_model.layers[:{n}]:
    layer.trainable = False
    new_model.add(layer)
new_model.add(Dense(128, activation='relu'))
new_model.add(Dense(10, activation='softmax'))
new_model.{compile_}
trans_model = new_model
trans_model.fit(x2, y2, epochs=1)
"""
    sequential_list = f"""{IMPORTS}
model = Sequential([
    Input((32, 32, 3)),
{_list(spec.layers)},
])
model.{compile_}
model.fit(x1, y1, epochs=1)

for layer in model.layers[:{n}]:
    layer.trainable = False
new_model = Sequential(model.layers[:{n}] + [Dense(128, activation='relu'),
                                            Dense(10, activation='softmax')])
new_model.{compile_}
new_model.fit(x2, y2, epochs=1)
"""
    chain = "\n".join(f"x = {layer}(x)" for layer in spec.layers[:-1])
    functional = f"""{IMPORTS}
inputs = Input(shape=(32, 32, 3))
x = inputs
{chain}
outputs = {spec.layers[-1]}(x)
model = Model(inputs=inputs, outputs=outputs)
model.{compile_}
model.fit(x1, y1, epochs=1)

inputs2 = Input(shape=(32, 32, 3))
x = inputs2
for layer in model.layers[1:{n + 1}]:
    layer.trainable = False
    x = layer(x)
x = Dense(128, activation='relu')(x)
outputs2 = Dense(10, activation='softmax')(x)
new_model = Model(inputs2, outputs2)
new_model.{compile_}
new_model.fit(x2, y2, epochs=1)
"""
    nested = f"""{IMPORTS}
model = Sequential([Input((32, 32, 3)),
{_list(spec.layers)}])
model.{compile_}
model.fit(x1, y1, epochs=1)

features = Sequential(model.layers[:{n}])
features.trainable = False
new_model = Sequential([features, Dense(128, activation='relu'), Dense(10, activation='softmax')])
new_model.{compile_}
new_model.fit(x2, y2, epochs=1)
"""
    base_as_layer = f"""{IMPORTS}
model = Sequential([Input((32, 32, 3)),
{_list(spec.layers)}])
model.{compile_}
model.fit(x1, y1, epochs=1)

features = Model(model.inputs, model.layers[{n - 1}].output)
features.trainable = False
inputs = Input((32, 32, 3))
x = features(inputs, training=False)
x = Dense(128, activation='relu')(x)
new_model = Model(inputs, Dense(10, activation='softmax')(x))
new_model.{compile_}
new_model.fit(x2, y2, epochs=1)
"""
    tf_keras = solution.replace(
        IMPORTS,
        "import tensorflow as tf\n"
        "from tensorflow.keras.layers import Conv2D, MaxPooling2D, Flatten, Dense, Dropout\n"
        "Sequential = tf.keras.Sequential\n",
    )
    renamed = re.sub(r"\bnew_model\b", "transfer", re.sub(r"\bmodel\b", "cnn", solution))
    renamed = re.sub(r"\blayer\b", "lyr", renamed) + "model = cnn\n"
    in_function = f"""{IMPORTS}
def build_base():
    m = Sequential([Input((32, 32, 3)),
{_list(spec.layers, "        ")}])
    m.{compile_}
    return m

def build_transfer(base, n_frozen={n}):
    m = Sequential()
    for layer in base.layers[:n_frozen]:
        layer.trainable = False
        m.add(layer)
    m.add(Dense(128, activation='relu'))
    m.add(Dense(10, activation='softmax'))
    m.{compile_}
    return m

model = build_base()
model.fit(x1, y1, epochs=1)
new_model = build_transfer(model)
new_model.fit(x2, y2, epochs=1)
"""
    objects = solution.replace(
        compile_,
        f"compile(optimizer=keras.optimizers.{'Adam' if opt == 'adam' else opt}(), "
        "loss=keras.losses.CategoricalCrossentropy(), "
        "metrics=[keras.metrics.CategoricalAccuracy()])",
    )
    return {
        "add": solution,
        "sequential_list": sequential_list,
        "functional": functional,
        "nested_in_sequential": nested,
        "base_called_as_layer": base_as_layer,
        "tf_keras": tf_keras,
        "renamed_variables": renamed,
        "built_in_function": in_function,
        "compile_objects": objects,
    }


def cifar_wrong_layer(spec: CifarSpec) -> tuple[str, str]:
    """The base's first convolution with 3x3 kernels: the layer to replace, and its stand-in."""
    first = spec.layers[0]
    return first, first.replace("(4, 4)", "(3, 3)").replace("(5, 5)", "(3, 3)")


def cifar_mistakes(spec: CifarSpec) -> dict[str, dict[str, str]]:
    """Typical mistakes in several idioms: mistake -> idiom -> code."""
    variants = cifar_variants(spec)
    right, wrong = cifar_wrong_layer(spec)
    right_input = right[:-1] + ", input_shape=(32, 32, 3))"
    wrong_input = wrong[:-1] + ", input_shape=(32, 32, 3))"
    # The first convolution only: in the .add() idioms it carries the input shape.
    wrong_layer = {
        idiom: (
            variants[idiom].replace(right_input, wrong_input, 1)
            if right_input in variants[idiom]
            else variants[idiom].replace(right, wrong, 1)
        )
        for idiom in ("add", "sequential_list", "functional")
    }
    not_frozen = {
        "add": variants["add"].replace("    layer.trainable = False\n", ""),
        "sequential_list": variants["sequential_list"].replace(
            f"for layer in model.layers[:{spec.reused}]:\n    layer.trainable = False\n", ""
        ),
        "nested_in_sequential": variants["nested_in_sequential"].replace(
            "features.trainable = False\n", ""
        ),
        "base_called_as_layer": variants["base_called_as_layer"].replace(
            "features.trainable = False\n", ""
        ),
    }
    return {"wrong_layer": wrong_layer, "not_frozen": not_frozen}


# --- mnist_transfer -----------------------------------------------------------------------------

MNIST_IMPORTS = """\
import keras
from keras.models import Sequential, Model
from keras.layers import Dense, Dropout, Activation, Flatten, Conv2D, MaxPooling2D, Input
input_shape = (28, 28, 1)

def train_model(model):
    model.compile(loss='categorical_crossentropy',
                  optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
                  metrics=['accuracy'])
    model.fit(xa, ya, epochs=1)
"""
FEATURES = """[
    Conv2D(32, 3, padding='valid', input_shape=input_shape),
    Activation('relu'),
    Conv2D(32, 3),
    Activation('relu'),
    MaxPooling2D(pool_size=2),
    Dropout(0.25),
    Flatten(),
]"""
CLASSIFIER = """[
    Dense(128),
    Activation('relu'),
    Dropout(0.5),
    Dense(5),
    Activation('softmax'),
]"""


def _twice(body: str) -> str:
    """The same code for ``model`` and, with ``_sup`` names, for ``model_sup``."""
    sup = body
    for name in ("model", "feature_layers", "classification_layers", "features", "head"):
        sup = re.sub(rf"\b{name}\b", f"{name}_sup", sup)
    return body + "\n" + sup


def mnist_variants() -> dict[str, str]:
    """The course solution (list concatenation) and eight other idioms."""
    solution = MNIST_IMPORTS + _twice(f"""
feature_layers = {FEATURES}
classification_layers = {CLASSIFIER}
model = Sequential(feature_layers + classification_layers)
train_model(model)
for l in feature_layers:
    l.trainable = False
train_model(model)
""")
    add = MNIST_IMPORTS + _twice(f"""
feature_layers = {FEATURES}
classification_layers = {CLASSIFIER}
model = Sequential()
for layer in feature_layers + classification_layers:
    model.add(layer)
train_model(model)
for layer in model.layers[:7]:
    layer.trainable = False
train_model(model)
""")
    functional = MNIST_IMPORTS + _twice(f"""
feature_layers = {FEATURES.replace(", input_shape=input_shape", "")}
classification_layers = {CLASSIFIER}
inputs = Input(shape=input_shape)
x = inputs
for layer in feature_layers + classification_layers:
    x = layer(x)
model = Model(inputs, x)
train_model(model)
for layer in feature_layers:
    layer.trainable = False
train_model(model)
""")
    nested = MNIST_IMPORTS + _twice(f"""
features = Sequential({FEATURES})
head = Sequential({CLASSIFIER})
model = Sequential([features, head])
train_model(model)
features.trainable = False
train_model(model)
""")
    base_as_layer = MNIST_IMPORTS + _twice(f"""
features = Sequential([Input(input_shape)] + {FEATURES.replace(", input_shape=input_shape", "")})
inputs = Input(input_shape)
x = features(inputs)
for layer in {CLASSIFIER}:
    x = layer(x)
model = Model(inputs, x)
train_model(model)
features.trainable = False
train_model(model)
""")
    tf_keras = solution.replace(
        MNIST_IMPORTS.split("input_shape")[0],
        "import tensorflow as tf\nfrom tensorflow import keras\n"
        "from tensorflow.keras.models import Sequential\n"
        "from tensorflow.keras.layers import Dense, Dropout, Activation, Flatten, Conv2D, "
        "MaxPooling2D\n",
        1,
    )
    renamed = (
        MNIST_IMPORTS
        + f"""
conv_part = {FEATURES}
dense_part = {CLASSIFIER}
net = Sequential(conv_part + dense_part)
model = net
train_model(net)
for lyr in conv_part:
    lyr.trainable = False
train_model(net)

conv_part_2 = {FEATURES}
dense_part_2 = {CLASSIFIER}
net2 = Sequential(conv_part_2 + dense_part_2)
model_sup = net2
train_model(net2)
for lyr in conv_part_2:
    lyr.trainable = False
train_model(net2)
"""
    )
    in_function = (
        MNIST_IMPORTS
        + f"""
def make_model():
    return Sequential({FEATURES} + {CLASSIFIER})

def freeze_features(m, n=7):
    for layer in m.layers[:n]:
        layer.trainable = False

model = make_model()
train_model(model)
freeze_features(model)
train_model(model)

model_sup = make_model()
train_model(model_sup)
freeze_features(model_sup)
train_model(model_sup)
"""
    )
    objects = solution.replace(
        "loss='categorical_crossentropy'", "loss=keras.losses.CategoricalCrossentropy()"
    ).replace("metrics=['accuracy']", "metrics=[keras.metrics.CategoricalAccuracy()]")
    return {
        "list_concatenation": solution,
        "add": add,
        "functional": functional,
        "nested_in_sequential": nested,
        "base_called_as_layer": base_as_layer,
        "tf_keras": tf_keras,
        "renamed_variables": renamed,
        "built_in_function": in_function,
        "compile_objects": objects,
    }


def mnist_mistakes() -> dict[str, dict[str, str]]:
    """The features left trainable for the second training, and a Dense 64 head."""
    variants = mnist_variants()
    not_frozen = {
        "list_concatenation": variants["list_concatenation"].replace(
            "    l.trainable = False\n", "    pass\n"
        ),
        "nested_in_sequential": variants["nested_in_sequential"].replace(
            ".trainable = False", ".trainable = True"
        ),
        "base_called_as_layer": variants["base_called_as_layer"].replace(
            ".trainable = False", ".trainable = True"
        ),
        "built_in_function": variants["built_in_function"].replace(
            "        layer.trainable = False\n", "        pass\n"
        ),
    }
    wrong_layer = {
        idiom: variants[idiom].replace("Dense(128)", "Dense(64)")
        for idiom in ("list_concatenation", "functional", "nested_in_sequential")
    }
    return {"not_frozen": not_frozen, "wrong_layer": wrong_layer}


# --- vgg19_finetune ----------------------------------------------------------------------------

VGG_IMPORTS = """\
import keras
from keras.applications import vgg19
from keras.models import Model, Sequential
from keras.layers import Dense, Dropout, Flatten, Input
"""
VGG_BASE = "base = vgg19.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))\n"
VGG_FREEZE = """\
for layer in base.layers:
    layer.trainable = layer.name.startswith("block5")
"""
VGG_COMPILE = """\
model.compile(loss="categorical_crossentropy",
              optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
              metrics=['accuracy'])
model.fit(xtrain, ytrain, batch_size=8, epochs=1)
"""
HEAD = (
    "Flatten()",
    "Dense(256, activation='relu')",
    "Dropout(0.5)",
    "Dense(125, activation='relu')",
    "Dense(10, activation='softmax')",
)


def vgg_variants() -> dict[str, str]:
    """The course solution (functional, from ``base.output``) and seven other idioms (VGG19 is
    the suite's costliest build: the variable renaming is the CIFAR-10 and MNIST variants').

    ``weights=None``: the ImageNet weights are the grader's business (served offline in the
    kernel); the structure is the same."""
    head_chain = "x = base.output\n" + "\n".join(f"x = {h}(x)" for h in HEAD[:-1])
    solution = f"""{VGG_IMPORTS}{VGG_BASE}{VGG_FREEZE}
{head_chain}
pred = {HEAD[-1]}(x)
model = Model(inputs=base.input, outputs=pred)
{VGG_COMPILE}"""
    nested = f"""{VGG_IMPORTS}{VGG_BASE}{VGG_FREEZE}
model = Sequential([base, {", ".join(HEAD)}])
{VGG_COMPILE}"""
    add = (
        f"""{VGG_IMPORTS}{VGG_BASE}{VGG_FREEZE}
model = Sequential()
model.add(base)
"""
        + "\n".join(f"model.add({h})" for h in HEAD)
        + "\n"
        + VGG_COMPILE
    )
    base_as_layer = (
        f"""{VGG_IMPORTS}{VGG_BASE}{VGG_FREEZE}
inputs = Input(shape=(32, 32, 3))
x = base(inputs)
"""
        + "\n".join(f"x = {h}(x)" for h in HEAD)
        + "\nmodel = Model(inputs, x)\n"
        + VGG_COMPILE
    )
    tf_keras = solution.replace(
        VGG_IMPORTS,
        "import tensorflow as tf\nfrom tensorflow import keras\n"
        "from tensorflow.keras.layers import Dense, Dropout, Flatten\n"
        "Model = tf.keras.Model\n",
    ).replace("vgg19.VGG19", "tf.keras.applications.VGG19")
    in_function = f"""{VGG_IMPORTS}
def build_model():
    {VGG_BASE}    for layer in base.layers:
        layer.trainable = layer.name.startswith("block5")
    x = Flatten()(base.output)
    x = Dense(256, activation='relu')(x)
    x = Dropout(0.5)(x)
    x = Dense(125, activation='relu')(x)
    return Model(base.input, Dense(10, activation='softmax')(x))

model = build_model()
{VGG_COMPILE}"""
    flag = solution.replace(
        VGG_FREEZE,
        """\
unfrozen = False
for layer in base.layers:
    unfrozen = unfrozen or layer.name == 'block5_conv1'
    layer.trainable = unfrozen
""",
    )
    by_index = solution.replace(
        VGG_FREEZE,
        "for layer in base.layers[:17]:\n    layer.trainable = False\n",
    )
    return {
        "functional": solution,
        "nested_in_sequential": nested,
        "add": add,
        "base_called_as_layer": base_as_layer,
        "tf_keras": tf_keras,
        "built_in_function": in_function,
        "set_trainable_flag": flag,
        "freeze_by_index": by_index,
    }


def vgg_mistakes() -> dict[str, dict[str, str]]:
    """Seed 002's freezing of the first five layers, and a Dense 128 head, in several idioms."""
    variants = vgg_variants()
    five = "for layer in base.layers[:5]:\n    layer.trainable = False\n"
    wrong_freeze = {
        idiom: variants[idiom].replace(VGG_FREEZE, five)
        for idiom in ("functional", "nested_in_sequential")
    }
    wrong_layer = {
        idiom: variants[idiom].replace("Dense(256", "Dense(128")
        for idiom in ("functional", "base_called_as_layer")
    }
    return {"wrong_freeze": wrong_freeze, "wrong_layer": wrong_layer}
