"""The seam between the grader and the framework a course's notebooks are written in.

Everything that differs between a Keras assignment and a PyTorch one, from the kernel's first
import to the judge's artefact reader, is a method of :class:`Framework`; the grader asks
:func:`framework_of` once, from the rubric (a ``[torch]`` table names PyTorch), and calls the
answer. Nothing else in the grader branches on the framework. A third framework is one more
implementation of this protocol (otter-grader's ``runners/abstract_runner.py`` plays the same
part for languages).

Implementations import their framework lazily: choosing one imports neither Keras nor PyTorch.
PyTorch's is a package grouped by stage (:mod:`grader.framework.pytorch`: ``kernel/``,
``judge/``, ``checks/``), the shape a third framework's takes.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    import re

    import nbformat

    from grader.artefacts.folder import Artefacts
    from grader.budget import Budget
    from grader.data.pretrained import PretrainedWeights
    from grader.data.sets import Dataset
    from grader.options import GradeOptions
    from grader.results import FitRecord
    from grader.rubric import Assignment

Name = t.Literal["keras", "torch"]


class Framework(t.Protocol):
    """What the grader needs to know of a framework, and to have it do."""

    name: Name
    """The judge's ``--framework`` and the name reports give."""
    preload: str
    """The kernel's first code, run while the submission is not known yet (a warm kernel)."""
    kernel_program: str
    """The module a fork-server forks this framework's warm kernels with, its ``preload``
    imported once (see :mod:`grader.sandbox.zygote`)."""
    pip_extras: tuple[str, ...]
    """The grader's extras a Gradescope image installs for it."""
    capped: str
    """What a budget caps, as the budget's notice says it."""
    live_check: bool
    """Whether ``kit.check()`` can judge its live models inside a notebook."""
    estimates_cost: bool
    """Whether the judge estimates a model's cost from its graph before evaluating it."""
    per_cell: dict[str, re.Pattern[str]]
    """Sub-folders of the kernel's artefacts -> the names of the files its runtime writes there
    during a cell, which the grader takes out of the kernel's reach after every cell
    (:mod:`grader.judge.evidence`)."""

    def versions(self) -> dict[str, str]:
        """Versions a grade depends on beyond :func:`grader.versions.versions`."""
        ...

    def warm_judge(self) -> None:
        """In the judge, before any submission is known: import what judging needs (the slow
        part, done while the notebook still runs)."""
        ...

    def kernel_cells(
        self, spec: Assignment, nb: nbformat.NotebookNode, config: dict[str, t.Any]
    ) -> tuple[str, str]:
        """The grader's first and last cells, given the setup ``config``."""
        ...

    def offline_weights(self, spec: Assignment, options: GradeOptions) -> list[Path]:
        """Pretrained weights a notebook may load besides the rubric's, copied into its
        sandbox."""
        ...

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
        """Train the reference under ``budget``: its models by role."""
        ...

    def read_artefacts(self, folder: Path, spec: Assignment, *, max_bytes: int) -> Artefacts:
        """In the judge: what the kernel left, read as untrusted input."""
        ...

    def kit_models(self, spec: Assignment, public: list[t.Any]) -> dict[str, dict[str, t.Any]]:
        """A kit's expected models this framework describes itself, by builder, for the public
        checks ``public`` (Keras' are the kit's own JSON configurations: none here)."""
        ...


def framework_named(name: Name) -> Framework:
    """The framework of this name (the judge's ``--framework``)."""
    return {f.name: f for f in every_framework()}[name]


def every_framework() -> tuple[Framework, ...]:
    """Every framework the grader knows, Keras first."""
    from grader.framework.keras import KERAS
    from grader.framework.pytorch import PYTORCH

    return KERAS, PYTORCH


def framework_of(spec: Assignment) -> Framework:
    """The framework ``spec``'s notebooks are written in: PyTorch for a ``[torch]`` rubric,
    else Keras."""
    if spec.torch is not None:
        from grader.framework.pytorch import PYTORCH

        return PYTORCH
    from grader.framework.keras import KERAS

    return KERAS
