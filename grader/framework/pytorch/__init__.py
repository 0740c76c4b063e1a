"""PyTorch: notebooks whose rubric has a ``[torch]`` table; their models are exported to ONNX
in the kernel and judged as data (:mod:`grader.framework.pytorch.judge.artefacts`)."""

from __future__ import annotations

import typing as t
from pathlib import Path

from grader.framework.pytorch.kernel import layout

if t.TYPE_CHECKING:
    import nbformat

    from grader.artefacts.folder import Artefacts
    from grader.budget import Budget
    from grader.data.pretrained import PretrainedWeights
    from grader.data.sets import Dataset
    from grader.framework import Name
    from grader.options import GradeOptions
    from grader.results import FitRecord
    from grader.rubric import Assignment

PRELOAD = (
    "from grader.framework.pytorch.environment import without_triton; without_triton(); "
    "import torchvision"
)
"""A warm kernel imports PyTorch (Triton blocked first, as the kernel runtime does before any
torch import: see :mod:`grader.framework.pytorch.environment`)."""


class PyTorch:
    """PyTorch notebooks: the kernel runtime of :mod:`grader.framework.pytorch.kernel.runtime`, ONNX
    graphs read through an operator allow-list in the judge."""

    name: Name = "torch"
    preload = PRELOAD
    kernel_program = "grader.framework.pytorch.kernel.forked"
    pip_extras: tuple[str, ...] = (
        "tensorflow",
        "torch",
    )  # Keras' backend too: the grader's core needs it
    capped = "every DataLoader pass and each model's training passes were"
    live_check = False
    estimates_cost = False  # an ONNX graph has its own bounds in the judge
    per_cell = layout.PER_CELL  # its records and exported models

    def warm_judge(self) -> None:
        # a PyTorch notebook's models are ONNX graphs; torch builds the reference to compare with
        from grader.framework.pytorch.environment import without_triton

        without_triton()
        import onnxruntime  # noqa: F401
        import torch  # noqa: F401

    def versions(self) -> dict[str, str]:
        from grader.versions import torch_versions

        return torch_versions()

    def kernel_cells(
        self, spec: Assignment, nb: nbformat.NotebookNode, config: dict[str, t.Any]
    ) -> tuple[str, str]:
        from grader.framework.pytorch.kernel import cells

        config = {**config, "torch": cells.kernel_options(spec, nb)}
        return cells.setup_code(config), cells.finish_code()

    def offline_weights(self, spec: Assignment, options: GradeOptions) -> list[Path]:
        return []

    def train_reference(
        self,
        assignment: Assignment,
        budget: Budget,
        ds: Dataset,
        *,
        seed: int,
        fits: list[FitRecord] | None,
        pretrained: t.Sequence[PretrainedWeights],
    ) -> dict[str, t.Any]:
        from grader.framework.pytorch.calibrate import train_reference_torch

        return train_reference_torch(assignment, budget, ds, seed=seed, fits=fits)

    def read_artefacts(self, folder: Path, spec: Assignment, *, max_bytes: int) -> Artefacts:
        from grader.framework.pytorch.judge.artefacts import read_torch_artefacts

        return read_torch_artefacts(folder, spec, max_bytes=max_bytes)

    def kit_models(self, spec: Assignment, public: list[t.Any]) -> dict[str, dict[str, t.Any]]:
        """Every PyTorch builder a public check names, described as the architecture check
        reads the reference (its layers and operations, no weights)."""
        from grader.framework.pytorch.checks.architecture import TorchArchitectureParams

        builders = [
            c.params.builder for c in public if isinstance(c.params, TorchArchitectureParams)
        ]
        if spec.torch is None or not builders:
            return {}
        from grader.framework.pytorch.checks.common import describe_reference
        from grader.framework.pytorch.environment import without_triton

        without_triton()  # Keras is loaded in this process already
        reference = spec.reference_module()
        shape = spec.torch.input_shape
        return {b: describe_reference(getattr(reference, b)(), shape) for b in builders}


PYTORCH = PyTorch()
