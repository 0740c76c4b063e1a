"""The probe of :mod:`tests.sandbox.forked_probe`, from a server that started a thread while
it imported: such a server must start each process fresh, never fork it."""

from __future__ import annotations

import threading

from tests.sandbox.forked_probe import command, run

__all__ = ["command", "preload", "run"]


def preload() -> None:
    """Start a thread that outlives the imports, as a library may."""
    threading.Thread(target=threading.Event().wait, daemon=True).start()
