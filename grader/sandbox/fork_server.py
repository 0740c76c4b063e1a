"""The grader's side of the fork-servers (:mod:`grader.sandbox.zygote`): one per program and
environment, started on first use, kept for the grading process's life.

A judge or a kernel forked from one is confined exactly as a fresh one: its sandbox is
prepared by :func:`~grader.sandbox.confine.confine` as before, and the launcher, run as
``--via``, hands its spec, pipes and environment to the server instead of starting a Python
(:meth:`~grader.sandbox.confine.Confinement.command_via`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import threading

from grader.sandbox.confine import Confinement, SandboxOptions, kernel_env
from grader.scratch import scratch_folder

SWITCH = "GRADER_FORK_SERVERS"
"""Set to ``0``, every judge and kernel is a fresh Python: to compare, or to debug."""

Env = tuple[tuple[str, str], ...]


class ForkServer:
    """A fork-server for one program, in an environment of a sandboxed process's own.

    Its socket lies in a folder only the grader's user can enter; it is bound here, before the
    server starts, so that a process asked for while the server still imports waits in the
    socket's queue instead of failing. Its environment is a sandboxed process's (the grader's
    allow-listed variables): a forked process can read the environment its process started
    with, so it holds nothing else; each request then sends its own.

    Args:
        program: the module it serves (see :mod:`grader.sandbox.zygote`).
    """

    def __init__(self, program: str) -> None:
        self._stack = contextlib.ExitStack()
        try:
            folder = self._stack.enter_context(scratch_folder("zygote"))
            folder.chmod(0o700)
            self.address = str(folder / "requests.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                listener.bind(self.address)
                listener.listen(64)
                self.process = subprocess.Popen(
                    [
                        *(sys.executable, "-I", "-m", "grader.sandbox.zygote"),
                        *("--program", program, "--listen-fd", str(listener.fileno())),
                        *("--grader-pid", str(os.getpid())),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=kernel_env(folder),
                    pass_fds=(listener.fileno(),),
                    # Not in the grader's process group: a terminal's Ctrl-C is the grader's
                    # to handle (it ends when the grader does).
                    start_new_session=True,
                )
            self._stack.callback(self._stop)
        except BaseException:
            self._stack.close()
            raise

    @property
    def alive(self) -> bool:
        """Whether it still serves."""
        return self.process.poll() is None

    def command(self, box: Confinement, argv: list[str]) -> list[str]:
        """The command that runs the program with ``argv``, confined by ``box``, through this
        server."""
        return box.command_via(self.address, argv)

    def _stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Stop the server, and with it what it forked; remove its folder."""
        self._stack.close()


_servers: dict[tuple[str, Env], ForkServer] = {}
_lock = threading.Lock()


def fork_server(program: str, options: SandboxOptions, env: Env) -> ForkServer | None:
    """The server of ``program`` for processes confined by ``options`` in the grader's
    (allow-listed) environment ``env``, started on first use; None where they start fresh:
    no sandbox, a course's own interpreter, not Linux, or :data:`SWITCH` set to ``0``."""
    if (
        not options.enabled
        or options.python is not None
        or not sys.platform.startswith("linux")
        or os.environ.get(SWITCH, "1") == "0"
    ):
        return None
    with _lock:
        server = _servers.pop((program, env), None)
        # A server is never replaced while it lives: what it forked ends with it.
        if server is not None and not server.alive:
            server.close()
            server = None
        if server is None:
            server = ForkServer(program)
        _servers[(program, env)] = server
        return server


def close_servers() -> None:
    """Stop every fork-server of this process, and what they forked (at exit)."""
    with _lock:
        while _servers:
            _servers.popitem()[1].close()


atexit.register(close_servers)
