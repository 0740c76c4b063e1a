"""Every optimizer a PyTorch notebook created: its class, hyper-parameters, training passes and
the module it trained (imported in the kernel).

An optimizer is known by its object while it lives, and by its key for ever: the records a cell
writes name optimizers by key, and which module an optimizer trained outlives the optimizer.
"""

from __future__ import annotations

import typing as t
import weakref
from dataclasses import dataclass, field

from grader.framework.pytorch.kernel import values

HYPER_PARAMETERS = (
    "lr",
    "momentum",
    "dampening",
    "nesterov",
    "weight_decay",
    "betas",
    "eps",
    "alpha",
    "rho",
    "amsgrad",
)
"""The parameter-group fields recorded, as the optimizer had them at its first step."""


@dataclass
class OptimizerRecord:
    """What the runtime knows of one optimizer."""

    key: int
    cls: str
    created: int
    """When it was created, on the sequence its steps are counted on."""
    last_step: int = -1
    hyper: dict[str, t.Any] = field(default_factory=dict)
    params: dict[int, weakref.ref[t.Any]] = field(default_factory=dict)
    """Its parameters by id, held weakly: which module it trained outlives the optimizer."""
    module: int | None = None
    """The key of the module owning its parameters (see
    :mod:`~grader.framework.pytorch.kernel.modules`)."""
    looked: int = -1
    """The pass during which its module was last looked for (once per pass)."""
    passes: int = 0
    """Training passes: passes over a DataLoader during which it stepped."""
    skipped: int = 0
    """Passes the budget skipped while it was the optimizer in use."""

    def holds(self, parameter: t.Any) -> bool:
        """Whether ``parameter`` is one of this optimizer's (by identity, not by id alone)."""
        ref = self.params.get(id(parameter))
        return ref is not None and ref() is parameter


class Optimizers:
    """The optimizers seen so far, and the sequence their creations and steps are ordered on."""

    def __init__(self) -> None:
        self.seq = 0
        """Increased at each optimizer created and each step: which came last."""
        self._live: weakref.WeakKeyDictionary[t.Any, OptimizerRecord] = weakref.WeakKeyDictionary()
        self._by_key: dict[int, OptimizerRecord] = {}

    def record(self, optimizer: t.Any) -> OptimizerRecord:
        """The record of ``optimizer``, created on first sight; its parameters brought up to
        date (a parameter group may have been added since)."""
        info = self._live.get(optimizer)
        if info is None:
            self.seq += 1
            info = OptimizerRecord(len(self._by_key), type(optimizer).__name__[:100], self.seq)
            self._live[optimizer] = info
            self._by_key[info.key] = info
        for group in optimizer.param_groups:
            info.params.update((id(p), weakref.ref(p)) for p in group["params"])
        return info

    def step(self, optimizer: t.Any) -> OptimizerRecord:
        """``optimizer`` stepped: its record, with the step's place on the sequence and its
        hyper-parameters as of its first step."""
        info = self.record(optimizer)
        self.seq += 1
        info.last_step = self.seq
        if not info.hyper and optimizer.param_groups:
            group = optimizer.param_groups[0]
            info.hyper = {k: values.plain_value(group[k]) for k in HYPER_PARAMETERS if k in group}
        return info

    def current(self) -> OptimizerRecord | None:
        """The optimizer the next training pass will most likely step: the newest one if it was
        created after the last step of any, else the one that stepped last."""
        records = list(self._live.values())
        if not records:
            return None
        newest = max(records, key=lambda r: r.created)
        stepped = [r for r in records if r.last_step >= 0]
        if not stepped:
            return newest
        last = max(stepped, key=lambda r: r.last_step)
        return newest if newest.created > last.last_step else last

    def unspent(self, current: OptimizerRecord, max_epochs: int | None) -> bool:
        """Whether a live optimizer other than ``current`` has training passes left."""
        return max_epochs is not None and any(
            r is not current and r.passes < max_epochs for r in self._live.values()
        )

    def of_module(self, module: t.Any) -> list[int]:
        """The optimizers, alive or not, that held any of ``module``'s parameters."""
        params = list(module.parameters())
        return sorted(
            info.key for info in self._by_key.values() if any(info.holds(p) for p in params)
        )

    def as_records(self) -> list[dict[str, t.Any]]:
        """Every optimizer as a cell's record lists it."""
        return [
            {
                "key": r.key,
                "class": r.cls,
                "hyper": r.hyper,
                "passes": r.passes,
                "skipped": r.skipped,
                "module": r.module,
            }
            for r in self._by_key.values()
        ]
