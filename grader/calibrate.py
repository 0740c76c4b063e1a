"""Calibrate accuracy thresholds by training the reference under the submission's conditions.

The reference is trained on the same data, with the same budget caps and seed, and evaluated
on the same held-out images as every submission. Results are cached on disk, keyed by
assignment, budget, data source and fingerprint, seed and Keras version, so a class pays for
calibration once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import typing as t
from importlib import metadata
from pathlib import Path

from grader import keras_env
from grader.budget import Budget
from grader.data import Dataset, HeldOut
from grader.exceptions import CalibrationError
from grader.pretrained import PretrainedWeights
from grader.results import write_atomic

if t.TYPE_CHECKING:
    from grader.rubric import Assignment


def cache_dir() -> Path:
    """``$GRADER_CACHE_DIR``, else ``~/.cache/keras-notebook-grader``."""
    default = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keras-notebook-grader"
    )
    return Path(os.environ.get("GRADER_CACHE_DIR", default))


def data_fingerprint(ds: Dataset, held_out: HeldOut) -> str:
    """A short digest of the data, so a different data set never reuses a calibration."""
    h = hashlib.sha256()
    for array in (ds.y_train, ds.y_test, held_out.y, ds.x_train[:64], held_out.x[:64]):
        h.update(array.tobytes())
    return h.hexdigest()[:16]


def calibrate(
    assignment: Assignment,
    budget: Budget,
    ds: Dataset,
    held_out: HeldOut,
    *,
    pretrained: t.Sequence[PretrainedWeights] = (),
) -> dict[str, float]:
    """Held-out accuracy of the reference per model role, from the cache or by training it.

    ``pretrained`` are the ImageNet weights the notebook gets (or their absence); the
    reference starts from the same ones.
    """
    key = "-".join(
        [
            assignment.id,
            budget.name,
            ds.source,
            data_fingerprint(ds, held_out),
            str(assignment.seed),
            metadata.version("keras"),
            _reference_digest(assignment, budget),
            *(w.fingerprint for w in pretrained),
        ]
    )
    path = cache_dir() / "calibration" / f"{key}.json"
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in cached["accuracy"].items()}
    accuracy = train_and_measure(assignment, budget, ds, held_out, pretrained=pretrained)
    write_atomic(path, json.dumps({"key": key, "budget": budget.limits(), "accuracy": accuracy}))
    return accuracy


def _reference_digest(assignment: Assignment, budget: Budget) -> str:
    """Changes when the reference code, the budget's caps or the accuracy checks change."""
    # Read the source without importing it: importing the reference imports TensorFlow.
    spec = importlib.util.find_spec(assignment.reference)
    if spec is None or spec.origin is None:
        raise CalibrationError(f"reference module {assignment.reference!r} is not importable")
    source = Path(spec.origin).read_bytes()
    checks = [(c.kind, c.params) for c in assignment.checks if c.kind == "accuracy"]
    extra = json.dumps([budget.limits(), checks], sort_keys=True).encode()
    return hashlib.sha256(source + extra).hexdigest()[:10]


def train_and_measure(
    assignment: Assignment,
    budget: Budget,
    ds: Dataset,
    held_out: HeldOut,
    *,
    pretrained: t.Sequence[PretrainedWeights] = (),
) -> dict[str, float]:
    """Train the reference exercise under ``budget`` and measure it as submissions are.

    With one pretrained application, the reference's ``train`` receives its weights file (or
    None, for random weights) as ``weights``.
    """
    from grader.checks.accuracy import evaluate_accuracy

    keras = keras_env.keras()

    reference = assignment.reference_module()

    def capped_fit(model: t.Any, **kwargs: t.Any) -> t.Any:
        capped, _ = budget.cap_fit(kwargs)
        return model.fit(**capped)

    keras.utils.set_random_seed(assignment.seed)
    try:
        extra = {"weights": pretrained[0].path} if len(pretrained) == 1 else {}
        models = reference.train(ds.x_train, ds.y_train, fit=capped_fit, **extra)
    except Exception as exc:  # any failure of the reference is the instructor's to fix
        raise CalibrationError(
            f"training the reference {assignment.reference} failed ({type(exc).__name__}: {exc}); "
            "fix the reference module before grading"
        ) from exc
    accuracy = {}
    for check in assignment.checks:
        if check.kind == "accuracy":
            role = check.params["model"]
            accuracy[role] = evaluate_accuracy(
                models[role],
                held_out,
                check.params["classes"],
                label_offset=check.params.get("label_offset", 0),
                scale=check.params.get("scale", 255.0),
                max_samples=budget.max_eval_samples,
            )
    return accuracy
