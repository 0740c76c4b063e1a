"""Watch a sandboxed kernel from the grader's side: fork and thread bombs, memory the rlimits miss.

``RLIMIT_NPROC`` counts the processes *and threads* of the sandbox's user. It stops a bomb, but
the bomb's processes or threads stay and hold every slot, and a kernel that cannot start a
thread hangs. ``RLIMIT_DATA`` stops heap allocations, but not shared memory. So the grader
looks at the sandbox a few times a second, counting every thread of every process:

* when the student's other processes hold half the process limit, they are all killed (the
  kernel stays: a fork bomb costs one cell);
* when the sandbox holds the whole limit, the threads are the kernel's own, which cannot be
  killed one by one: the sandbox is killed (a thread bomb);
* when the sandbox's resident memory passes the limit, the sandbox is killed.

Each sandbox has its own user, so what one bomb holds never counts against another kernel.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from grader.sandbox.limits import MB, Limits
from grader.sandbox.processes import (
    children,
    descendants,
    inner_pid,
    kill_process,
    start_time,
    status_numbers,
)

POLL_S = 0.2
PAGE = os.sysconf("SC_PAGE_SIZE")


class Watchdog(threading.Thread):
    """Polls one sandbox until :meth:`stop`; records what it had to do."""

    def __init__(self, launcher_pid: int, limits: Limits) -> None:
        super().__init__(name="grader-watchdog", daemon=True)
        self.launcher_pid = launcher_pid
        self.launcher_started = start_time(launcher_pid)
        self.limits = limits
        self.killed_strays = 0
        """Processes killed because they filled the process limit."""
        self.memory_killed = False
        """The sandbox was killed for using more memory than the limit."""
        self.threads_killed = False
        """The sandbox was killed because its threads filled the process limit."""
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._stop_event.wait(POLL_S):
            self.check()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def take_strays(self) -> int:
        """Processes killed since the last call (0 if none)."""
        with self._lock:
            n, self.killed_strays = self.killed_strays, 0
        return n

    def check(self) -> None:
        """One look at the sandbox."""
        if start_time(self.launcher_pid) != self.launcher_started:
            # The launcher ended, and its pid may already name another sandbox's launcher,
            # which this watchdog must never judge by its own limits, let alone kill.
            self._stop_event.set()
            return
        inits = children(self.launcher_pid)
        everything = [p for init in inits for p in descendants(init)]
        if not everything:
            return
        # The kernel is PID 2 of its namespace; without a PID namespace, init's only child.
        kernels = {k for init in inits for k in children(init) if inner_pid(k) == 2} or {
            k for init in inits for k in children(init)[:1]
        }
        threads = {p: _threads(p) for p in everything}
        strays = [p for p in everything if p not in kernels]
        if strays and sum(threads[p] for p in strays) >= max(1, self.limits.processes // 2):
            killed: set[int] = set()
            for _ in range(20):  # a fork bomb's children may still be forking
                killed.update(pid for pid in strays if kill_process(pid))
                strays = [p for init in inits for p in descendants(init) if p not in kernels]
                if not strays:
                    break
            with self._lock:
                self.killed_strays += len(killed)
            return
        if sum(threads.values()) >= self.limits.processes:
            self.threads_killed = True
            self._kill_sandbox(inits)
            return
        if memory_over(everything, self.limits.memory_mb * MB):
            self.memory_killed = True
            self._kill_sandbox(inits)

    @staticmethod
    def _kill_sandbox(inits: list[int]) -> None:
        for init in inits:  # PID 1 of the sandbox: its end kills every process in it
            kill_process(init)


def memory_over(pids: list[int], limit: int) -> bool:
    """Whether ``pids`` together hold more than ``limit`` bytes of proportional memory.

    Proportional memory (PSS) counts a page a fork shares with its parent once, where resident
    memory (RSS) counts it in each; but the kernel computes PSS by walking every mapping, and
    a TensorFlow kernel has thousands: read five times a second it cost the grader about a
    CPU-second per notebook. RSS is one counter, and never less than PSS, so PSS is read only
    when RSS alone is over the limit.
    """
    if sum(_rss(p) for p in pids) <= limit:
        return False
    return sum(_pss(p) for p in pids) > limit


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _threads(pid: int) -> int:
    """Threads of ``pid`` (1 when it cannot be read: it is a process all the same)."""
    return next(iter(status_numbers(pid, "Threads")), 1)
