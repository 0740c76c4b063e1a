"""The kernel's summary of the data variables, which the data checks read."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.kernel.variables import summarise_variables


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.5, 0.25, 1.0], (0.25, 1.0)),
        ([0.5, math.nan, 1.0], (0.5, 1.0)),
        ([-math.inf, 0.5, math.inf], (0.5, 0.5)),
        ([math.nan, math.inf], (math.nan, math.nan)),
    ],
)
def test_the_range_is_that_of_the_finite_values(
    values: list[float], expected: tuple[float, float]
) -> None:
    summary, _ = summarise_variables({"x": np.array(values)}, ["x"])
    got = (summary["x"]["min"], summary["x"]["max"])
    assert got == pytest.approx(expected, nan_ok=True)


def test_images_keep_sampled_rows_and_labels_stay_whole() -> None:
    images = np.arange(200 * 2 * 2 * 3, dtype=np.uint8).reshape(200, 2, 2, 3)
    labels = np.arange(200).reshape(-1, 1)
    summary, arrays = summarise_variables({"x": images, "y": labels, "s": "text"}, ["x", "y", "s"])
    assert summary["x"]["shape"] == [200, 2, 2, 3]
    assert arrays["x"].shape[0] == len(summary["x"]["rows"]) < 200
    assert arrays["y"].shape == (200, 1) and arrays["y"].dtype == np.float32
    assert "error" in summary["s"]
