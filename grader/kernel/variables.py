"""Runs inside the student's kernel: the summary of the data variables the rubric names, which
the data checks read (shape, dtype, range, sampled rows), and the arrays kept of them."""

from __future__ import annotations

import json
import math
import typing as t
from pathlib import Path

import numpy as np

from grader.kernel import layout


class Summarised(t.NamedTuple):
    """A variable as it was summarised: what identified its array, its summary, what was kept."""

    identity: tuple[t.Any, ...]
    summary: dict[str, t.Any]
    kept: np.ndarray


Summaries = dict[str, Summarised]
"""Variable name -> how it was last summarised (see :func:`summarise_variables`)."""


def save_variables(
    namespace: dict[str, t.Any],
    names: list[str],
    path: t.Callable[[str], Path],
    previous: Summaries | None = None,
) -> None:
    """Write the summary and the kept arrays under ``path(final name)``."""
    summary, arrays = summarise_variables(namespace, names, previous)
    path(layout.VARIABLES).write_text(json.dumps(summary))
    np.savez(path(layout.VARIABLE_ARRAYS), **arrays)  # type: ignore[arg-type]


def summarise_variables(
    namespace: dict[str, t.Any], names: list[str], previous: Summaries | None = None
) -> tuple[dict[str, dict[str, t.Any]], dict[str, np.ndarray]]:
    """Each named variable's shape, dtype, range and sampled rows, and the arrays kept of it
    (labels whole, images' sampled rows), as float32. A student kit's in-notebook check
    summarises the live kernel's variables with this same function.

    Args:
        previous: updated with this call's summaries; a variable still holding the array it
            held then (the same object, memory, shape, strides and dtype) whose kept values
            are unchanged keeps the summary it had, without its range being read again. A
            change to the whole array in place (``x /= 255``) changes the sampled rows and is
            seen; one that touches no sampled row is not. None: every range is read.
    """
    summary: dict[str, dict[str, t.Any]] = {}
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        if name not in namespace:
            continue
        try:
            value = np.asarray(namespace[name])
        except Exception as exc:  # an unconvertible variable is a finding, not a crash
            summary[name] = {"error": f"not an array: {exc!r}"}
            continue
        if value.dtype == object or value.ndim == 0:
            summary[name] = {"error": f"not a numeric array (dtype {value.dtype})"}
            continue
        n = value.shape[0]
        rows = sorted({int(i) for i in np.linspace(0, n - 1, min(n, layout.SAMPLED_ROWS))})
        # Labels are small: keep them whole. Images: only the sampled rows.
        kept = (value if value.ndim <= 2 else value[rows]).astype(np.float32)
        identity = (
            id(namespace[name]),
            value.__array_interface__["data"][0],
            value.shape,
            value.strides,
            str(value.dtype),
        )
        earlier = previous.get(name) if previous is not None else None
        if earlier and earlier.identity == identity and np.array_equal(earlier.kept, kept):
            summary[name], arrays[name] = earlier.summary, kept
            continue
        low, high = _finite_range(value)
        summary[name] = {
            "shape": list(value.shape),
            "dtype": str(value.dtype),
            "min": low,
            "max": high,
            "rows": rows,
        }
        arrays[name] = kept
        if previous is not None:
            previous[name] = Summarised(identity, summary[name], kept)
    return summary, arrays


def _finite_range(value: np.ndarray) -> tuple[float, float]:
    """The smallest and largest finite values (NaN when there are none)."""
    if not value.size:
        return math.nan, math.nan
    # Two plain reductions first: a training set is 10^8 values, and masking them for the
    # rare NaN or infinity would copy it. Only a non-finite result needs the mask.
    low, high = float(value.min()), float(value.max())
    if math.isfinite(low) and math.isfinite(high):
        return low, high
    finite = value[np.isfinite(value)]
    if not finite.size:
        return math.nan, math.nan
    return float(finite.min()), float(finite.max())
