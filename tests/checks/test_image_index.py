"""The training-image index finds an image by its exact pixels, as a digest table did."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from grader.checks.image_index import TrainingImages


def digest_table(images: np.ndarray, labels: np.ndarray) -> dict[bytes, int]:
    """The table the index replaced: image digest -> label, later images winning."""
    return {
        hashlib.blake2b(np.ascontiguousarray(i, dtype=np.uint8).tobytes()).digest(): int(y)
        for i, y in zip(images, labels.reshape(-1), strict=True)
    }


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28)])
def test_every_image_is_found_with_the_label_a_digest_table_gives(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (500, *shape), dtype=np.uint8)
    images[:, :4] = 0  # MNIST-like borders: long shared prefixes
    images[10] = images[20]  # the same image twice, labelled differently
    images[300] = images[301]  # and twice with the same label
    labels = rng.integers(0, 10, (500, 1))
    labels[10], labels[20] = 3, 8
    index, table = TrainingImages(images, labels), digest_table(images, labels)
    for image in images:
        key = hashlib.blake2b(image.tobytes()).digest()
        assert index.label_of(image) == table[key]
    assert index.label_of(images[10]) == 8


def test_an_image_differing_in_one_pixel_or_in_size_is_not_found() -> None:
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    index = TrainingImages(images, np.arange(200))
    changed = images[42].copy()
    changed[31, 31, 2] ^= 1
    assert index.label_of(changed) is None
    assert index.label_of(images[42, :16]) is None  # half an image
    assert index.label_of(np.zeros((28, 28), np.uint8)) is None
    # Scaled back by the caller and rounded: floats find the same image.
    assert index.label_of(np.rint(images[42] / 255.0 * 255.0)) == 42


def test_a_grey_image_with_a_channel_axis_is_the_same_image() -> None:
    images = np.random.default_rng(5).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    index = TrainingImages(images, np.arange(50))
    assert index.label_of(images[7][..., None]) == 7
