"""What a student's saved Keras model may contain before the judge agrees to load it.

A ``.keras`` file is a zip of ``config.json`` (the architecture, as nested serialised objects)
and the weights. Loading it with ``safe_mode=True`` still resolves any *public* Keras function
a config names, and some of those write files (``keras.visualization.plot_image_gallery`` with a
``path``): a ``Lambda`` layer calling one runs it at ``predict``. So before anything is loaded,
the archive and its config are read here as plain data, with the standard library only, and
refused unless every serialised object is one of the built-in layers, initialisers,
regularisers, constraints, optimisers, losses and metrics listed below, and every function
reference is a built-in activation, loss or metric named by a string. No ``Lambda``, no custom
or registered objects, no ``run_eagerly``.

The judge that applies this runs sandboxed as well: this is the first of two walls.
"""

from __future__ import annotations

import json
import typing as t
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_MEMBERS = 16
MAX_CONFIG_BYTES = 16 * 2**20
MAX_DEPTH = 64


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LAYERS = _words(
    """
    InputLayer Dense EinsumDense Embedding Masking Identity
    Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose
    SeparableConv1D SeparableConv2D DepthwiseConv1D DepthwiseConv2D
    MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D
    GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D
    GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D
    Flatten Reshape Permute RepeatVector Cropping1D Cropping2D Cropping3D
    ZeroPadding1D ZeroPadding2D ZeroPadding3D UpSampling1D UpSampling2D UpSampling3D
    Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D
    GaussianNoise GaussianDropout AlphaDropout ActivityRegularization
    BatchNormalization LayerNormalization GroupNormalization UnitNormalization
    Activation ReLU LeakyReLU PReLU ELU Softmax
    Rescaling Resizing CenterCrop Normalization
    RandomFlip RandomRotation RandomZoom RandomTranslation RandomContrast RandomCrop
    RandomBrightness
    Concatenate Add Subtract Multiply Average Maximum Minimum Dot
    SimpleRNN LSTM GRU Bidirectional TimeDistributed
    """
)
_INITIALIZERS = _words(
    """
    Constant Zeros Ones GlorotNormal GlorotUniform HeNormal HeUniform LecunNormal LecunUniform
    RandomNormal RandomUniform TruncatedNormal VarianceScaling Orthogonal Identity
    IdentityInitializer
    """
)
_OPTIMIZERS = _words(
    "SGD Adam AdamW Adamax Adadelta Adagrad Adafactor Ftrl Lion Nadam RMSprop Lamb Muon"
)
_LOSSES = _words(
    """
    CategoricalCrossentropy SparseCategoricalCrossentropy BinaryCrossentropy
    BinaryFocalCrossentropy CategoricalFocalCrossentropy MeanSquaredError MeanAbsoluteError
    MeanAbsolutePercentageError MeanSquaredLogarithmicError Huber LogCosh Hinge SquaredHinge
    CategoricalHinge KLDivergence Poisson CosineSimilarity
    """
)
_METRICS = _words(
    """
    Accuracy CategoricalAccuracy SparseCategoricalAccuracy BinaryAccuracy TopKCategoricalAccuracy
    SparseTopKCategoricalAccuracy Precision Recall AUC F1Score FBetaScore Mean MeanMetricWrapper
    MeanSquaredError MeanAbsoluteError CategoricalCrossentropy SparseCategoricalCrossentropy
    BinaryCrossentropy
    """
)
_SCHEDULES = _words(
    "ExponentialDecay PiecewiseConstantDecay PolynomialDecay InverseTimeDecay CosineDecay "
    "CosineDecayRestarts"
)
ALLOWED_CLASSES: dict[str | None, frozenset[str]] = {
    "keras": frozenset({"Sequential", "Model", "Functional", "DTypePolicy", "FloatDTypePolicy"}),
    "keras.src.models.functional": frozenset({"Functional"}),
    "keras.src.models.sequential": frozenset({"Sequential"}),
    "keras.models": frozenset({"Sequential", "Model", "Functional"}),
    "keras.layers": _LAYERS,
    "keras.initializers": _INITIALIZERS,
    "keras.regularizers": frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"}),
    "keras.constraints": frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"}),
    "keras.optimizers": _OPTIMIZERS,
    "keras.optimizers.schedules": _SCHEDULES,
    "keras.losses": _LOSSES,
    "keras.metrics": _METRICS,
    # Plain data that serialisation wraps: tensors and arrays as nested lists, and the
    # placeholders a functional model's graph is written with.
    None: frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__"}),
}
"""Serialised module -> the class names a student's model may contain."""

_ACTIVATIONS = _words(
    """
    relu relu6 leaky_relu elu selu celu gelu glu sigmoid hard_sigmoid softmax log_softmax
    softplus softsign silu swish hard_silu hard_swish mish tanh hard_tanh exponential linear
    sparsemax squareplus sparse_plus sparse_sigmoid soft_shrink hard_shrink tanh_shrink
    threshold
    """
)
_LOSS_FUNCTIONS = _words(
    """
    categorical_crossentropy sparse_categorical_crossentropy binary_crossentropy
    binary_focal_crossentropy categorical_focal_crossentropy mean_squared_error
    mean_absolute_error mean_absolute_percentage_error mean_squared_logarithmic_error huber
    log_cosh hinge squared_hinge categorical_hinge kl_divergence poisson
    """
)
_METRIC_FUNCTIONS = _LOSS_FUNCTIONS | _words(
    """
    accuracy categorical_accuracy sparse_categorical_accuracy binary_accuracy
    top_k_categorical_accuracy sparse_top_k_categorical_accuracy
    """
)
ALLOWED_FUNCTIONS: dict[str, frozenset[str]] = {
    "keras.activations": _ACTIVATIONS,
    "keras.src.activations.activations": _ACTIVATIONS,
    "keras.losses": _LOSS_FUNCTIONS,
    "keras.metrics": _METRIC_FUNCTIONS,
    # What Keras writes for a built-in passed as a function (``loss=keras.losses.mse``); it
    # looks the name up in its own activations, losses, metrics (and other built-in modules).
    "builtins": _ACTIVATIONS | _METRIC_FUNCTIONS,
}
"""Module -> the functions a config may name (``{"class_name": "function", ...}``)."""
FUNCTION_REGISTERED_NAMES: tuple[str | None, ...] = (None, "function")
"""The ``registered_name`` Keras writes for a built-in function (besides the function's own
name): any other is looked up among registered custom objects before the built-ins."""


class ModelRefused(ValueError):  # a finding about a student's file, not a grader error
    """A saved model holds something the judge will not load; the message says what."""


@dataclass(frozen=True)
class KerasArchive:
    """What the judge may rely on before loading: the parsed config, checked."""

    config: dict[str, t.Any]
    compile_config: dict[str, t.Any] | None
    """The ``compile()`` arguments as saved, or None when the model was never compiled."""


def inspect_archive(path: Path, *, max_bytes: int) -> KerasArchive:
    """Read and check a ``.keras`` file's config without loading anything from it.

    Args:
        path: the archive (a regular file the grader copied; never a link).
        max_bytes: the most its members may add up to, uncompressed.

    Raises:
        ModelRefused: not a Keras archive, too large, or an object outside the allow-list.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise ModelRefused(f"the saved model holds {len(members)} files; expected 3")
            total = sum(m.file_size for m in members)
            if total > max_bytes:
                raise ModelRefused(
                    f"the saved model unpacks to {total:,} bytes, more than {max_bytes:,}"
                )
            names = {m.filename for m in members}
            if "config.json" not in names or "model.weights.h5" not in names:
                raise ModelRefused("not a Keras 3 model file (no config.json and weights)")
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                raise ModelRefused(f"the model's config is {info.file_size:,} bytes long")
            raw = archive.read(info)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelRefused(f"not a readable Keras model file ({exc})") from exc
    try:
        config = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, and RecursionError too
        raise ModelRefused(f"the model's config is not JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelRefused("the model's config is not a JSON object")
    check_config(config)
    compile_config = config.get("compile_config")
    if compile_config is not None and not isinstance(compile_config, dict):
        raise ModelRefused("the model's compile config is not a JSON object")
    return KerasArchive(config, compile_config)


def check_config(config: t.Any) -> None:
    """Refuse a model config holding anything but allow-listed built-in objects.

    Raises:
        ModelRefused: naming the first object refused and where it is.
    """
    _walk(config, "config", 0)


def _walk(node: t.Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ModelRefused(f"the model's config nests deeper than {MAX_DEPTH} levels at {where}")
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, f"{where}[{i}]", depth + 1)
        return
    if not isinstance(node, dict):
        return
    if node.get("run_eagerly") not in (None, False):
        raise ModelRefused("the model is compiled with run_eagerly; compile it without")
    if "class_name" in node:
        _check_object(node, where)
    for key, value in node.items():
        _walk(value, f"{where}.{key}", depth + 1)


def _check_object(node: dict[str, t.Any], where: str) -> None:
    module, name = node.get("module"), node.get("class_name")
    if not isinstance(name, str) or not (module is None or isinstance(module, str)):
        raise ModelRefused(f"malformed object at {where}")
    if name == "function":
        function = node.get("config")
        if module not in ALLOWED_FUNCTIONS or function not in ALLOWED_FUNCTIONS[module]:
            raise ModelRefused(
                f"the model refers to the function {module}.{function} ({where}); only built-in "
                "activations, losses and metrics, by name, can be graded"
            )
        # Keras resolves a function by its registered name first: a name of a registered
        # custom object would run that object's code whatever ``config`` says.
        registered = node.get("registered_name")
        if registered not in FUNCTION_REGISTERED_NAMES and registered != function:
            raise ModelRefused(
                f"the model refers to the function {function} registered as {registered!r} "
                f"({where}); only built-in activations, losses and metrics can be graded"
            )
        return
    if name == "Lambda" or module not in ALLOWED_CLASSES or name not in ALLOWED_CLASSES[module]:
        if module in (None, "__main__") and name != "Lambda":  # a class the notebook defined
            raise ModelRefused(
                f"the model contains {name}, a class defined in the notebook ({where}): a "
                "subclassed model or layer cannot be read without running its code; build the "
                "model with keras.Sequential([...]) or keras.Model(inputs, outputs) from "
                "built-in layers"
            )
        what = "a Lambda layer" if name == "Lambda" else f"{module}.{name}"
        raise ModelRefused(
            f"the model contains {what} ({where}); only built-in Keras layers without custom "
            "code can be graded"
        )
    registered = node.get("registered_name")
    if registered not in (None, name):
        raise ModelRefused(f"the model contains the registered custom object {registered!r}")
