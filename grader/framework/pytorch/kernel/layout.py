"""Names of the files a PyTorch kernel leaves for judging, shared by the writer and the readers.

Imports nothing heavy: the grader's evidence collector reads these names without importing
PyTorch. Everything is written under ``<artefacts>/torch/``, each file once, under a new name:

    torch/cell-<n>.json     what cell n (its execution count) did: DataLoader passes, optimizer
                            steps and losses, scikit-learn metric calls, optimizers created
    torch/model-<role>.onnx the role's module, exported (weights as data, no code)
    torch/model-<role>.json the role's module tree and the operations its forward runs

The grader copies them out of the kernel's reach after every cell (:mod:`grader.judge.evidence`), so
a later cell cannot rewrite what an earlier one recorded.
"""

from __future__ import annotations

import re

FOLDER = "torch"
CELL_FILE = re.compile(r"cell-(\d{1,6})\.json")
MODEL_FILE = re.compile(r"model-([A-Za-z_][A-Za-z0-9_]{0,63})\.(onnx|json)")
PER_CELL: dict[str, re.Pattern[str]] = {
    FOLDER: re.compile(rf"{CELL_FILE.pattern}|{MODEL_FILE.pattern}"),
}
"""Sub-folder -> names the evidence collector takes from it after every cell."""


def cell_file(execution_count: int) -> str:
    """The record of the cell with this execution count."""
    return f"cell-{execution_count}.json"


def model_files(role: str) -> tuple[str, str]:
    """The ONNX file and the description of a role's module."""
    return f"model-{role}.onnx", f"model-{role}.json"
