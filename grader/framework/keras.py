"""Keras: the framework of the course's first assignments, and the grader's default."""

from __future__ import annotations

import typing as t
from pathlib import Path

from grader.budget import sample_count
from grader.kernel import layout

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

PRELOAD = "import keras"
"""What a warm kernel runs at start, before any submission is known: grader code only."""


class Keras:
    """Keras 3 notebooks: the kernel runtime of :mod:`grader.kernel.runtime`, ``.keras`` files
    judged by :mod:`grader.artefacts.folder`."""

    name: Name = "keras"
    preload = PRELOAD
    kernel_program = "grader.kernel.forked"
    pip_extras: tuple[str, ...] = ("tensorflow",)
    capped = "every fit/evaluate/predict call was"
    live_check = True
    estimates_cost = True
    per_cell = layout.PER_CELL  # fit records and weight snapshots

    def warm_judge(self) -> None:
        from grader import keras_env

        keras_env.keras()

    def versions(self) -> dict[str, str]:
        return {}  # Keras', TensorFlow's and NumPy's are in every grade's versions

    def kernel_cells(
        self, spec: Assignment, nb: nbformat.NotebookNode, config: dict[str, t.Any]
    ) -> tuple[str, str]:
        from grader.kernel.cells import finish_code, setup_code

        return setup_code(config), finish_code()

    def offline_weights(self, spec: Assignment, options: GradeOptions) -> list[Path]:
        # keras.applications bases a notebook may build besides the rubric's
        from grader.data.pretrained import offline_weights

        return offline_weights(spec.pretrained, options.weights_dir)

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
        from grader import keras_env
        from grader.exceptions import CalibrationError

        keras = keras_env.keras()
        reference = assignment.reference_module()
        trained: list[tuple[t.Any, dict[str, t.Any], t.Any]] = []

        def capped_fit(model: t.Any, **kwargs: t.Any) -> t.Any:
            capped, _ = budget.cap_fit(kwargs)
            history = model.fit(**capped)
            trained.append((model, {"requested": kwargs, "capped": capped}, history))
            return history

        keras.utils.set_random_seed(seed)
        try:
            extra = {"weights": pretrained[0].path} if len(pretrained) == 1 else {}
            # TensorFlow's C++ runtime logs to stderr when training starts (see keras_env).
            with keras_env.quiet_stderr():
                models: dict[str, t.Any] = reference.train(
                    ds.x_train, ds.y_train, fit=capped_fit, **extra
                )
        except Exception as exc:  # any failure of the reference is the instructor's to fix
            raise CalibrationError(
                f"training the reference {assignment.reference} failed "
                f"({type(exc).__name__}: {exc}); fix the reference module before grading"
            ) from exc
        if fits is not None:
            role_of = {id(model): role for role, model in models.items()}
            fits += [
                _fit_record(role_of.get(id(model), "other"), args, history)
                for model, args, history in trained
            ]
        return models

    def read_artefacts(self, folder: Path, spec: Assignment, *, max_bytes: int) -> Artefacts:
        from grader.artefacts.folder import read_artefacts

        return read_artefacts(folder, max_bytes=max_bytes)

    def kit_models(self, spec: Assignment, public: list[t.Any]) -> dict[str, dict[str, t.Any]]:
        return {}


def _fit_record(role: str, args: dict[str, t.Any], history: t.Any) -> FitRecord:
    from grader.results import FitRecord

    requested, capped = args["requested"], args["capped"]
    runs = {str(k): [float(v) for v in vals] for k, vals in history.history.items()}
    return FitRecord(
        model=role,
        epochs_requested=int(requested.get("epochs", 1)),
        epochs_run=max((len(v) for v in runs.values()), default=0),
        samples_requested=sample_count(requested.get("x")) or 0,
        samples_used=sample_count(capped.get("x")) or 0,
        history=runs,
    )


KERAS = Keras()
