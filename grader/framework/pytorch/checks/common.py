"""What the PyTorch checks share: the validated artefacts, and the reference described alike."""

from __future__ import annotations

import io
import json
import typing as t

from grader.artefacts.folder import MissingInput
from grader.checks.base import CheckContext

if t.TYPE_CHECKING:
    from grader.framework.pytorch.judge.artefacts import TorchArtefacts


def torch_artefacts(ctx: CheckContext) -> TorchArtefacts:
    """The context's artefacts, as a PyTorch notebook left them.

    Raises:
        MissingInput: the rubric has no ``[torch]`` table (a Keras notebook was judged).
    """
    from grader.framework.pytorch.judge.artefacts import TorchArtefacts

    if not isinstance(ctx.artefacts, TorchArtefacts):
        raise MissingInput("this check judges PyTorch notebooks; the rubric has no [torch] table")
    return ctx.artefacts


def describe_reference(module: t.Any, input_shape: tuple[int, ...]) -> dict[str, t.Any]:
    """A reference module as the architecture check compares it: the kernel's description of
    it (``ops`` from its ``forward``), and ``onnx_ops``, the operations of its ONNX export as
    the judge reads a student's graph. Plain JSON: a student kit carries it."""
    from grader.framework.pytorch.environment import without_triton

    without_triton()
    from grader.framework.pytorch.judge.models import check_graph, graph_ops
    from grader.framework.pytorch.kernel.describe import describe
    from grader.framework.pytorch.kernel.export import export_onnx

    buffer = io.BytesIO()
    export_onnx(module, input_shape, buffer)
    ops = graph_ops(check_graph(buffer.getvalue(), input_shape))
    return {"kind": "torch", **describe(module, input_shape), "onnx_ops": ops}


_DESCRIBED: dict[tuple[str, str, tuple[int, ...]], dict[str, t.Any]] = {}


def reference_description(ctx: CheckContext, builder: str) -> dict[str, t.Any]:
    """The reference builder's module as :func:`describe_reference` gives it (built once per
    judge); in a student kit, as the kit's public spec carries it.

    Raises:
        MissingInput: the kit describes no such builder.
    """
    arts = torch_artefacts(ctx)
    spec = ctx.assignment
    if spec.kit is not None:
        entry = json.loads(str(spec.kit.get("models", "{}"))).get(builder)
        if not isinstance(entry, dict) or entry.get("kind") != "torch":
            raise MissingInput(f"the kit describes no PyTorch module built by {builder!r}")
        return entry
    key = (str(spec.folder), builder, arts.input_shape)
    if key not in _DESCRIBED:
        from grader.framework.pytorch.environment import without_triton

        without_triton()  # before the reference module imports torchvision
        module = getattr(ctx.reference, builder)()
        _DESCRIBED[key] = describe_reference(module, arts.input_shape)
    return _DESCRIBED[key]
