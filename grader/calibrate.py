"""Calibrate accuracy thresholds by training the reference under the submission's conditions.

The reference is trained on the same data, with the same budget caps and seed, and evaluated
on the same held-out images as every submission. Results are cached on disk, keyed by
assignment, budget, data source and fingerprint, seed and Keras version, so a class pays for
calibration once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import typing as t
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from grader import keras_env
from grader.budget import Budget
from grader.data.pretrained import PretrainedWeights
from grader.data.sets import Dataset, HeldOut
from grader.exceptions import CalibrationError
from grader.results import FitRecord, write_atomic

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


@dataclass(frozen=True)
class Calibration:
    """What training the reference under a budget measured."""

    accuracy: dict[str, float]
    """Role -> held-out accuracy of the reference."""
    fits: list[FitRecord]
    """The reference's ``fit`` calls under the same caps, histories included (for the report's
    curves beside the student's)."""


def calibration(
    assignment: Assignment,
    budget: Budget,
    ds: Dataset,
    held_out: HeldOut,
    *,
    pretrained: t.Sequence[PretrainedWeights] = (),
) -> Calibration:
    """The reference's accuracy per role and its training histories, cached on disk.

    A cache entry written before histories were kept counts as a miss, so every report can
    draw the reference's curves. ``pretrained`` are the ImageNet weights the notebook gets (or
    their absence); the reference starts from the same ones.
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
        if "fits" in cached:
            return Calibration(
                {str(k): float(v) for k, v in cached["accuracy"].items()},
                [FitRecord(**f) for f in cached["fits"]],
            )
    fits: list[FitRecord] = []
    accuracy = train_and_measure(assignment, budget, ds, held_out, fits=fits, pretrained=pretrained)
    write_atomic(
        path,
        json.dumps(
            {
                "key": key,
                "budget": budget.limits(),
                "accuracy": accuracy,
                "fits": [dataclasses.asdict(f) for f in fits],
            }
        ),
    )
    return Calibration(accuracy, fits)


def reference_source(module: str) -> bytes:
    """The source of a reference module and of the modules beside it, which it may import.

    Read, never imported: importing a reference imports TensorFlow.

    Raises:
        CalibrationError: the module cannot be found.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise CalibrationError(f"reference module {module!r} is not importable")
    origin = Path(spec.origin)
    # A variant reuses another exercise's builders (cifar10_transfer_v2 calls
    # cifar10_transfer's), so a change to any sibling must invalidate what was cached.
    siblings = sorted(p for p in origin.parent.glob("*.py") if p != origin)
    return b"".join(p.read_bytes() for p in [origin, *siblings])


def _reference_digest(assignment: Assignment, budget: Budget) -> str:
    """Changes when the reference code, the budget's caps or the accuracy checks change."""
    source = reference_source(assignment.reference)
    checks = [(c.kind, c.params) for c in assignment.checks if c.kind == "accuracy"]
    extra = json.dumps([budget.limits(), checks], sort_keys=True).encode()
    return hashlib.sha256(source + extra).hexdigest()[:10]


def train_and_measure(
    assignment: Assignment,
    budget: Budget,
    ds: Dataset,
    held_out: HeldOut,
    *,
    fits: list[FitRecord] | None = None,
    pretrained: t.Sequence[PretrainedWeights] = (),
) -> dict[str, float]:
    """Train the reference exercise under ``budget`` and measure it as submissions are.

    Args:
        assignment: the rubric naming the reference module and the accuracy checks.
        budget: the caps every reference ``fit`` runs under.
        ds: the data the notebooks receive.
        held_out: the images accuracy is measured on.
        fits: when given, one :class:`FitRecord` per reference ``fit`` call is appended to it.
        pretrained: with one application, the reference's ``train`` receives its weights
            file (or None, for random weights) as ``weights``.

    Returns:
        Role -> held-out accuracy.
    """
    from grader.checks.accuracy import evaluate_accuracy

    keras = keras_env.keras()

    reference = assignment.reference_module()

    trained: list[tuple[t.Any, dict[str, t.Any], t.Any]] = []

    def capped_fit(model: t.Any, **kwargs: t.Any) -> t.Any:
        capped, _ = budget.cap_fit(kwargs)
        history = model.fit(**capped)
        trained.append((model, {"requested": kwargs, "capped": capped}, history))
        return history

    keras.utils.set_random_seed(assignment.seed)
    try:
        extra = {"weights": pretrained[0].path} if len(pretrained) == 1 else {}
        models = reference.train(ds.x_train, ds.y_train, fit=capped_fit, **extra)
    except Exception as exc:  # any failure of the reference is the instructor's to fix
        raise CalibrationError(
            f"training the reference {assignment.reference} failed ({type(exc).__name__}: {exc}); "
            "fix the reference module before grading"
        ) from exc
    if fits is not None:
        role_of = {id(model): role for role, model in models.items()}
        fits += [
            _fit_record(role_of.get(id(model), "other"), args, history)
            for model, args, history in trained
        ]
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


def _fit_record(role: str, args: dict[str, t.Any], history: t.Any) -> FitRecord:
    requested, capped = args["requested"], args["capped"]
    runs = {str(k): [float(v) for v in vals] for k, vals in history.history.items()}
    return FitRecord(
        model=role,
        epochs_requested=int(requested.get("epochs", 1)),
        epochs_run=max((len(v) for v in runs.values()), default=0),
        samples_requested=_samples(requested.get("x")),
        samples_used=_samples(capped.get("x")),
        history=runs,
    )


def _samples(x: t.Any) -> int:
    return len(x) if hasattr(x, "__len__") else 0
