"""Unix socket addresses for paths of any length.

A Unix socket's address (``sun_path``) holds at most 107 bytes: a socket deeper than that in the
file system cannot be bound or reached by its path.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from pathlib import Path

from grader.scratch import prefix

MAX_ADDRESS = 107
"""The longest path a Unix socket's address may hold, in bytes (``sun_path`` less its NUL)."""

# Here rather than beside the code that makes these folders: the temporary-folder check runs
# at every command's start, and those modules import jupyter_client, which a cached regrade
# must not pay for.
SANDBOX_SOCKET_TAIL = len(f"/{prefix('sandbox')}{'x' * 8}/ipc-{'0' * 16}/kernel-5")
"""What a kernel's longest socket path adds to the temporary folder's: the sandbox's folder
(eight random characters, as :mod:`tempfile` names it), its ``ipc-<token>`` folder and the
fifth of Jupyter's channel sockets (see :mod:`grader.execute.kernel_manager`)."""
RELAY_SOCKET_TAIL = len(f"/{prefix('relay')}{'x' * 8}/control")
"""What the relay's longest socket path adds to the temporary folder's."""


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
