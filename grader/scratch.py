"""The grader's temporary folders, and the removal of those a killed process left behind.

A kernel's sandbox, a judge, a relay or a batch task each work in a folder of the temporary
folder, removed when they end, hundreds of megabytes a notebook. A process killed outright
(SIGKILL, the out-of-memory killer, a machine's reset) removes nothing. So each folder is
claimed by its process with a lock (``flock``) on the folder itself, which the kernel drops
when the process ends however it ends; the next ``grade`` or ``check`` removes the folders no
process holds (:func:`sweep`).

A scratch folder is named ``grader-<kind>.<8 random characters>``: the dot tells it from the
folders of a grader that took no lock (an older version, maybe still running), which are left
alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SETTLE_S = 60.0
"""A folder younger than this is never swept: its process may not have claimed it yet."""

_KIND = "[a-z]+"
_SCRATCH = re.compile(rf"grader-{_KIND}\.[a-z0-9_]{{8}}")
""":func:`prefix` and :mod:`tempfile`'s eight random characters (lower-case, digits, ``_``)."""


def prefix(kind: str) -> str:
    """The start of a scratch folder's name: ``grader-<kind>.`` (``kind`` in ``[a-z]+``)."""
    if not re.fullmatch(_KIND, kind):
        raise ValueError(f"a scratch folder's kind is lower-case letters, not {kind!r}")
    return f"grader-{kind}."


@contextlib.contextmanager
def scratch_folder(kind: str) -> Iterator[Path]:
    """A new private folder in the temporary folder, claimed by this process, removed on exit.

    The claim lasts as long as this process or a child forked from it holds the folder (the
    lock belongs to the open folder, which a fork shares); a process started with ``exec``
    does not inherit it.
    """
    with tempfile.TemporaryDirectory(prefix=prefix(kind), ignore_cleanup_errors=True) as tmp:
        claim = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield Path(tmp)
        finally:
            os.close(claim)


def sweep(folder: Path | None = None, *, now: float | None = None) -> list[Path]:
    """Remove the scratch folders in ``folder`` (the temporary folder) that no process holds.

    Only folders named as :func:`scratch_folder` names them, real folders (not links) of this
    user, untouched for :data:`SETTLE_S`, whose lock can be taken: their process has ended.
    Quiet about everything it cannot look at or remove; never raises for a folder.

    Returns:
        the folders removed.
    """
    root = folder if folder is not None else Path(tempfile.gettempdir())
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        if not _SCRATCH.fullmatch(entry.name):
            continue
        with contextlib.suppress(OSError):
            found = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
                continue
            if now - found.st_mtime < SETTLE_S:
                continue
            path = Path(entry.path)
            if _remove_if_unclaimed(path):
                removed.append(path)
    return removed


def _remove_if_unclaimed(path: Path) -> bool:
    held = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its process is alive
            return False
        # Holding the lock, no other grader's sweep removes it at the same time.
        # What a notebook made unremovable for this user (`chmod 0` as the grader's own user,
        # without a sandbox identity) stays, as it would have: the sweep only gives up.
        shutil.rmtree(path, ignore_errors=True)
        return True
    finally:
        os.close(held)
