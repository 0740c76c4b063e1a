"""The notebook's objects as plain JSON values: what the PyTorch runtime records of labels,
hyper-parameters, transform pipelines, data sets and batches (imported in the kernel).

Everything here runs on student objects, so each function bounds what it reads and never
raises on an odd value beyond what its caller catches.
"""

from __future__ import annotations

import math
import typing as t

import numpy as np

MAX_METRIC_LABELS = 200_000
TRANSFORM_FIELDS = (
    "p",
    "size",
    "padding",
    "fill",
    "padding_mode",
    "pad_if_needed",
    "mean",
    "std",
    "degrees",
    "scale",
    "ratio",
    "num_output_channels",
    "brightness",
    "contrast",
    "saturation",
    "hue",
)


def labels(values: t.Any) -> list[int]:
    """Class labels (a list, an array, a tensor) as at most :data:`MAX_METRIC_LABELS` ints."""
    array = np.asarray([plain_value(v) for v in values] if isinstance(values, list) else values)
    array = np.asarray(getattr(array, "numpy", lambda: array)()).reshape(-1)
    if array.size > MAX_METRIC_LABELS:
        raise ValueError(f"more than {MAX_METRIC_LABELS} labels")
    return [int(v) for v in array.tolist()]


def plain_value(value: t.Any) -> t.Any:
    """Tensors, numpy values and tuples as JSON values."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [plain_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)[:200]


def describe_transform(transform: t.Any, depth: int = 0) -> list[dict[str, t.Any]] | None:
    """A transform pipeline as a list of ``{"type", <fields>}``; nested ``Compose`` flattened.

    None when the data set has no ``transform`` attribute (not a torchvision data set).
    """
    if transform is None:
        return []
    items = getattr(transform, "transforms", None)
    if not isinstance(items, list | tuple) or depth > 4:
        items = [transform]
    out: list[dict[str, t.Any]] = []
    for item in list(items)[:50]:
        nested = getattr(item, "transforms", None)
        if isinstance(nested, list | tuple) and type(item).__name__ == "Compose":
            out += describe_transform(item, depth + 1) or []
            continue
        entry: dict[str, t.Any] = {"type": type(item).__name__[:100]}
        for name in TRANSFORM_FIELDS:
            if hasattr(item, name) and not callable(getattr(item, name)):
                entry[name] = plain_value(getattr(item, name))
        out.append(entry)
    return out


def base_dataset(dataset: t.Any) -> t.Any:
    """The data set under ``Subset`` and ``ConcatDataset`` wrappers (``random_split`` too)."""
    for _ in range(10):
        if hasattr(dataset, "indices") and hasattr(dataset, "dataset"):
            dataset = dataset.dataset
        elif isinstance(getattr(dataset, "datasets", None), list) and dataset.datasets:
            dataset = dataset.datasets[0]
        else:
            break
    return dataset


def source(dataset: t.Any) -> tuple[str, tuple[str, t.Any]]:
    """The split a loader reads (``train``, ``test``, ``other``) and a key for its data."""
    base = base_dataset(dataset)
    if getattr(type(base), "__grader_served__", False):
        split = "train" if base.train else "test"
        return split, ("served", split)
    return "other", ("object", id(base))


def length(dataset: t.Any) -> int | None:
    """``len(dataset)``, or None where it has none (an iterable data set)."""
    try:
        return len(dataset)
    except TypeError:
        return None


def batch_size(batch: t.Any) -> int | None:
    """Samples in a batch: the first dimension of its first tensor (tuples, lists, dicts)."""
    if hasattr(batch, "shape") and len(batch.shape):
        return int(batch.shape[0])
    if isinstance(batch, tuple | list) and batch:
        return batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return batch_size(next(iter(batch.values())))
    return None


def head(batch: t.Any, n: int) -> t.Any:
    """The first ``n`` samples of a batch, in the batch's own structure."""
    if hasattr(batch, "shape"):
        return batch[:n]
    if isinstance(batch, tuple | list):
        return type(batch)(head(b, n) for b in batch)
    if isinstance(batch, dict):
        return {k: head(v, n) for k, v in batch.items()}
    return batch
