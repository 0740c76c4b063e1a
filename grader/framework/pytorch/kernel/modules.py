"""Which module objects a PyTorch notebook ran, trained and evaluated (imported in the kernel).

Records are attributed to objects, not to variable names or cells: a model built inside
``main()`` and trained there, a model renamed, metrics computed three cells later all stay
tied to the module they were used with.

- A **root call** is a module call made while no other module is running (the notebook's
  ``model(x)``, not the layers inside it). Root modules with parameters get a key, once.
- An **optimizer's module** is the root module owning most of the parameters it holds.
- A module **trained** once its optimizer stepped during a pass over the grader's training
  split; from then on it is held strongly, so a model local to a function outlives the call
  and can still be judged.
- A module's **predictions** during a pass (the arg-max of each root call's scores, while
  gradients are off or over the test split) let a metric call be tied to the module whose
  predictions it was given.
"""

from __future__ import annotations

import typing as t
import weakref
from dataclasses import dataclass

MAX_MODULES = 64
MAX_PREDICTION_SETS = 24
MAX_PREDICTIONS = 200_000


@dataclass
class ModuleRecord:
    key: int
    cls: str
    ref: weakref.ref[t.Any]
    held: t.Any = None
    """The module itself once it trained (a model local to ``main()`` must outlive it)."""
    trained: int = -1
    """The runtime's sequence number at its first training step (-1: never trained)."""
    trained_cell: int = 0
    """The execution count of the cell during which it first trained."""
    optimizer: str = ""
    """The class of the optimizer that first trained it."""

    def module(self) -> t.Any:
        return self.ref()


class Modules:
    """The root modules one runtime has seen, keyed in the order they were first seen."""

    def __init__(self) -> None:
        self._records: weakref.WeakKeyDictionary[t.Any, ModuleRecord] = weakref.WeakKeyDictionary()
        self.by_key: dict[int, ModuleRecord] = {}
        self._next = 0
        self.depth = 0
        self.paused = False
        self.predictions: list[tuple[int, int, list[int]]] = []
        """(pass index, module key, predicted labels), oldest first, the newest kept."""

    def record(self, module: t.Any) -> ModuleRecord:
        """The record of ``module``, created on first sight."""
        found = self._records.get(module)
        if found is None:
            if len(self.by_key) >= MAX_MODULES:  # a module built per batch: forget the dead
                self.by_key = {k: r for k, r in self.by_key.items() if r.module() is not None}
            found = ModuleRecord(self._next, type(module).__name__[:100], weakref.ref(module))
            self._next += 1
            self._records[module] = found
            self.by_key[found.key] = found
        return found

    def known(self, module: t.Any) -> ModuleRecord | None:
        return self._records.get(module)

    def alive(self) -> list[tuple[ModuleRecord, t.Any]]:
        """Records whose module still exists, oldest first."""
        out = []
        for key in sorted(self.by_key):
            record = self.by_key[key]
            module = record.module()
            if module is not None:
                out.append((record, module))
        return out

    def trained(self) -> list[tuple[ModuleRecord, t.Any]]:
        """Modules that trained on the grader's training data, in the order they first did."""
        return sorted(
            ((r, m) for r, m in self.alive() if r.trained >= 0), key=lambda rm: rm[0].trained
        )

    def held(self) -> int:
        """How many modules the runtime keeps alive."""
        return sum(1 for r in self.by_key.values() if r.held is not None)

    def owner(self, holds: t.Callable[[t.Any], bool], first: t.Sequence[int]) -> t.Any:
        """The module owning most of the parameters ``holds`` accepts: modules called as roots
        during the current pass (keys ``first``) are tried before every other one seen."""
        keys = list(dict.fromkeys([*first, *sorted(self.by_key)]))
        best, most = None, 0
        for key in keys:
            record = self.by_key.get(key)
            module = record.module() if record is not None else None
            if module is None:
                continue
            count = sum(1 for p in module.parameters() if holds(p))
            if count > most:
                best, most = module, count
        return best

    def add_predictions(self, pass_index: int, key: int, labels: list[int]) -> None:
        for i in range(len(self.predictions) - 1, -1, -1):
            index, owner, held = self.predictions[i]
            if (index, owner) == (pass_index, key):
                if len(held) + len(labels) <= MAX_PREDICTIONS:
                    held.extend(labels)
                return
        self.predictions.append((pass_index, key, list(labels[:MAX_PREDICTIONS])))
        del self.predictions[:-MAX_PREDICTION_SETS]

    def predicted(self, y_pred: list[int]) -> tuple[int | None, str]:
        """The module whose predictions during one pass are exactly ``y_pred`` (the newest such
        pass); else the module evaluated last; with how it was found."""
        for _, key, labels in reversed(self.predictions):
            if labels == y_pred:
                return key, "predictions"
        if self.predictions:
            return self.predictions[-1][1], "last evaluated"
        return None, ""


def predicted_labels(output: t.Any) -> list[int] | None:
    """The arg-max class of each row of a root call's scores (None: not a batch of scores)."""
    import torch

    if not isinstance(output, torch.Tensor) or output.dim() != 2 or output.shape[1] < 2:
        return None
    return [int(v) for v in output.detach().argmax(dim=1).cpu().tolist()]
