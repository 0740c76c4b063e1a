"""Local grading workers stop with their grader and leave nothing behind, however it ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader.batch.process_pool import ProcessPool
from tests.conftest import ROOT

# A grader of its own: a pool of one worker running `hold_a_folder`; SIGTERM ends it the way
# an exception ends a batch (the pool closes while its worker is mid-call).
GRADER = """
import functools, signal, sys
from grader.batch.process_pool import ProcessPool
from tests.batch import test_process_pool as calls
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
call = functools.partial(getattr(calls, sys.argv[2]), sys.argv[1])
with ProcessPool(1) as pool:
    for _ in pool.run(iter([(0, call)])):
        pass
"""


def hold_a_folder(record: str) -> None:
    """A call that holds a temporary folder, as a grading call holds its kernel's, for long."""
    with tempfile.TemporaryDirectory(prefix="held-") as folder:
        Path(record).write_text(f"{os.getpid()} {folder}")
        time.sleep(300)


def hold_then_clean_up_slowly(record: str) -> None:
    """A call whose cleanup takes a while (a kernel's shutdown), then leaves a mark."""
    try:
        Path(record).write_text(f"{os.getpid()} {Path(record).parent}")
        time.sleep(300)
    finally:
        time.sleep(1)
        Path(f"{record}.cleaned").touch()


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (an exited orphan nobody reaped yet is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def grader_holding_a_folder(
    tmp_path: Path, call: str = "hold_a_folder"
) -> tuple[subprocess.Popen[bytes], int, Path]:
    record = tmp_path / "held"
    grader = subprocess.Popen(
        [sys.executable, "-c", GRADER, str(record), call],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    while not record.is_file() or not record.read_text():
        assert grader.poll() is None and time.monotonic() < deadline, "the call never started"
        time.sleep(0.05)
    pid, folder = record.read_text().split(" ", 1)
    assert Path(folder).is_dir()
    return grader, int(pid), Path(folder)


def ends_soon(pid: int, folder: Path) -> bool:
    deadline = time.monotonic() + 30
    while running(pid) or folder.exists():
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return False
        time.sleep(0.1)
    return True


def test_a_worker_whose_grader_is_killed_stops_and_removes_its_folders(tmp_path: Path) -> None:
    # The grader killed outright (SIGKILL: the out-of-memory killer, `kill -9`) cannot close
    # its pool: its worker must not go on grading a notebook nobody will read.
    grader, worker, folder = grader_holding_a_folder(tmp_path)
    grader.kill()
    grader.wait()
    assert ends_soon(worker, folder), "the orphaned worker went on with its call"


def test_a_pool_closed_mid_call_lets_the_call_clean_up(tmp_path: Path) -> None:
    # Closing early (Ctrl-C, an error) stops a busy worker so that its call unwinds: killed
    # outright, its kernel's folders would be left behind.
    grader, worker, folder = grader_holding_a_folder(tmp_path)
    grader.terminate()
    assert grader.wait(timeout=60) == 1
    assert ends_soon(worker, folder), "the busy worker was killed before it could clean up"


def test_ctrl_c_then_the_pools_sigterm_do_not_cut_the_cleanup_short(tmp_path: Path) -> None:
    # Ctrl-C reaches the worker and the grader alike; the grader then closes its pool with
    # SIGTERM, which must not interrupt the cleanup the Ctrl-C started.
    grader, worker, _ = grader_holding_a_folder(tmp_path, "hold_then_clean_up_slowly")
    os.kill(worker, signal.SIGINT)
    time.sleep(0.3)
    os.kill(worker, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    grader.wait(timeout=60)
    assert (tmp_path / "held.cleaned").is_file(), "the cleanup was cut short"


def test_a_worker_outlives_the_thread_that_started_it() -> None:
    # Linux signals a child when the *thread* that started it ends: a pool made in a thread
    # that has ended keeps its worker while the grader lives.
    pools: list[tuple[ProcessPool, int]] = []

    def start() -> None:
        pool = ProcessPool(1)
        pools.append((pool, pool.call(os.getpid)))  # answered: the worker is set up

    starter = threading.Thread(target=start)
    starter.start()
    starter.join()
    pool, first = pools[0]
    with pool:
        time.sleep(1)
        assert pool.call(os.getpid) == first
