"""One unprivileged identity per sandbox, held machine-wide for its lifetime.

A root grader gives each sandbox its own uid and gid from a dedicated range, so that two
sandboxes (of one batch, or of two graders on one machine) never share one: neither can signal
the other nor use up the other's process and thread limit (``RLIMIT_NPROC`` counts per user).
A uid is held by an ``flock()`` on a file of its own in a root-owned folder; the lock goes with
the process that holds it, so a grader killed mid-batch frees its uids.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from grader.exceptions import ExecutionError
from grader.sandbox.processes import kill_process

DEFAULT_UIDS = (200_000, 265_535)
"""The uids (and gids) a root grader gives its sandboxes: not ``nobody``, which other software
uses, and above the ranges that distributions hand to users and to containers' subuids."""


# Where the grader keeps one lock file per uid in use; /run/lock is cleared at boot.
LOCK_FOLDER = "keras-notebook-grader-uids"


def lock_folder(base: Path | None = None) -> Path:
    """The root-owned folder of uid locks: ``/run/lock/...`` if there is one, else in ``$TMPDIR``.

    Raises:
        ExecutionError: the folder exists but is not a root-owned folder closed to others
            (someone else created it to steal or block identities).
    """
    if base is None:
        base = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    folder = base / LOCK_FOLDER
    with suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        raise ExecutionError(
            f"{folder}: the sandbox's uid lock folder must be a folder owned by root with mode "
            "0700; someone else made it: remove it and grade again"
        )
    return folder


@contextmanager
def identity(first: int, last: int) -> Iterator[int]:
    """Hold the lowest free uid of ``first..last`` machine-wide until the block ends.

    A uid is free when no other grader holds its lock and no process runs as it. The lock is
    an ``flock()`` on ``<uid>.lock``: the system releases it when the holder dies, however it
    dies. At the end, whatever still runs as the uid is killed: only this sandbox used it.
    """
    folder = os.open(lock_folder(), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        busy = _uids_in_use()
        for uid in range(first, last + 1):
            if uid in busy or _has_account(uid):
                continue
            fd = os.open(
                f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=folder
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if uid in _uids_in_use():  # a process appeared between the scan and the lock
                os.close(fd)
                continue
            try:
                yield uid
            finally:
                _kill_user(uid)
                os.close(fd)
            return
    finally:
        os.close(folder)
    raise ExecutionError(
        f"no free sandbox uid in {first}-{last}: every one is in use by another sandbox; "
        "wait, or give a larger range"
    )


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _process_uids() -> dict[int, set[int]]:
    """Every process on the machine -> its uids (real, effective, saved, file system)."""
    found: dict[int, set[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        found[int(entry.name)] = {int(v) for v in line.split()[1:]}
                        break
        except (OSError, ValueError):
            continue
    return found


def _uids_in_use() -> set[int]:
    return set().union(*_process_uids().values())


def _kill_user(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (a fork bomb's may still be forking)."""
    for _ in range(20):
        pids = [pid for pid, uids in _process_uids().items() if uid in uids]
        if not pids:
            return
        for pid in pids:
            kill_process(pid)
        time.sleep(0.05)
