"""Unix socket addresses for paths of any length.

A Unix socket's address (``sun_path``) holds at most 107 bytes: a socket deeper than that in the
file system cannot be bound or reached by its path.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from pathlib import Path

MAX_ADDRESS = 107
"""The longest path a Unix socket's address may hold, in bytes (``sun_path`` less its NUL)."""


@contextlib.contextmanager
def socket_address(path: Path) -> t.Iterator[str]:
    """An address for the socket at ``path`` that ``bind`` and ``connect`` take, however deep.

    A deeper path (a long ``$TMPDIR`` or ``$XDG_RUNTIME_DIR``) is reached through a descriptor
    of its folder, ``/proc/self/fd/N/<name>``, open while the address is in use. Only for
    sockets this process binds or reaches itself: another process (a kernel) cannot be given
    such an address (see :func:`grader.execute.environment.check_temp_folder`).
    """
    if len(os.fsencode(path)) <= MAX_ADDRESS:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)
