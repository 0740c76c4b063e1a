"""The check registry and what every check receives and returns."""

from __future__ import annotations

import functools
import traceback
import typing as t
from dataclasses import dataclass, field

import numpy as np

from grader.artefacts.folder import Artefacts, MissingInput
from grader.budget import Budget
from grader.checks.image_index import TrainingImages
from grader.data.sets import Dataset, HeldOut
from grader.results import CheckResult

if t.TYPE_CHECKING:
    from grader.rubric import Assignment, CheckSpec


@dataclass(frozen=True)
class Verdict:
    """A check's finding: passed or not, why, and the evidence."""

    passed: bool
    message: str = ""
    details: dict[str, t.Any] = field(default_factory=dict)
    judged: bool = True
    """False: the evidence cannot decide (an accuracy check at a budget that cannot tell a
    correct model from an untrained one); the check's status is ``not_judged``."""


@dataclass
class CheckContext:
    """What a check may look at. Nothing in it comes unvalidated from the student's kernel."""

    artefacts: Artefacts
    assignment: Assignment
    given: Dataset
    """The data the kernel was given (to verify what the notebook did with it)."""
    held_out: HeldOut
    """Test data the kernel never saw."""
    budget: Budget
    reference_figures: dict[str, float]
    """Check id -> what the reference measured on the same check, trained under the same
    budget, data and seed (its held-out accuracy, for an accuracy check)."""
    pretrained_available: bool = True
    """False when a pretrained model's ImageNet weights were missing and random ones used."""
    current: CheckSpec | None = None
    """The check being judged (set by :func:`run_check`)."""
    built_references: dict[tuple[str | None, ...], t.Any] = field(default_factory=dict)
    """The reference's models built so far, by how they were built (see
    :func:`grader.checks.architecture.build_reference`): checks only read them."""

    def reference_figure(self, name: str = "") -> float:
        """What the reference measured on the current check (its calibrated figure), or
        another figure calibration keeps for it (``"spread"``: see :mod:`grader.calibrate`)."""
        assert self.current is not None
        return self.reference_figures[figure_key(self.current.id, name)]

    @functools.cached_property
    def reference(self) -> t.Any:
        return self.assignment.reference_module()

    @functools.cached_property
    def training_images(self) -> TrainingImages:
        """The training images the kernel was given, to recognise a notebook's by content."""
        return TrainingImages(self.given.x_train, self.given.y_train)


def figure_key(check_id: str, name: str = "") -> str:
    """The key of a check's calibrated figure: ``base.accuracy``, ``base.accuracy/spread``."""
    return f"{check_id}/{name}" if name else check_id


def sampled_image_problems(
    ctx: CheckContext,
    x_name: str,
    images: np.ndarray,
    rows: t.Sequence[int],
    labels: np.ndarray,
    *,
    scale: float,
    offset: int = 0,
) -> list[str]:
    """Sampled images must be the grader's own training images, labelled ``true - offset``.

    Args:
        ctx: gives the true label of every training image.
        x_name: the notebook variable the images come from.
        images: the sampled rows of it, as the notebook scaled them.
        rows: their row numbers in the variable.
        labels: the notebook's integer label of every row.
        scale: what the notebook divided pixels by.
        offset: how far the notebook shifted labels down.
    """
    shape = ctx.given.x_train.shape[1:]
    if not len(rows):
        return [] if not len(images) else [f"no {x_name} images were sampled to judge"]
    if int(np.prod(images.shape[1:])) != int(np.prod(shape)):
        # Images that cannot be the grader's are never a reason to pass.
        return [
            f"{x_name} holds images of shape {images.shape[1:]}; the training images are "
            f"{shape}, so they cannot be recognised"
        ]
    images = images.reshape((len(images), *shape))  # (n, 28, 28, 1) holds the same images
    known = ctx.training_images
    unknown = mislabelled = 0
    for row, image in zip(rows, images, strict=True):
        true = known.label_of(np.rint(image * scale).clip(0, 255))
        if true is None:
            unknown += 1
        elif row < len(labels) and int(labels[row]) != true - offset:
            mislabelled += 1
    problems = []
    if unknown:
        problems.append(
            f"{unknown} of {len(rows)} sampled {x_name} images are not training images "
            f"divided by {scale:g}"
        )
    if mislabelled:
        problems.append(
            f"{mislabelled} of {len(rows)} sampled {x_name} images carry the wrong label"
        )
    return problems


CheckFn = t.Callable[[CheckContext, t.Any], Verdict]
ReferenceMeasure = t.Callable[[t.Any, HeldOut, t.Any, Budget], float]
"""``(reference model, held-out data, params, budget) -> a figure`` the check's threshold is
calibrated on (see :mod:`grader.calibrate`)."""


@dataclass(frozen=True)
class CheckKind:
    """A registered check function and the typed parameters the rubric must give it."""

    fn: CheckFn
    params: type
    """A frozen dataclass (see :mod:`grader.checks.params`), validated when the rubric loads."""
    doc: str
    measure_reference: ReferenceMeasure | None = None
    """For checks whose threshold comes from the reference trained under the same budget:
    how to measure the reference's model (calibration calls it; the check reads the figure
    from :attr:`CheckContext.reference_figures`)."""


REGISTRY: dict[str, CheckKind] = {}


def register(
    kind: str, params: type, *, measure_reference: ReferenceMeasure | None = None
) -> t.Callable[[CheckFn], CheckFn]:
    """Make a check function available to rubrics under ``kind``, with its params dataclass."""

    def wrap(fn: CheckFn) -> CheckFn:
        REGISTRY[kind] = CheckKind(fn, params, (fn.__doc__ or "").strip(), measure_reference)
        return fn

    return wrap


def run_check(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Judge one rubric check; never raises."""
    status: t.Literal["pass", "fail", "error", "not_judged"]
    ctx.current = spec
    try:
        verdict = REGISTRY[spec.kind].fn(ctx, spec.params)
        status = "pass" if verdict.passed else "fail"
        if not verdict.judged:
            status = "not_judged"
        message, details = verdict.message, verdict.details
    except MissingInput as exc:
        status, message, details = "fail", str(exc), {"missing": True}
    except Exception as exc:  # one broken check must not stop the others
        status = "error"
        message = f"the grader could not judge this check: {type(exc).__name__}: {exc}"
        details = {"traceback": traceback.format_exc(limit=6)}
    return spec.result(status, message, details)
