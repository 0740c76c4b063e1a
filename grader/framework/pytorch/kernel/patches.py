"""The runtime's patches on PyTorch, torchvision and scikit-learn, each undone in reverse order.

Calibration runs the runtime in the grader's own process
(:mod:`grader.framework.pytorch.calibrate`), which must get its libraries back as they were.
"""

from __future__ import annotations

import contextlib
import typing as t
from dataclasses import dataclass


@dataclass
class _Undo:
    target: t.Any
    name: str
    value: t.Any
    existed: bool

    def __call__(self) -> None:
        if self.existed:
            setattr(self.target, self.name, self.value)
        else:
            with contextlib.suppress(AttributeError):
                delattr(self.target, self.name)


class Patches:
    """Attributes set on library objects, and hooks registered, until :meth:`undo_all`."""

    def __init__(self) -> None:
        self._undo: list[t.Callable[[], None]] = []

    def set(self, target: t.Any, name: str, value: t.Any) -> None:
        """Set ``target.name`` to ``value``, remembering what was there (an attribute a class
        inherits is deleted again, not copied onto it)."""
        existed = name in vars(target) if isinstance(target, type) else hasattr(target, name)
        self._undo.append(_Undo(target, name, getattr(target, name, None), existed))
        setattr(target, name, value)

    def on_undo(self, undo: t.Callable[[], None]) -> None:
        """Call ``undo`` (a hook's ``remove``, say) when the patches are undone."""
        self._undo.append(undo)

    def undo_all(self) -> None:
        """Undo every patch, last first."""
        while self._undo:
            self._undo.pop()()
