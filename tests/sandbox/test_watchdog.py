"""The watchdog's memory rule on real processes: proportional memory decides, and the costly
reading of it is taken only when resident memory alone is over the limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from grader.sandbox import watchdog
from grader.sandbox.limits import MB

HELD_MB = 200

FORKED = f"""
import os, sys, time
held = bytearray(b"x" * ({HELD_MB} * 1024 * 1024))  # touched: resident in the parent
child = os.fork()
if child == 0:
    time.sleep(60)  # shares every page of `held` with its parent
    os._exit(0)
print(os.getpid(), child, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def fork_pair() -> Iterator[list[int]]:
    """A process holding 200 MiB and its fork sharing them: 400+ MiB resident, 200+ MiB
    proportional."""
    process = subprocess.Popen(
        [sys.executable, "-c", FORKED], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    pids = [int(p) for p in process.stdout.readline().split()]
    try:
        yield pids
    finally:
        os.kill(pids[1], signal.SIGKILL)
        process.kill()
        process.wait()


def test_pages_a_fork_shares_are_counted_once(fork_pair: list[int]) -> None:
    between = int(1.5 * HELD_MB * MB)  # under the two copies resident, over the one held
    assert sum(watchdog._rss(p) for p in fork_pair) > between
    assert not watchdog.memory_over(fork_pair, between)
    assert watchdog.memory_over(fork_pair, HELD_MB * MB // 2)


def test_proportional_memory_is_read_only_past_the_resident_limit(
    fork_pair: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    real = watchdog._pss

    def counted(pid: int) -> int:
        read.append(pid)
        return real(pid)

    monkeypatch.setattr(watchdog, "_pss", counted)
    assert not watchdog.memory_over(fork_pair, 8192 * MB)
    assert read == []
    assert watchdog.memory_over(fork_pair, HELD_MB * MB // 2)
    assert sorted(read) == sorted(fork_pair)
