"""Accuracy thresholds as confidence bounds, checked against simulated binomial draws."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.thresholds import chance_level, decide

DRAWS = 20_000

# (true reference accuracy, images, chance, seed-to-seed spread): the shipped budgets' shapes.
SEPARABLE = [
    (0.55, 1000, 0.21, 0.03),  # cifar10 base at smoke: 5 classes, 1000 images
    (0.35, 1000, 0.11, 0.03),  # a transfer model at smoke, 10 outputs
    (0.90, 2000, 0.21, 0.02),  # mnist at standard
    (0.40, 200, 0.12, 0.02),  # a small evaluation set, still separable
]


@pytest.mark.parametrize(("truth", "images", "chance", "spread"), SEPARABLE)
def test_a_correct_notebook_passes_and_an_untrained_one_fails_99_percent_of_the_time(
    truth: float, images: int, chance: float, spread: float
) -> None:
    rng = np.random.default_rng(12)
    # Each draw: the reference measured on `images` images, a correct notebook trained with
    # another seed (its true accuracy spread around the reference's) measured on the same
    # number, and an untrained model that predicts the most frequent class.
    reference = rng.binomial(images, truth, DRAWS) / images
    student_truth = np.clip(rng.normal(truth, spread, DRAWS), 0, 1)
    student = rng.binomial(images, student_truth) / images
    untrained = rng.binomial(images, chance, DRAWS) / images
    decisions = [
        decide(reference=r, spread=spread, images=images, chance=chance, relative=0.8)
        for r in reference
    ]
    # A draw the bounds cannot judge counts against both properties.
    judged = np.array([d.judged for d in decisions])
    thresholds = np.array([d.threshold for d in decisions])
    assert np.mean(judged & (student >= thresholds)) >= 0.99
    assert np.mean(judged & (untrained < thresholds)) >= 0.99


def test_the_relative_threshold_alone_would_flip_coins_where_the_bounds_do_not() -> None:
    """The test above can fail: 80% of the reference passes an untrained model too often when
    the reference is near chance, and fails a correct one too often when spread is large."""
    rng = np.random.default_rng(3)
    images, chance = 1000, 0.21
    untrained = rng.binomial(images, chance, DRAWS) / images
    assert np.mean(untrained < 0.8 * 0.30) < 0.99  # 24% threshold vs 21% +- 1.3 chance
    decision = decide(reference=0.30, spread=0.01, images=images, chance=chance, relative=0.8)
    assert decision.judged and decision.threshold > 0.8 * 0.30
    assert np.mean(untrained < decision.threshold) >= 0.99


def test_a_reference_within_noise_of_chance_is_not_judged() -> None:
    """Issue 12's figures: vgg19_finetune at smoke, random weights, 200 images."""
    decision = decide(reference=0.12, spread=0.02, images=200, chance=0.10, relative=0.8)
    assert not decision.judged
    assert decision.correct_lower < decision.untrained_upper
    assert "200 images" in decision.explain()
    # More images separate the same models: the rubric may evaluate on all of them.
    assert decide(reference=0.30, spread=0.02, images=5000, chance=0.10, relative=0.8).judged


def test_chance_is_the_largest_class_share() -> None:
    assert chance_level(np.array([5, 5, 5, 6])) == 0.75
    assert chance_level(np.array([], dtype=np.int64)) == 0.0
