"""The grader's training images, searchable by content: which one a notebook's image is."""

from __future__ import annotations

import numpy as np


class TrainingImages:
    """Finds an image among the training images by its exact pixels (as 8-bit values).

    The rows are sorted once as byte strings and each image is looked up by binary search, so
    a match is exact (no digest that two images could share) and building the index costs one
    sort: 16-43 ms for CIFAR-10's 50,000 or MNIST's 60,000 images, where hashing each image
    had cost 0.18-0.25 s of every judge (measured 2026-12-07).

    Args:
        images: the training images, ``(n, ...)``, pixel values 0-255.
        labels: their true labels, one per image.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._rows = _as_rows(images)
        self._labels = np.asarray(labels).reshape(-1)
        # Stable: of identical images, the last one's label is the one found, as a dict of
        # image -> label built in order would keep.
        self._order = np.argsort(self._rows, kind="stable")

    def label_of(self, image: np.ndarray) -> int | None:
        """The true label of the training image with exactly these pixels, or None.

        Args:
            image: one image, as many values as a training image, 0-255 (rounded by the
                caller: a value is cast to 8 bits as it is).
        """
        (row,) = _as_rows(np.asarray(image)[None])
        if row.dtype != self._rows.dtype:
            return None
        left = int(np.searchsorted(self._rows, row, side="left", sorter=self._order))
        right = int(np.searchsorted(self._rows, row, side="right", sorter=self._order))
        if left == right:
            return None
        return int(self._labels[self._order[right - 1]])


def _as_rows(images: np.ndarray) -> np.ndarray:
    """Each image as one byte string (a numpy void scalar), compared as ``memcmp`` does."""
    pixels = np.ascontiguousarray(images, dtype=np.uint8)
    flat = pixels.reshape(len(pixels), int(np.prod(pixels.shape[1:])))
    return flat.view(np.dtype((np.void, flat.shape[1]))).reshape(-1)
