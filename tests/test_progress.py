"""``grader check``'s phases, shown live on a terminal and as lines in a log."""

from __future__ import annotations

import io
import logging
import time

from rich.console import Console

from grader.progress import LOGGER, PhaseDisplay, phase


def test_outside_a_terminal_each_phase_is_a_line_and_a_long_one_a_heartbeat() -> None:
    out = io.StringIO()
    with PhaseDisplay(Console(file=out, force_terminal=False, width=80), interval=0.05):
        phase("starting the kernel and the grader's setup cell")
        phase("running cell 1/3 (notebook cell 2)")
        deadline = time.monotonic() + 10
        while "still running cell 1/3" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines[:2] == [
        "starting the kernel and the grader's setup cell",
        "running cell 1/3 (notebook cell 2)",
    ]
    assert lines[2].startswith("still running cell 1/3 (notebook cell 2) (0:0")
    # The display leaves the logger as it found it: a library caller hears nothing.
    assert not LOGGER.handlers and LOGGER.level == logging.NOTSET
    phase("after the display")
    assert "after the display" not in out.getvalue()


def test_on_a_terminal_the_phase_is_a_status_line_not_a_log() -> None:
    out = io.StringIO()
    with PhaseDisplay(Console(file=out, force_terminal=True, width=80), interval=0.01) as shown:
        phase("judging the models")
        assert shown.status is not None and shown.heartbeat is None
        assert "judging the models" in str(shown.status.renderable.text)
    # Nothing but the live line was written: no log lines on a terminal.
    assert "] judging" not in out.getvalue()
