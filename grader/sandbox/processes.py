"""The processes of a sandbox, seen from the grader's side through ``/proc``."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (empty once it is gone)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            out += [int(c) for c in text.split()]
    except OSError:
        pass
    return out


def status_numbers(pid: int, field: str) -> list[int]:
    """The numbers of one field of ``/proc/<pid>/status`` (empty once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def inner_pid(pid: int) -> int:
    """A process's PID in its own (innermost) PID namespace."""
    return (status_numbers(pid, "NSpid") or [pid])[-1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def parent_of(pid: int) -> int | None:
    """The parent's pid (None once the process is gone)."""
    return next(iter(status_numbers(pid, "PPid")), None)


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (None once it is gone).

    A pid names a process only while it runs: on a busy machine the kernel hands a freed pid
    to the next process within minutes (``pid_max`` is 32768 here, and every thread takes
    one), so whoever holds a pid across time must check it still names the same process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # The command name (field 2) may hold spaces and parentheses: count after the last ")".
        return int(stat[stat.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def kill_process(pid: int) -> bool:
    """SIGKILL ``pid``; False when there was nothing (left) to kill."""
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU-seconds ``pid`` has used, user and system, with those of the children it reaped
    (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # utime, stime, cutime, cstime: fields 14-17, counted after the command name's ")".
        fields = stat[stat.rindex(")") + 2 :].split()[11:15]
        return sum(int(f) for f in fields) / TICKS_PER_S
    except (OSError, ValueError, IndexError):
        return 0.0


def tree_cpu_seconds(pid: int) -> float:
    """CPU-seconds used so far by ``pid`` and every process below it (those still running,
    and those they reaped)."""
    return sum(cpu_seconds(p) for p in (pid, *descendants(pid)))
