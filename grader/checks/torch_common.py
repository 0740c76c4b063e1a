"""What the PyTorch checks share: the validated artefacts, and the reference described alike."""

from __future__ import annotations

import functools
import io
import typing as t

from grader.checks.base import CheckContext
from grader.judge.artefacts import MissingInput

if t.TYPE_CHECKING:
    from grader.judge.torch_artefacts import TorchArtefacts


def torch_artefacts(ctx: CheckContext) -> TorchArtefacts:
    """The context's artefacts, as a PyTorch notebook left them.

    Raises:
        MissingInput: the rubric has no ``[torch]`` table (a Keras notebook was judged).
    """
    from grader.judge.torch_artefacts import TorchArtefacts

    if not isinstance(ctx.artefacts, TorchArtefacts):
        raise MissingInput("this check judges PyTorch notebooks; the rubric has no [torch] table")
    return ctx.artefacts


@functools.cache
def _reference_description(
    module_name: str, builder: str, input_shape: tuple[int, ...]
) -> tuple[dict[str, t.Any], bytes]:
    import importlib

    from grader.kernel.torch_describe import describe
    from grader.kernel.torch_runtime import export_onnx

    module = getattr(importlib.import_module(module_name), builder)()
    buffer = io.BytesIO()
    export_onnx(module, input_shape, buffer)
    return describe(module, input_shape), buffer.getvalue()


def reference_description(ctx: CheckContext, builder: str) -> tuple[dict[str, t.Any], bytes]:
    """The reference builder's module, described as the kernel describes a student's, and its
    ONNX export (built once per judge)."""
    arts = torch_artefacts(ctx)
    return _reference_description(ctx.assignment.reference, builder, arts.input_shape)
