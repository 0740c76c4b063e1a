"""A PyTorch notebook's models in the judge: ONNX graphs checked, then evaluated and compared.

The kernel exports each role's module to ONNX: the graph and its weights as data, no code. The
file is hostile input like everything the kernel writes. Before ``onnxruntime`` sees it, it is
parsed as plain protobuf (never with external data) and refused unless it is small enough, uses
only the default ONNX domain at a known opset, holds no functions, sub-graphs or external
tensors, and every node is one of the plain inference operators below (no custom operators,
nothing that allocates from a size the file chooses, such as ``Expand``, ``Tile``, ``Resize``
or ``ConstantOfShape``). It takes one image batch of the rubric's shape. Nothing the kernel
wrote is ever given to ``torch.load`` or unpickled.

The same graph gives the judge its own view of the architecture (:func:`graph_ops`), against
which the kernel's description of the module is checked (:func:`description_matches`).
"""

from __future__ import annotations

import typing as t

import numpy as np

from grader.checks.architecture import LayerSignature

MAX_ONNX_BYTES = 128 * 2**20
MAX_NODES = 2000
MAX_OPSET = 21
ALLOWED_OPS = frozenset(
    [
        "Conv",
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "BatchNormalization",
        "Gemm",
        "MatMul",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "LeakyRelu",
        "Elu",
        "Sigmoid",
        "Tanh",
        "Clip",
        "Flatten",
        "Reshape",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Concat",
        "Shape",
        "Gather",
        "Cast",
        "Identity",
        "Constant",
        "Dropout",
        "LogSoftmax",
        "Softmax",
    ]
)
_GRAPH_ATTRIBUTE_TYPES = (5, 10, 11, 12, 13)
"""ONNX ``AttributeProto`` types GRAPH, GRAPHS, SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO:
none is needed by a plain network, and sub-graphs could hide work from the checks here."""


class OnnxRefused(ValueError):  # a finding about a student's file, not a grader error
    """The ONNX file is malformed, too large, or uses something outside the allow-list."""


def check_graph(data: bytes, input_shape: t.Sequence[int]) -> t.Any:
    """Parse ``data`` as an ONNX model and check it against the allow-list.

    Args:
        data: the file's bytes.
        input_shape: one example, channels first; the graph must take ``(batch, *input_shape)``.

    Returns:
        The parsed ``onnx.ModelProto``.

    Raises:
        OnnxRefused: with the reason, for the report.
    """
    import onnx

    if len(data) > MAX_ONNX_BYTES:
        raise OnnxRefused(f"the ONNX file is larger than {MAX_ONNX_BYTES:,} bytes")
    try:
        # From bytes: protobuf only; external data is never looked for.
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises its own DecodeError and others
        raise OnnxRefused(f"not an ONNX model ({type(exc).__name__})") from exc
    if len(model.functions):
        raise OnnxRefused("the model defines functions")
    for opset in model.opset_import:
        if opset.domain not in ("", "ai.onnx"):
            raise OnnxRefused(f"the model imports the operator domain {opset.domain[:60]!r}")
        if not 1 <= opset.version <= MAX_OPSET:
            raise OnnxRefused(f"opset {opset.version} is not supported (1-{MAX_OPSET})")
    graph = model.graph
    if len(graph.node) > MAX_NODES:
        raise OnnxRefused(f"the graph has more than {MAX_NODES} nodes")
    if len(graph.sparse_initializer):
        raise OnnxRefused("the graph holds sparse tensors")
    for tensor in graph.initializer:
        _check_tensor(tensor)
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise OnnxRefused(f"node {node.name[:60]!r} is in the domain {node.domain[:60]!r}")
        if node.op_type not in ALLOWED_OPS:
            raise OnnxRefused(f"operator {node.op_type[:60]!r} is not allowed")
        for attribute in node.attribute:
            if attribute.type in _GRAPH_ATTRIBUTE_TYPES:
                raise OnnxRefused(f"node {node.name[:60]!r} has a sub-graph or sparse attribute")
            if attribute.HasField("t"):
                _check_tensor(attribute.t)
    initialised = {tensor.name for tensor in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialised]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise OnnxRefused("the graph must take one input and give one output")
    tensor_type = inputs[0].type.tensor_type
    if tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise OnnxRefused("the graph's input is not a float tensor")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
    if len(dims) != 1 + len(input_shape) or dims[1:] != list(input_shape):
        raise OnnxRefused(
            f"the graph takes {dims}; expected (batch, {', '.join(map(str, input_shape))})"
        )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError, and protobuf errors
        raise OnnxRefused(f"the ONNX model is not valid: {str(exc).splitlines()[0][:200]}") from exc
    return model


def _check_tensor(tensor: t.Any) -> None:
    import onnx

    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        raise OnnxRefused(f"tensor {tensor.name[:60]!r} refers to an external file")
    if any(d < 0 for d in tensor.dims) or int(np.prod(tensor.dims, dtype=np.float64)) > 2**28:
        raise OnnxRefused(f"tensor {tensor.name[:60]!r} declares an impossible shape")


class OnnxClassifier:
    """A checked ONNX graph behind the ``predict`` the accuracy checks call on Keras models.

    Args:
        data: the checked file's bytes (see :func:`check_graph`).
        input_shape: one example, channels first.
        mean: the per-channel mean the test transform subtracts (after ``ToTensor``).
        std: the per-channel standard deviation it divides by.
        threads: ``onnxruntime``'s intra-op threads.
    """

    def __init__(
        self,
        data: bytes,
        *,
        input_shape: t.Sequence[int],
        mean: t.Sequence[float],
        std: t.Sequence[float],
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        channels, height, width = input_shape
        # As predict_labels reads it: channels-last images, batch first.
        self.input_shape = (None, height, width, channels)
        self.mean = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)

    def predict(self, images: np.ndarray, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
        """Scores for ``images``: channels-last floats in [0, 1], as ``ToTensor`` makes them.

        Raises:
            ValueError: the graph does not give one row of scores per image.
        """
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 3:
            x = x[..., None]
        x = (x.transpose(0, 3, 1, 2) - self.mean) / self.std
        out = []
        for start in range(0, len(x), batch_size):
            (scores,) = self.session.run(None, {self.input_name: x[start : start + batch_size]})
            scores = np.asarray(scores)
            if scores.ndim != 2 or len(scores) != len(x[start : start + batch_size]):
                raise ValueError(f"the model gives scores of shape {scores.shape} per batch")
            out.append(scores)
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def graph_ops(model: t.Any) -> list[dict[str, t.Any]]:
    """The layers a checked ONNX graph computes, in the vocabulary of
    :mod:`grader.framework.pytorch.kernel.describe` (plumbing such as ``Shape`` and ``Constant``
    skipped; dropout does not survive an eval-mode export; no output shapes)."""
    from onnx import helper

    shapes = {tensor.name: list(tensor.dims) for tensor in model.graph.initializer}
    sizes = {name: int(np.prod(dims)) for name, dims in shapes.items()}
    ops: list[dict[str, t.Any]] = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weights = [shapes[i] for i in node.input if i in shapes]
        params = sum(sizes[i] for i in node.input if i in sizes)
        kind, config = _graph_op(node.op_type, attrs, weights, ops)
        if kind is None:
            continue
        if kind == "bias":  # MatMul then Add: the bias of the same Linear
            ops[-1]["params"] += params
            continue
        ops.append(
            {
                "name": (node.name or node.op_type)[:200],
                "type": kind,
                "config": config,
                "params": params,
                "trainable": True,
                "output_shape": [],
            }
        )
    return ops


def _ints(value: t.Any) -> list[int]:
    return [int(v) for v in value]


def _graph_op(
    op_type: str, attrs: dict[str, t.Any], weights: list[list[int]], ops: list[dict[str, t.Any]]
) -> tuple[str | None, dict[str, t.Any]]:
    if op_type == "Conv" and weights:
        out_channels, in_per_group, *kernel = weights[0]
        pads = _ints(attrs.get("pads", [0] * 2 * len(kernel)))
        groups = int(attrs.get("group", 1))
        config: dict[str, t.Any] = {
            "in_channels": in_per_group * groups,
            "out_channels": out_channels,
            "kernel_size": _ints(attrs.get("kernel_shape", kernel)),
            "stride": _ints(attrs.get("strides", [1] * len(kernel))),
            "padding": pads[: len(kernel)],
        }
        if any(d != 1 for d in attrs.get("dilations", [1])):
            config["dilation"] = _ints(attrs["dilations"])
        if groups != 1:
            config["groups"] = groups
        return f"Conv{len(kernel)}d", config
    if op_type in ("Gemm", "MatMul") and weights:
        shape = weights[0]
        transposed = op_type == "Gemm" and int(attrs.get("transB", 0)) == 1
        in_features, out_features = (shape[1], shape[0]) if transposed else (shape[0], shape[1])
        return "Linear", {"in_features": in_features, "out_features": out_features}
    if op_type == "Add" and weights and ops and ops[-1]["type"] == "Linear":
        return "bias", {}
    if op_type in ("MaxPool", "AveragePool"):
        kernel = _ints(attrs.get("kernel_shape", []))
        pads = _ints(attrs.get("pads", [0] * 2 * len(kernel)))
        return ("MaxPool2d" if op_type == "MaxPool" else "AvgPool2d"), {
            "kernel_size": kernel,
            "stride": _ints(attrs.get("strides", [1] * len(kernel))),
            "padding": pads[: len(kernel)],
        }
    simple = {
        "Relu": "ReLU",
        "LeakyRelu": "LeakyReLU",
        "Sigmoid": "Sigmoid",
        "Tanh": "Tanh",
        "Flatten": "Flatten",
        "Reshape": "Flatten",
        "LogSoftmax": "LogSoftmax",
        "Softmax": "Softmax",
        "Dropout": "Dropout",
        "BatchNormalization": "BatchNorm2d",
        "GlobalAveragePool": "AdaptiveAvgPool2d",
    }
    if op_type in simple:
        return simple[op_type], {}
    return None, {}


# Layers whose presence, order and defining fields the ONNX graph shows as surely as forward
# does: the kernel's description must agree with the graph on these.
_VERIFIED = {
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    "Linear": ("in_features", "out_features"),
    "MaxPool2d": ("kernel_size", "stride"),
    "AvgPool2d": ("kernel_size", "stride"),
    "ReLU": (),
    "LeakyReLU": (),
    "Sigmoid": (),
    "Tanh": (),
    "LogSoftmax": (),
    "Softmax": (),
}


def verified_sequence(ops: t.Sequence[dict[str, t.Any]]) -> list[tuple[t.Any, ...]]:
    """The layers both a description and a graph show, with the fields both know."""
    return [
        (op["type"], *(_freeze(op["config"].get(k)) for k in _VERIFIED[op["type"]]))
        for op in ops
        if op["type"] in _VERIFIED
    ]


def _freeze(value: t.Any) -> t.Any:
    return tuple(value) if isinstance(value, list) else value


def description_matches(described: t.Sequence[dict[str, t.Any]], model: t.Any) -> bool:
    """Whether the kernel's traced operations agree with the exported graph (see
    :data:`_VERIFIED`); a forged description of a different network does not."""
    return verified_sequence(described) == verified_sequence(graph_ops(model))


def signatures(ops: t.Sequence[dict[str, t.Any]]) -> list[LayerSignature]:
    """Operations as the rows :mod:`grader.checks.architecture` aligns and reports."""
    return [
        LayerSignature(
            name=str(op["name"]),
            type=str(op["type"]),
            config={k: _freeze(v) for k, v in op["config"].items()},
            output_shape=tuple(op.get("output_shape") or ()),
            params=int(op["params"]),
            trainable=bool(op["trainable"]),
        )
        for op in ops
    ]
