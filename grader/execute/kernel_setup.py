"""What a submission's kernel is given (in the grader): its sandbox's key, the setup cell's
configuration, and the grader's first and last cells, Keras' or PyTorch's.

All of it is known before the submission is, so a warm kernel can be started for it ahead
(:mod:`grader.execute.warm`).
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import nbformat

from grader.budget import Budget
from grader.data.cache import cache_dir, keras_home
from grader.data.prepare import DataFiles, PreparedData
from grader.data.pretrained import WEIGHT_FILES, PretrainedWeights
from grader.execute.warm import (
    WarmKey,
    warm_key,
)
from grader.framework import framework_of
from grader.options import GradeOptions
from grader.rubric import Assignment
from grader.sandbox.confine import ENV_ALLOWED
from grader.sandbox.kernel import Sandbox


def kernel_key(
    spec: Assignment, data: DataFiles, pretrained: list[PretrainedWeights], options: GradeOptions
) -> WarmKey:
    """What the kernel's sandbox is made from, all known before the submission is."""
    # Keras' cache is hidden from the kernel: it gets its own copy of the weights.
    extra_files = [spec.folder / name for name in spec.sandbox_files]
    extra_files += [w.path for w in pretrained if w.path is not None]
    extra_files += framework_of(spec).offline_weights(spec, options)
    return warm_key(
        options.sandbox_for(spec),
        data=data.kernel_file,
        extra_files=extra_files,
        hide=_secrets(spec, options),
        env={name: os.environ.get(name, "") for name in ENV_ALLOWED},
        preload=framework_of(spec).preload,
        program=framework_of(spec).kernel_program,
    )


def kernel_config(
    spec: Assignment,
    plan: Budget,
    data: PreparedData,
    box: Sandbox,
    pretrained: list[PretrainedWeights],
) -> dict[str, t.Any]:
    """What the grader's setup cell tells the kernel (see :func:`grader.kernel.runtime.install`)."""
    return {
        "seed": spec.seed,
        "dataset": spec.dataset,
        "data_path": str(box.data),
        "data_note": data.visible.source,
        "budget": {"name": plan.name, **plan.limits()},
        "artefacts": str(box.artefacts),
        "roles": spec.roles,
        "variables": spec.variables,
        "pretrained": {w.application: w.path and str(box.work / w.path.name) for w in pretrained},
        # Other bases' weights, copied into the working folder by kernel_key's extra files.
        "offline_weights": {
            application: str(box.work / filename)
            for application, filename in WEIGHT_FILES.items()
            if application not in spec.pretrained and (box.work / filename).is_file()
        },
    }


def kernel_cells(
    spec: Assignment, nb: nbformat.NotebookNode, config: dict[str, t.Any]
) -> tuple[str, str]:
    """The grader's first and last cells: Keras' runtime, or PyTorch's for a ``[torch]`` rubric."""
    return framework_of(spec).kernel_cells(spec, nb, config)


def _secrets(spec: Assignment, options: GradeOptions) -> list[Path | None]:
    """What the kernel must not see should it lie inside the Python installation it is shown.

    The kernel's file system is an allow-list (see :func:`grader.sandbox.confine.confine`):
    none of these is mounted. They only matter where an installation holds them (a cache or
    data folder inside a virtual environment); every assignment's folder and the reference
    solutions are always covered.
    """
    return [
        cache_dir(),
        options.data_dir,
        keras_home(),
        spec.folder.parent,
        spec.reference_dir(),
        spec.course,
    ]
