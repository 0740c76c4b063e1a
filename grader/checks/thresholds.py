"""Accuracy thresholds as confidence bounds: a correct notebook passes and an untrained one
fails, each with at least the rubric's confidence (99% by default), or the check says it
cannot be judged at this budget.

Two sources of noise decide an accuracy check:

* the evaluation set: accuracy on ``n`` images is a binomial proportion, with standard error
  ``sqrt(p (1 - p) / n)``; the reference's own figure, measured on the same ``n`` images, has
  that error too;
* training: a correct notebook trained under the same budget and seed still differs from the
  reference (another initialisation, another order of operations). Calibration measures that
  spread by training the reference ``reference_runs`` times under different seeds; with one
  run, the rubric's ``assumed_spread`` stands in for it.

A correct notebook's accuracy is modelled as normal around the reference's, with variance
``spread**2 + 2 p (1 - p) / n`` (its own binomial error and the reference's); its lower bound
at the confidence is ``L``. An untrained model scores at best the share of the most frequent
class among the evaluated images (a constant prediction), ``c``, with binomial error; its
upper bound ``U`` is exact (:func:`untrained_bound`). When ``U <= L`` any threshold between
them works: the rubric's relative threshold, moved into ``[U, L]`` if it lies outside.
Otherwise no threshold can separate them, and the check does not flip a coin.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass

import numpy as np

__all__ = ["Decision", "chance_level", "decide", "untrained_bound", "z_score"]


def z_score(confidence: float) -> float:
    """The one-sided normal quantile for ``confidence``.

    Example:
        >>> round(z_score(0.99), 3)
        2.326
    """
    return statistics.NormalDist().inv_cdf(confidence)


def chance_level(y_true: np.ndarray) -> float:
    """What the best constant prediction scores on these labels: the largest class share.

    Example:
        >>> chance_level(np.array([0, 0, 1, 2]))
        0.5
    """
    if len(y_true) == 0:
        return 0.0
    return float(np.bincount(y_true.astype(np.int64) - int(y_true.min())).max() / len(y_true))


@functools.lru_cache(maxsize=256)
def untrained_bound(chance: float, images: int, confidence: float) -> float:
    """The lowest threshold an untrained model (accuracy ``chance``) reaches with probability
    at most ``1 - confidence`` on ``images`` images: one image above the binomial quantile
    (exact; the normal approximation is too kind near chance).

    Example:
        >>> untrained_bound(0.21, 1000, 0.99)
        0.241
    """
    n = max(images, 1)
    if chance <= 0:
        return 1 / n
    if chance >= 1:
        return 1.0 + 1 / n
    k = np.arange(n + 1)
    log_pmf = (
        np.vectorize(math.lgamma)(n + 1)
        - np.vectorize(math.lgamma)(k + 1)
        - np.vectorize(math.lgamma)(n - k + 1)
        + k * math.log(chance)
        + (n - k) * math.log1p(-chance)
    )
    cdf = np.cumsum(np.exp(log_pmf))
    quantile = int(np.searchsorted(cdf, confidence))
    return (quantile + 1) / n


@dataclass(frozen=True)
class Decision:
    """Whether an accuracy check can be judged on ``n`` images, and its threshold."""

    judged: bool
    threshold: float
    """The threshold used (when judged): the relative one, moved into ``[untrained_upper,
    correct_lower]`` if needed."""
    reference: float
    spread: float
    """Seed-to-seed standard deviation of the reference's accuracy (measured or assumed)."""
    images: int
    chance: float
    correct_lower: float
    """A correct notebook scores at least this with the confidence."""
    untrained_upper: float
    """An untrained model scores below this with the confidence."""
    confidence: float

    def figures(self) -> dict[str, float]:
        """The figures, JSON-ready, for a check's details."""
        return {
            "reference": self.reference,
            "spread": self.spread,
            "images": float(self.images),
            "chance": self.chance,
            "correct_lower": self.correct_lower,
            "untrained_upper": self.untrained_upper,
            "confidence": self.confidence,
        }

    def explain(self) -> str:
        """Why it cannot be judged, in one sentence with the figures."""
        return (
            f"on {self.images} images a correct notebook may score as low as "
            f"{self.correct_lower:.1%} (reference {self.reference:.1%}, spread "
            f"{self.spread:.1%}) and an untrained one as high as {self.untrained_upper:.1%} "
            f"(chance {self.chance:.1%}), at {self.confidence:.0%} confidence"
        )


def decide(
    *,
    reference: float,
    spread: float,
    images: int,
    chance: float,
    relative: float,
    confidence: float = 0.99,
) -> Decision:
    """The threshold that separates correct from untrained notebooks, if one exists.

    Args:
        reference: the reference's accuracy under the same budget (mean over its runs).
        spread: the seed-to-seed standard deviation of that accuracy.
        images: how many images the accuracy is measured on.
        chance: the best constant prediction's accuracy on them (:func:`chance_level`).
        relative: the rubric's threshold as a fraction of ``reference``.
        confidence: the probability each verdict must hold with.

    Example:
        >>> d = decide(reference=0.12, spread=0.02, images=200, chance=0.11, relative=0.8)
        >>> d.judged, round(d.correct_lower, 3), round(d.untrained_upper, 3)
        (False, 0.031, 0.17)
        >>> decide(reference=0.6, spread=0.02, images=1000, chance=0.21, relative=0.8).threshold
        0.48
    """
    z = z_score(confidence)
    p = min(max(reference, 0.0), 1.0)
    correct_sd = math.sqrt(spread**2 + 2 * p * (1 - p) / max(images, 1))
    lower = reference - z * correct_sd
    upper = untrained_bound(chance, images, confidence)
    judged = upper <= lower
    threshold = min(max(relative * reference, upper), lower) if judged else relative * reference
    # Reported as accuracies: a bound past 0% or 100% says nothing more than the limit does.
    lower, upper = min(max(lower, 0.0), 1.0), min(max(upper, 0.0), 1.0)
    return Decision(judged, threshold, reference, spread, images, chance, lower, upper, confidence)
