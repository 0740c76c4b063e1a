"""A command ended by SIGTERM (a scheduler's limit, `kill`) or SIGHUP (a closed terminal)
stops its kernels and removes their temporary folders, as on Ctrl-C.

Ended on the spot, a grader left each kernel's and judge's folders behind: hundreds of
megabytes a time, until the disk was full.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.stop_signals import STOPS, unwinding_on_stop
from tests.stopped_grade import grade_mid_cell, wait_for_no_process_under

pytestmark = pytest.mark.notebook


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    # Short (the kernels' sockets lie below it) and the command's alone, so what it leaves is
    # plain to see.
    with tempfile.TemporaryDirectory(prefix="t-", dir="/tmp") as folder:
        yield Path(folder)


def _stop_signals_by_default() -> None:
    for name in STOPS:
        signal.signal(name, signal.SIG_DFL)


def _quietly_raise(stop: signal.Signals) -> None:
    """Raise ``stop`` here; the standard streams :func:`unwind` sends to /dev/null come back."""
    streams = [os.dup(1), os.dup(2)]
    try:
        signal.raise_signal(stop)
    finally:
        for number, saved in enumerate(streams, start=1):
            os.dup2(saved, number)
            os.close(saved)


@pytest.fixture
def sighup_ignored() -> Iterator[None]:
    before = {name: signal.getsignal(name) for name in STOPS}
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        yield
    finally:
        for name, handler in before.items():
            signal.signal(name, handler)


@pytest.mark.usefixtures("sighup_ignored")
def test_a_signal_ignored_by_whoever_started_the_grader_stays_ignored() -> None:
    # `nohup grader grade ...` asks that a closed terminal not end the batch.
    with unwinding_on_stop():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
        with pytest.raises(SystemExit) as stopped:
            signal.raise_signal(signal.SIGHUP)  # ignored: nothing happens
            _quietly_raise(signal.SIGTERM)
        assert stopped.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_grade_stops_its_kernel_and_leaves_no_folder(
    private_tmp: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    grader = grade_mid_cell(
        private_tmp,
        tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # Under `nohup` (a suite run in the background) SIGHUP would be inherited ignored, and
        # an ignored SIGHUP rightly stays so (the next test): the grader starts as from a shell.
        preexec_fn=_stop_signals_by_default,
    )
    try:
        grader.send_signal(stop)
        _, said = grader.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(grader.pid, signal.SIGKILL)
    assert grader.returncode == 128 + stop, said
    last = said.rstrip().splitlines()[-1]
    assert last == f"stopped by {stop.name}: stopping its kernels, removing their files"
    assert "Traceback" not in said
    assert wait_for_no_process_under(private_tmp) == []
    assert list(private_tmp.iterdir()) == []
