"""Evidence an instructor should look at, found in validated results; never a score change.

A notebook cannot hide training from a wrapper it can unwrap (``keras.Model.fit.__wrapped__``
trains past the budget unseen), and on public data such as CIFAR-10 a student can train at
home on the very test images the grader holds back. What gives either away is a held-out
accuracy far above what the reference reaches under the same budget: such a result is
flagged for a person, in the result and in the class report.
"""

from __future__ import annotations

import math
import typing as t

from grader.results import CheckResult, Flag


def accuracy_margin(reference: float, images: int) -> float:
    """How far above the reference a held-out accuracy must be to look out of reach.

    Four binomial standard errors of the reference's accuracy on ``images`` images, and never
    less than 15 points: a better-tuned notebook beats the reference by a little, not by this.
    """
    p = min(max(reference, 0.01), 0.99)
    return max(0.15, 4 * math.sqrt(p * (1 - p) / max(images, 1)))


def accuracy_flags(checks: t.Iterable[CheckResult], kinds: dict[str, str]) -> list[Flag]:
    """A flag for each accuracy check far above the reference's accuracy.

    Args:
        checks: validated check results.
        kinds: check id -> its kind in the rubric.
    """
    flags = []
    for check in checks:
        details = check.details
        if kinds.get(check.id) != "accuracy" or not isinstance(details.get("accuracy"), float):
            continue
        measured, reference = details["accuracy"], details.get("reference_accuracy")
        images = details.get("evaluated_images")
        if not isinstance(reference, float) or not isinstance(images, int):
            continue
        margin = accuracy_margin(reference, images)
        if measured >= reference + margin:
            flags.append(
                Flag(
                    check.id,
                    "accuracy_above_reference",
                    f"held-out accuracy {measured:.1%} on {images} images, the reference "
                    f"{reference:.1%} under the same budget (more than {margin:.0%} above): "
                    "training past the budget, or on the test images?",
                )
            )
    return flags
