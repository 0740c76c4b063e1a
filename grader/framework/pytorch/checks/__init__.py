"""PyTorch's checks (kinds ``torch_architecture``, ``torch_transforms``, ``torch_optimizer``,
``torch_metrics``): functions of :class:`~grader.framework.pytorch.judge.artefacts.TorchArtefacts`,
registered with the others of :mod:`grader.checks` when this package is imported (runs in the
judge)."""

from __future__ import annotations

# Importing each module registers its checks.
from grader.framework.pytorch.checks import (  # noqa: F401
    architecture,
    metrics,
    optimizer,
    transforms,
)
