"""Calibrate thresholds by training the reference under the submission's conditions.

The reference is trained on the same data, with the same budget caps and seed, and measured on
the same held-out images as every submission, by each check kind that calibrates (see
``measure_reference`` in :mod:`grader.checks.base`). Results are cached on disk, keyed by
assignment, budget, data source and fingerprint, seed and Keras version, so a class pays for
calibration once. Trusted code on trusted data: this runs in the grader's process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import statistics
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader import keras_env
from grader.budget import Budget
from grader.checks.base import REGISTRY, figure_key
from grader.checks.cost import reference_costs
from grader.data.cache import cache_dir
from grader.data.prepare import PreparedData
from grader.data.pretrained import PretrainedWeights
from grader.data.sets import Dataset, HeldOut
from grader.exceptions import CalibrationError
from grader.framework import framework_of
from grader.results import FitRecord, write_atomic
from grader.sandbox.limits import ARITHMETIC_THREADS
from grader.versions import versions

if t.TYPE_CHECKING:
    from grader.rubric import Assignment


@dataclass(frozen=True)
class Calibration:
    """What training the reference under a budget measured."""

    figures: dict[str, float]
    """Check id -> what the reference measured for that check (its held-out accuracy, for an
    accuracy check; the mean over its runs), and ``<check id>/spread`` -> the standard
    deviation over the runs, where there were several (see :func:`runs_at`)."""
    fits: list[FitRecord]
    """The reference's ``fit`` calls under the same caps, histories included (for the report's
    curves beside the student's)."""


def calibration(
    assignment: Assignment,
    budget: Budget,
    data: PreparedData,
    *,
    pretrained: t.Sequence[PretrainedWeights] = (),
) -> Calibration:
    """The reference's accuracy per role and its training histories, cached on disk.

    A cache entry written before histories were kept counts as a miss, so every report can
    draw the reference's curves. ``pretrained`` are the ImageNet weights the notebook gets (or
    their absence); the reference starts from the same ones.
    """
    if assignment.kit is not None:
        # A student kit: the reference was trained when the kit was built, never here.
        from grader.rubric.kit import find_calibration

        found = find_calibration(
            assignment.kit,
            budget.name,
            data.visible.source,
            data.fingerprint,
            [w.fingerprint for w in pretrained],
        )
        return Calibration(found.figures, [FitRecord(**f) for f in found.fits])
    key = "-".join(
        [
            assignment.id,
            budget.name,
            data.visible.source,
            data.fingerprint,
            str(assignment.seed),
            versions()["keras"],
            # Another thread count is another arithmetic (see ARITHMETIC_THREADS).
            f"t{ARITHMETIC_THREADS}",
            *(f"{dist}={v}" for dist, v in framework_of(assignment).versions().items()),
            _reference_digest(assignment, budget),
            *(w.fingerprint for w in pretrained),
        ]
    )
    path = cache_dir() / "calibration" / f"{key}.json"
    if path.is_file():
        return _cached(path)
    # Two graders that share the cache (two batches, parallel test workers) would otherwise
    # both train the same reference: the second waits for the first and reads its entry.
    with _held(path.with_name(f"{key}.lock")):
        if path.is_file():
            return _cached(path)
        return _calibrate(assignment, budget, data, pretrained, key, path)


def _cached(path: Path) -> Calibration:
    cached = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(
        {str(k): float(v) for k, v in cached["figures"].items()},
        [FitRecord(**f) for f in cached["fits"]],
    )


@contextlib.contextmanager
def _held(lock: Path) -> t.Iterator[None]:
    """An exclusive ``flock()`` on ``lock`` for the block; the system drops it if we die."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _calibrate(
    assignment: Assignment,
    budget: Budget,
    data: PreparedData,
    pretrained: t.Sequence[PretrainedWeights],
    key: str,
    path: Path,
) -> Calibration:
    fits: list[FitRecord] = []
    runs = [
        train_and_measure(
            assignment,
            budget,
            data.visible,
            data.held_out,
            fits=fits if run == 0 else None,
            pretrained=pretrained,
            seed=assignment.seed + run,
        )
        for run in range(runs_at(assignment, budget))
    ]
    figures = combine_runs(runs) | reference_costs(assignment)
    write_atomic(
        path,
        json.dumps(
            {
                "key": key,
                "budget": budget.limits(),
                "figures": figures,
                "fits": [dataclasses.asdict(f) for f in fits],
            }
        ),
    )
    return Calibration(figures, fits)


def reference_source(assignment: Assignment) -> bytes:
    """The source of an assignment's reference module and of the modules beside it, which it
    may import; for a student kit, its public spec (which stands in for the reference).

    Read, never imported: importing a reference imports TensorFlow.

    Raises:
        CalibrationError: the module cannot be found in the course folder.
    """
    if assignment.kit is not None:
        return json.dumps(assignment.kit, sort_keys=True).encode()
    module = assignment.reference
    folder = assignment.reference_dir()
    origin: Path | None = None
    if folder is not None:
        rest = module.split(".")[1:]
        candidates = [
            folder.joinpath(*rest).with_suffix(".py"),
            folder.joinpath(*rest, "__init__.py"),
        ]
        origin = next((p for p in candidates if p.is_file()), None)
    if origin is None:
        raise CalibrationError(
            f"reference module {module!r} is not in the course folder {assignment.course}"
        )
    # A variant reuses another exercise's builders (cifar10_transfer_v2 calls
    # cifar10_transfer's), so a change to any sibling must invalidate what was cached.
    siblings = sorted(p for p in origin.parent.glob("*.py") if p != origin)
    return b"".join(p.read_bytes() for p in [origin, *siblings])


def _reference_digest(assignment: Assignment, budget: Budget) -> str:
    """Changes when the reference code, the budget's caps or the calibrated checks change."""
    source = reference_source(assignment)
    checks = [
        (c.id, c.kind, dataclasses.asdict(c.params))
        for c in assignment.checks
        if REGISTRY[c.kind].measure_reference is not None
    ]
    runs = runs_at(assignment, budget)
    extra = json.dumps([budget.limits(), checks, runs], sort_keys=True).encode()
    return hashlib.sha256(source + extra).hexdigest()[:10]


def runs_at(assignment: Assignment, budget: Budget) -> int:
    """How many times the reference is trained at ``budget``: once at ``smoke`` (it must stay
    cheap), the rubric's ``reference_runs`` otherwise."""
    return 1 if budget.name == "smoke" else assignment.reference_runs


def combine_runs(runs: t.Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of each figure over the runs, and with two runs or more its spread.

    Example:
        >>> combine_runs([{"a": 0.5}, {"a": 0.7}])
        {'a': 0.6, 'a/spread': 0.1414}
    """
    figures: dict[str, float] = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        figures[key] = round(statistics.fmean(values), 6)
        if len(values) > 1:
            figures[figure_key(key, "spread")] = round(statistics.stdev(values), 4)
    return figures


def train_and_measure(
    assignment: Assignment,
    budget: Budget,
    ds: Dataset,
    held_out: HeldOut,
    *,
    fits: list[FitRecord] | None = None,
    pretrained: t.Sequence[PretrainedWeights] = (),
    seed: int | None = None,
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
        seed: Keras' seed for this training (default: the assignment's).

    Returns:
        Check id -> the reference's figure for that check.
    """
    models = framework_of(assignment).train_reference(
        assignment,
        budget,
        ds,
        seed=assignment.seed if seed is None else seed,
        fits=fits,
        pretrained=pretrained,
    )
    with keras_env.quiet_stderr():
        return _measure(assignment, models, held_out, budget)


def _measure(
    assignment: Assignment, models: dict[str, t.Any], held_out: HeldOut, budget: Budget
) -> dict[str, float]:
    """Each calibrated check's figure, measured on the reference's models."""
    figures = {}
    for check in assignment.checks:
        measure = REGISTRY[check.kind].measure_reference
        if measure is not None:
            figures[check.id] = measure(models[check.params.model], held_out, check.params, budget)
    return figures
