"""What a PyTorch module is, as plain data: its module tree and the operations ``forward`` runs.

One description for every side: the kernel describes the student's module (the judge then
validates that JSON and checks it against the exported ONNX graph), and calibration and the
judge describe the reference module with the same code, so like is compared with like.

Operations come from ``torch.fx`` symbolic tracing with shape propagation on a small example
input. The many spellings of one operation get one name: ``F.relu(x)``, ``torch.relu(x)``,
``x.relu()`` and an ``nn.ReLU`` module are all ``ReLU``; ``x.view(-1, n)``, ``torch.flatten``
and ``nn.Flatten`` all ``Flatten``; ``F.log_softmax`` and ``nn.LogSoftmax`` ``LogSoftmax``
(with its ``dim`` counted from the front). A forward that cannot be traced (data-dependent
control flow) has no operations here; the judge then reads them from the ONNX graph.
"""

from __future__ import annotations

import typing as t

MAX_MODULES = 500
MAX_OPS = 2000

# The fields that define what a module computes; names and initialisers are the student's.
_FIELDS: dict[str, tuple[str, ...]] = {
    "Conv1d": ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    "Linear": ("in_features", "out_features"),
    "MaxPool2d": ("kernel_size", "stride", "padding"),
    "AvgPool2d": ("kernel_size", "stride", "padding"),
    "Dropout": ("p",),
    "Dropout2d": ("p",),
    "BatchNorm1d": ("num_features",),
    "BatchNorm2d": ("num_features",),
    "LogSoftmax": ("dim",),
    "Softmax": ("dim",),
    "LeakyReLU": ("negative_slope",),
}
_PAIRS = ("kernel_size", "stride", "padding")
"""Fields of 2-d layers given as an int or a pair: always a pair here."""

_FUNCTIONS: dict[str, str] = {
    "relu": "ReLU",
    "relu_": "ReLU",
    "max_pool2d": "MaxPool2d",
    "avg_pool2d": "AvgPool2d",
    "dropout": "Dropout",
    "log_softmax": "LogSoftmax",
    "softmax": "Softmax",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "leaky_relu": "LeakyReLU",
    "flatten": "Flatten",
    "view": "Flatten",
    "reshape": "Flatten",
    "add": "Add",
    "iadd": "Add",
    "mul": "Mul",
    "cat": "Concat",
}
_MODULE_TYPES = {"Identity": None}
"""Modules that compute nothing (skipped)."""


def pair(value: t.Any) -> list[t.Any]:
    """An int or a pair as a pair (``2`` and ``(2, 2)`` are the same pooling)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return [_plain(value), _plain(value)]


def _plain(value: t.Any) -> t.Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return str(value)


def module_config(module: t.Any) -> dict[str, t.Any]:
    """The defining fields of one module, as JSON-ready values."""
    kind = type(module).__name__
    config: dict[str, t.Any] = {}
    for name in _FIELDS.get(kind, ()):
        value = getattr(module, name, None)
        if name == "stride" and value is None:  # pooling: no stride means the kernel size
            value = getattr(module, "kernel_size", None)
        config[name] = pair(value) if name in _PAIRS and kind.endswith("2d") else _plain(value)
    if kind.startswith("Conv"):
        dilation = pair(getattr(module, "dilation", 1))
        if any(d != 1 for d in dilation):
            config["dilation"] = dilation
        if getattr(module, "groups", 1) != 1:
            config["groups"] = _plain(module.groups)
    return config


def _count(params: t.Iterable[t.Any]) -> tuple[int, int]:
    trainable = frozen = 0
    for p in params:
        if p.requires_grad:
            trainable += int(p.numel())
        else:
            frozen += int(p.numel())
    return trainable, frozen


def module_tree(module: t.Any) -> list[dict[str, t.Any]]:
    """Every submodule (not the root) with its type, fields and own parameter count."""
    out: list[dict[str, t.Any]] = []
    for path, child in module.named_modules():
        if not path:
            continue
        if len(out) >= MAX_MODULES:
            break
        trainable, frozen = _count(child.parameters(recurse=False))
        out.append(
            {
                "path": path[:200],
                "type": type(child).__name__[:100],
                "config": module_config(child),
                "params": trainable + frozen,
                "trainable": frozen == 0,
            }
        )
    return out


def parameter_counts(module: t.Any) -> dict[str, int]:
    """Trainable and frozen parameter counts (``requires_grad``)."""
    trainable, frozen = _count(module.parameters())
    return {"trainable": trainable, "non_trainable": frozen}


def describe(module: t.Any, input_shape: t.Sequence[int]) -> dict[str, t.Any]:
    """The module tree, the traced operations and parameter counts of ``module``.

    Args:
        module: an ``nn.Module``; it is traced in eval mode and left in the mode it was in.
        input_shape: one example's shape, channels first (``(3, 32, 32)``).

    Returns:
        ``{"class", "modules", "ops", "ops_source", "trace_error", "parameters"}``; ``ops`` is
        None (``ops_source`` ``"none"``) when ``forward`` cannot be traced.
    """
    ops: list[dict[str, t.Any]] | None
    try:
        ops, error = trace_ops(module, input_shape), ""
    except Exception as exc:  # any student forward may defeat tracing; that is a finding
        ops, error = None, f"{type(exc).__name__}: {exc}"[:500]
    return {
        "class": type(module).__name__[:100],
        "modules": module_tree(module),
        "ops": ops,
        "ops_source": "fx" if ops is not None else "none",
        "trace_error": error,
        "parameters": parameter_counts(module),
    }


def trace_ops(module: t.Any, input_shape: t.Sequence[int]) -> list[dict[str, t.Any]]:
    """The operations ``forward`` runs, in order, each with its output shape.

    Raises:
        Exception: whatever ``torch.fx`` raises on a forward it cannot trace.
    """
    import torch
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    modes = [(m, m.training) for m in module.modules()]
    buffers = [(b, b.detach().clone()) for b in module.buffers()]
    try:
        # Traced in training mode: `F.dropout(x, p, training=self.training)` is read as the
        # dropout it is in training, as `nn.Dropout` is. Shapes are propagated in eval mode,
        # and the buffers put back, so nothing the student's module holds is changed.
        module.train()
        traced = symbolic_trace(module)
        module.eval()
        with torch.no_grad():
            ShapeProp(traced).propagate(torch.zeros((2, *input_shape)))
    finally:
        for sub, training in modes:
            sub.training = training
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
    modules = dict(module.named_modules())
    ops: list[dict[str, t.Any]] = []
    for node in traced.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.op in ("placeholder", "output", "get_attr") or not hasattr(meta, "shape"):
            continue  # inputs, outputs, and arithmetic on sizes (x.size(0)) compute no layer
        shape = [None, *[int(d) for d in meta.shape[1:]]]
        op = _op(node, modules, len(shape))
        if op is None:
            continue
        ops.append({**op, "output_shape": shape})
        if len(ops) > MAX_OPS:
            raise ValueError(f"forward runs more than {MAX_OPS} operations")
    return _merge_flatten(ops)


def _op(node: t.Any, modules: dict[str, t.Any], rank: int) -> dict[str, t.Any] | None:
    if node.op == "call_module":
        sub = modules[node.target]
        kind = type(sub).__name__
        if kind in _MODULE_TYPES:
            return None
        config = module_config(sub)
        if kind in ("LogSoftmax", "Softmax") and isinstance(config.get("dim"), int):
            config["dim"] = config["dim"] % rank
        if kind == "Flatten":
            config = {}
        trainable, frozen = _count(sub.parameters())
        return {
            "name": str(node.target)[:200],
            "type": kind[:100],
            "config": config,
            "params": trainable + frozen,
            "trainable": frozen == 0,
        }
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    kind = _FUNCTIONS.get(name.lstrip("_"), name)
    config = _function_config(kind, node, rank)
    if kind == "Dropout" and _argument(node, 2, "training", True) is False:
        return None  # F.dropout(x, training=False) does nothing
    label = name if node.op == "call_method" else f"{getattr(target, '__module__', '')}.{name}"
    return {
        "name": label.replace("torch.nn.functional", "F")[:200],
        "type": kind[:100],
        "config": config,
        "params": 0,
        "trainable": True,
    }


def _argument(node: t.Any, index: int, key: str, default: t.Any) -> t.Any:
    if key in node.kwargs:
        return node.kwargs[key]
    return node.args[index] if len(node.args) > index else default


def _function_config(kind: str, node: t.Any, rank: int) -> dict[str, t.Any]:
    if kind in ("LogSoftmax", "Softmax"):
        dim = _argument(node, 1, "dim", None)
        return {"dim": dim % rank if isinstance(dim, int) else _plain(dim)}
    if kind == "Dropout":
        return {"p": _plain(_argument(node, 1, "p", 0.5))}
    if kind in ("MaxPool2d", "AvgPool2d"):
        kernel = _argument(node, 1, "kernel_size", None)
        stride = _argument(node, 2, "stride", None)
        padding = _argument(node, 3, "padding", 0)
        return {
            "kernel_size": pair(kernel),
            "stride": pair(stride if stride not in (None, ()) else kernel),
            "padding": pair(padding),
        }
    if kind == "LeakyReLU":
        return {"negative_slope": _plain(_argument(node, 1, "negative_slope", 0.01))}
    return {}


def _merge_flatten(ops: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """A reshape that keeps the rank (``x.view(x.size(0), 64, 2, 2)``) is not a flatten."""
    out = []
    previous_rank = None
    for op in ops:
        rank = len(op["output_shape"])
        if op["type"] == "Flatten" and previous_rank is not None and rank >= previous_rank:
            op = {**op, "type": "Reshape"}
        out.append(op)
        previous_rank = rank
    return out
