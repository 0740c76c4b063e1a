"""Runs inside a PyTorch notebook's kernel: a rubric role's module taken, and records written.

A role's module is exported to ONNX (:mod:`grader.framework.pytorch.kernel.export`) and described
(:mod:`grader.framework.pytorch.kernel.describe`) into the artefact folder; every record is written
once, as JSON values (:mod:`grader.framework.pytorch.kernel.values`). What is written here is
hostile input for the judge. Called by :class:`grader.framework.pytorch.kernel.runtime.Runtime`.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from grader.framework.pytorch.kernel import layout, values
from grader.framework.pytorch.kernel.describe import describe
from grader.framework.pytorch.kernel.export import export_onnx


def find_module(namespace: dict[str, t.Any], variables: t.Sequence[str]) -> str | None:
    """The first of ``variables`` that holds a ``torch.nn.Module`` in ``namespace``."""
    import torch

    for name in variables:
        if isinstance(namespace.get(name), torch.nn.Module):
            return name
    return None


def capture_module(
    module: t.Any,
    folder: Path,
    input_shape: tuple[int, ...],
    *,
    record: dict[str, t.Any],
    onnx_name: str,
    json_name: str,
) -> dict[str, t.Any]:
    """Export ``module`` to ``folder/onnx_name`` and write its description to ``json_name``.

    Args:
        module: the role's ``nn.Module``.
        folder: the kernel's PyTorch artefact folder.
        input_shape: one sample's shape, without the batch axis.
        record: what the runtime knows of it (role, variable, when, optimizers).
        onnx_name: the ONNX file's name
            (:func:`grader.framework.pytorch.kernel.layout.model_files`).
        json_name: the record's name.

    Returns:
        ``record`` with the description, or the export's error; as written.
    """
    record = dict(record)
    try:
        export_onnx(module, input_shape, folder / onnx_name)
    except Exception as exc:  # reported to the grader, never raised in the notebook
        record["error"] = f"could not export to ONNX: {type(exc).__name__}: {exc}"[:1000]
    record.update(describe(module, input_shape))
    write_once(folder / json_name, record)
    return record


def artefact_folder(artefacts: Path) -> Path:
    """The PyTorch records' folder under the kernel's artefacts, created."""
    folder = artefacts / layout.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_once(path: Path, value: dict[str, t.Any]) -> None:
    """Write ``value`` as JSON at ``path`` unless something is there: a record is never
    rewritten."""
    if path.exists():
        return
    path.write_text(json.dumps(value, default=values.plain_value, allow_nan=False), "utf-8")
