"""The ``[torch]`` table of a rubric: what a PyTorch assignment needs beyond the common keys.

::

    [torch]
    input_shape = [3, 32, 32]      # one image, channels first, as the model takes it
    mean = [0.0, 0.0, 0.0]         # the test transform's Normalize, used when the notebook's
    std = [1.0, 1.0, 1.0]          # own test transform cannot be read
    [torch.capture]                # role -> the code cell after which its variable is taken
    model = "train"                # (roles not listed are taken at the end of the notebook)

A rubric with this table grades a PyTorch notebook (:mod:`grader.framework.pytorch.kernel.runtime`);
without it, a Keras one.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from grader.exceptions import RubricError


@dataclass(frozen=True)
class TorchSpec:
    """The ``[torch]`` table, validated."""

    input_shape: tuple[int, ...]
    """One example as the model takes it, channels first: ``(3, 32, 32)``, ``(1, 28, 28)``."""
    mean: tuple[float, ...]
    """Per-channel mean of the test transform's ``Normalize`` (the judge's default)."""
    std: tuple[float, ...]
    """Per-channel standard deviation of the test transform's ``Normalize``."""
    capture: dict[str, str] = field(default_factory=dict)
    """Role -> the id of the code cell after which the role's variable is taken."""


def parse_torch(reader: t.Any, roles: dict[str, list[str]]) -> TorchSpec | None:
    """Read the ``[torch]`` table through the rubric's typed reader; None when absent.

    Raises:
        RubricError: a key is missing, of the wrong type, or names an unknown role.
    """
    if not reader.table:
        return None
    shape = reader.get("input_shape", list)
    if len(shape) != 3 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
    ):
        raise RubricError.at(
            reader.path, "torch.input_shape", f"expected [channels, height, width], got {shape!r}"
        )
    mean = _floats(reader, "mean", shape[0])
    std = _floats(reader, "std", shape[0])
    if any(s <= 0 for s in std):
        raise RubricError.at(reader.path, "torch.std", "expected positive numbers")
    capture_reader = reader.sub("capture", required=False)
    capture = {}
    for role in capture_reader.table:
        cell = capture_reader.get(role, str)
        if role not in roles:
            raise RubricError.at(
                reader.path,
                f"torch.capture.{role}",
                f"expected a role from [models] {sorted(roles)}",
            )
        capture[role] = cell
    capture_reader.done()
    reader.done()
    return TorchSpec(tuple(shape), mean, std, capture)


def _floats(reader: t.Any, key: str, channels: int) -> tuple[float, ...]:
    values = reader.get(key, list)
    if len(values) not in (1, channels) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise RubricError.at(
            reader.path, f"torch.{key}", f"expected 1 or {channels} numbers, got {values!r}"
        )
    return tuple(float(v) for v in values)
