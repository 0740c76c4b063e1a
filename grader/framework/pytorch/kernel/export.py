"""A PyTorch module as ONNX: the one format the judge reads of a student's model."""

from __future__ import annotations

import io
import typing as t
import warnings
from pathlib import Path


def export_onnx(module: t.Any, input_shape: t.Sequence[int], path: Path | io.BytesIO) -> None:
    """Write ``module`` in eval mode as ONNX, batch size free (TorchScript exporter: it needs
    no package beyond PyTorch, and works offline)."""
    import torch

    was_training = module.training
    module.eval()
    try:
        parameter = next(module.parameters(), None)
        device = parameter.device if parameter is not None else "cpu"
        example = torch.zeros((1, *input_shape), device=device)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (example,),
                t.cast(t.Any, path),  # a file path or a buffer: both are written
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=17,
            )
    finally:
        module.train(was_training)
