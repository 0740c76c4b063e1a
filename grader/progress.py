"""Telling a person what a long command is doing, on a terminal or in a log.

The pipeline says which phase one grade is in (:func:`phase`: starting the kernel, running
cell 3/7, judging) through the standard ``logging`` module, so a library caller sees nothing
unless it listens. :class:`PhaseDisplay` listens for ``grader check``: a live status line on a
terminal; outside one (a log, CI), where rich draws nothing live, one plain line per phase and
a :class:`Heartbeat` line every few seconds while a phase lasts.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t
from collections.abc import Callable

from rich.console import Console
from rich.status import Status
from rich.text import Text

LOGGER = logging.getLogger("grader.progress")
"""Where :func:`phase` reports; :class:`PhaseDisplay` listens to it."""

HEARTBEAT_S = 10.0
"""Seconds between two "still running" lines outside a terminal."""


def phase(text: str) -> None:
    """Say that one grade has entered a phase, e.g. ``running cell 3/7``."""
    LOGGER.info(text)


class Heartbeat:
    """Calls ``beat`` every ``interval`` seconds from a daemon thread while entered."""

    def __init__(self, beat: Callable[[], None], interval: float = HEARTBEAT_S) -> None:
        self.beat = beat
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grader-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()


def elapsed(since: float) -> str:
    """``1:05``-style minutes and seconds since the monotonic time ``since``."""
    seconds = int(time.monotonic() - since)
    return f"{seconds // 60}:{seconds % 60:02d}"


class LastPhase(logging.Handler):
    """Listens to :func:`phase` while entered and keeps the last one, for a heartbeat."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.text = ""
        """The last phase reported ("" before the first)."""
        self.since = time.monotonic()
        """When it began (monotonic)."""
        self._level = logging.NOTSET

    def __enter__(self) -> t.Self:
        self._level = LOGGER.level
        LOGGER.setLevel(logging.INFO)
        LOGGER.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        LOGGER.removeHandler(self)
        LOGGER.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        self.text, self.since = record.getMessage(), time.monotonic()


class PhaseDisplay(LastPhase):
    """Shows :func:`phase` reports while one notebook is graded (``grader check``).

    On a terminal, one status line that changes in place; elsewhere a plain line per phase and
    a heartbeat line every ``interval`` seconds, so a log never stays silent for long.
    """

    def __init__(self, console: Console | None = None, interval: float = HEARTBEAT_S) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self.started = time.monotonic()
        self.status: Status | None = None
        self.heartbeat: Heartbeat | None = None
        if self.console.is_terminal:
            self.status = Status("starting", console=self.console)
        else:
            self.heartbeat = Heartbeat(self._beat, interval)

    def __enter__(self) -> t.Self:
        super().__enter__()
        if self.status is not None:
            self.status.start()
        if self.heartbeat is not None:
            self.heartbeat.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self.heartbeat is not None:
            self.heartbeat.__exit__()
        if self.status is not None:
            self.status.stop()

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if self.status is not None:
            self.status.update(Text(self.text))
        else:
            self.console.print(Text(f"[{elapsed(self.started)}] {self.text}"), soft_wrap=True)

    def _beat(self) -> None:
        doing = self.text or "starting"
        self.console.print(
            Text(f"[{elapsed(self.started)}] still {doing} ({elapsed(self.since)})"),
            soft_wrap=True,
        )
