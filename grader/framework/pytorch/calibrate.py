"""Calibrate a PyTorch assignment: train the reference as a notebook is run, measure it alike.

The reference's ``train(data_root=...)`` runs in this process under the same
:class:`~grader.framework.pytorch.kernel.runtime.Runtime` as a student's kernel: the same served
data, the same DataLoader caps and training-pass budget, the same seed. Each role's module is then
exported to ONNX and measured on the held-back images by the judge's own
:class:`~grader.framework.pytorch.judge.models.OnnxClassifier`, as a student's is. Every patch the
runtime makes is undone afterwards.
"""

from __future__ import annotations

import io
import typing as t

from grader.budget import Budget
from grader.data.sets import Dataset, save_arrays
from grader.exceptions import CalibrationError
from grader.results import FitRecord
from grader.scratch import scratch_folder

if t.TYPE_CHECKING:
    from grader.rubric import Assignment


def train_reference_torch(
    assignment: Assignment,
    budget: Budget,
    ds: Dataset,
    *,
    seed: int,
    fits: list[FitRecord] | None = None,
) -> dict[str, t.Any]:
    """Train the PyTorch reference under ``budget``; its models as the judge sees a student's.

    Args:
        assignment: the rubric (its ``[torch]`` table and reference module).
        budget: the caps every DataLoader pass runs under.
        ds: the data the notebooks receive.
        seed: PyTorch's seed for this training.
        fits: when given, one record per role's training is appended to it.

    Returns:
        Role -> an :class:`~grader.framework.pytorch.judge.models.OnnxClassifier` of the reference's
        module, fed as the reference's own test transform feeds it.

    Raises:
        CalibrationError: the reference failed to train or to export.
    """
    from grader.framework.pytorch.environment import without_triton

    without_triton()  # this process may hold TensorFlow (a Keras assignment graded before)
    from grader.framework.pytorch.judge.artefacts import test_normalisation, training_runs
    from grader.framework.pytorch.judge.models import OnnxClassifier
    from grader.framework.pytorch.judge.records import parse_pass
    from grader.framework.pytorch.kernel.export import export_onnx
    from grader.framework.pytorch.kernel.runtime import Runtime

    spec = assignment.torch
    assert spec is not None
    reference = assignment.reference_module()
    with scratch_folder("calibrate") as tmp:
        data = tmp / "data.npz"
        save_arrays(
            data, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test
        )
        runtime = Runtime(
            {
                "seed": seed,
                "dataset": ds.name,
                "data_path": str(data),
                "data_note": ds.source,
                "budget": {"name": budget.name, **budget.limits()},
                "roles": {},
                "artefacts": None,
                "torch": {"input_shape": list(spec.input_shape), "quiet": True},
            }
        )
        runtime.install()
        try:
            models = reference.train(data_root=str(tmp / "data"))
            exported = {}
            for role, module in models.items():
                buffer = io.BytesIO()
                export_onnx(module, spec.input_shape, buffer)
                exported[role] = buffer.getvalue()
            roles = {role: runtime.optimizers.of_module(module) for role, module in models.items()}
        except Exception as exc:  # any failure of the reference is the instructor's to fix
            raise CalibrationError(
                f"training the reference {assignment.reference} failed "
                f"({type(exc).__name__}: {exc}); fix the reference module before grading"
            ) from exc
        finally:
            runtime.uninstall()
    passes = [parse_pass({k: v for k, v in p.items() if k != "source"}, "") for p in runtime.passes]
    if fits is not None:
        fits += training_runs(passes, roles)
    mean, std = test_normalisation(passes, spec)
    return {
        role: OnnxClassifier(data, input_shape=spec.input_shape, mean=mean, std=std)
        for role, data in exported.items()
    }
