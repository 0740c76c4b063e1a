"""A fork-server: a Python that imported a program's slow modules once, and forks each confined
process of that program from itself.

A judge and a kernel are each a fresh process per submission (none ever holds another
student's model or code), and a fresh Python spends about 5 CPU-seconds of each importing
TensorFlow and Keras (or PyTorch). This process imports them once, before it has seen any
submission, and then forks one confined process per request::

    python -I -m grader.sandbox.zygote --program grader.judge.forked --listen-fd N --grader-pid P

``--program`` names a module of the grader's with three functions: ``preload()`` (the imports),
``run(argv) -> int`` (the program, called in the confined child) and ``command(argv)`` (the
same program as a fresh process: see below). Its only input is the listening socket the
grader made for it (:mod:`grader.sandbox.fork_server`, in a folder only the grader's user can
enter). A connection (:func:`grader.sandbox.launcher.via`, run by the grader in the confined
process's place, with its pipes and environment) sends the path of a sandbox spec that
:func:`grader.sandbox.confine.confine` wrote, the program's arguments, its environment and its
standard streams. The server forks; the child takes those streams and that environment, a
process group of its own, and does exactly what the launcher does for a fresh process
(:func:`grader.sandbox.launcher.launch`: namespaces, the file system built from nothing, PID
1, the limits, the sandbox's own uid, ``no_new_privs``, the seccomp filter), then, instead of
starting a new Python, calls ``run`` in the process it already is. Its status goes back over
the connection, and an interrupt comes in over it; the connection's end (the grader killed
that process) kills the sandbox, as its parent's end does.

It serves only its own user (``SO_PEERCRED``), and only forks what it can fork safely: a
process with a second thread (a library started one while importing) would hand its children
locks that no thread will release, so it then starts each request's program fresh instead
(``command``), the slow way. It ends when the grader does, and its children with it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import traceback
import typing as t

from grader.sandbox import launcher

MAX_REQUEST_BYTES = 1 << 20
"""A spec's path, a program's arguments and an allow-listed environment: a few kilobytes."""
POLL_S = 0.5
"""How often it looks whether the grader is still there."""
REQUEST_S = 10.0
"""How long a connection may take to send its request (the launcher sends it at once)."""


def single_threaded() -> bool:
    """Whether this process has one thread, the only kind a child can be forked from safely."""
    return len(os.listdir("/proc/self/task")) == 1


class Program(t.Protocol):
    """A module that a fork-server serves (see the module's docstring)."""

    def preload(self) -> None: ...

    def run(self, argv: list[str]) -> int: ...

    def command(self, argv: list[str]) -> list[str]: ...


def in_process(program: Program, argv: list[str]) -> t.Callable[[], int]:
    """``program.run(argv)`` as the confined child calls it: its exit code, whatever it raises."""

    def run() -> int:
        import tempfile

        tempfile.tempdir = None  # the request's TMPDIR, not the one this server started with
        try:
            return program.run(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            return 1

    return run


def peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end of ``conn``."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def read_request(conn: socket.socket) -> tuple[dict[str, t.Any], list[int]]:
    """The request (``spec``, ``argv``, ``env``) and the three standard streams sent with it.

    Raises:
        ValueError: not a request of :func:`grader.sandbox.launcher.via`'s.
    """
    data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST_BYTES, 3)
    try:
        while not data.endswith(b"\n"):
            if len(data) > MAX_REQUEST_BYTES or not (more := conn.recv(1 << 16)):
                raise ValueError("an incomplete request")
            data += more
        if len(fds) != 3:
            raise ValueError(f"{len(fds)} streams where three are sent")
        request = json.loads(data)
        if not (
            isinstance(request, dict)
            and isinstance(request.get("spec"), str)
            and isinstance(request.get("argv"), list)
            and all(isinstance(a, str) for a in request["argv"])
            and isinstance(request.get("env"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in request["env"].items())
        ):
            raise ValueError("not a request")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return request, fds


def serve_one(
    conn: socket.socket,
    listener: socket.socket,
    program: Program,
    forkable: bool,
    imported_env: dict[str, str],
) -> int | None:
    """Fork a confined process for the request on ``conn``; the child's pid, or None if
    refused. ``imported_env``: what the program's imports added to the environment, which a
    fresh process's imports would have added to its own."""
    if peer_uid(conn) != os.geteuid():
        return None
    conn.settimeout(REQUEST_S)  # one that never finishes its request holds no one up
    try:
        request, fds = read_request(conn)
    except (OSError, ValueError):
        return None
    conn.settimeout(None)
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    status = json.dumps({"exit": launcher.SETUP_FAILED})
    try:
        # A group of its own: an interrupt is sent to it (see launcher.launch).
        os.setpgid(0, 0)
        listener.close()
        for number, fd in enumerate(fds):
            os.dup2(fd, number)
        keep = conn.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        os.environ.clear()
        os.environ.update({**imported_env, **request["env"]})
        with open(request["spec"], encoding="utf-8") as fh:
            spec = json.load(fh)
        argv = request["argv"]
        command: launcher.Command = in_process(program, argv) if forkable else program.command(argv)
        status = launcher.launch(spec, command, link=conn)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        try:
            conn.sendall(status.encode())
        finally:
            os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.sandbox.zygote")
    parser.add_argument("--program", required=True, help="the module it serves")
    parser.add_argument("--listen-fd", type=int, required=True)
    # Given, not read: the grader may have died before this line ran.
    parser.add_argument("--grader-pid", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for what it forked
    listener = socket.socket(fileno=args.listen_fd)
    started_with = set(os.environ)
    program = t.cast(Program, importlib.import_module(args.program))
    program.preload()
    forkable = single_threaded()
    # (TensorFlow sets a few, h5py one.)
    imported_env = {k: v for k, v in os.environ.items() if k not in started_with}
    while os.getppid() == args.grader_pid:
        # Reaped here, so that the CPU time of what it forked counts in the grader's (rusage).
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        if select.select([listener], [], [], POLL_S)[0]:
            conn, _ = listener.accept()
            with conn:
                serve_one(conn, listener, program, forkable, imported_env if forkable else {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
