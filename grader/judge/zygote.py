"""The judges' fork-server: a Python that imported Keras once, and forks each judge from it.

A judge is a fresh process for every submission (no judge ever holds another student's model),
and a fresh Python spends about 5 of a judge's 7-8 CPU-seconds importing TensorFlow and Keras.
This process imports them once, before it has seen anything of any submission, and then forks
a judge for each request::

    python -I -m grader.judge.zygote --framework keras --listen-fd N --grader-pid P

Its only input is the listening socket the grader made for it (in a folder only the grader's
user can enter). A connection (:func:`grader.sandbox.launcher.via`, run by the grader in the
judge's place, with the judge's pipes and environment) sends the path of a sandbox spec that
:func:`grader.sandbox.confine.confine` wrote, its environment, and its standard streams. The
server forks; the child takes those streams and that environment and does exactly what the
launcher does for a fresh judge (:func:`grader.sandbox.launcher.launch`: namespaces, the file
system built from nothing, PID 1, the limits, the judge's own uid, ``no_new_privs``, the
seccomp filter), then, instead of starting a new Python, calls the judge's ``main`` in the
process it already is. Its status goes back over the connection; the connection's end (the
grader killed that process) kills the sandbox, as its parent's end does.

It serves only its own user (``SO_PEERCRED``), and only forks what it can fork safely: a
process with a second thread (a library started one while importing) would hand its children
locks that no thread will release, so it then execs a fresh judge for each request instead,
the slow way. It ends when the grader does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import struct
import sys
import traceback
import typing as t

from grader.sandbox import launcher

MAX_REQUEST_BYTES = 1 << 20
"""A spec's path and an allow-listed environment: a few kilobytes."""
POLL_S = 0.5
"""How often it looks whether the grader is still there."""


def single_threaded() -> bool:
    """Whether this process has one thread, the only kind a child can be forked from safely."""
    return len(os.listdir("/proc/self/task")) == 1


def preload(framework: str) -> bool:
    """Import what ``framework``'s judge imports first; True if forked judges can use it."""
    if framework != "keras":
        return False
    from grader import keras_env

    with keras_env.quiet_stderr():
        import keras  # noqa: F401
    # What prepare() imports while the notebook runs.
    import grader.checks.base
    import grader.checks.cost
    import grader.judge.__main__
    import grader.rubric.load  # noqa: F401

    return single_threaded()


def judge_in_process(framework: t.Literal["keras", "torch"]) -> t.Callable[[], int]:
    """The judge's ``main`` as the confined child runs it."""

    def run() -> int:
        import tempfile

        tempfile.tempdir = None  # the judge's TMPDIR, not the one this server started with
        from grader.judge.__main__ import main

        try:
            return main(framework)
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
    """The request (``spec``, ``env``) and the three standard streams sent with it.

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
            and isinstance(request.get("env"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in request["env"].items())
        ):
            raise ValueError("not a judge's request")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return request, fds


def serve_one(
    conn: socket.socket,
    listener: socket.socket,
    framework: t.Literal["keras", "torch"],
    forkable: bool,
) -> int | None:
    """Fork a judge for the request on ``conn``; the child's pid, or None if refused."""
    if peer_uid(conn) != os.geteuid():
        return None
    try:
        request, fds = read_request(conn)
    except (OSError, ValueError):
        return None
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    status = json.dumps({"exit": launcher.SETUP_FAILED})
    try:
        listener.close()
        for number, fd in enumerate(fds):
            os.dup2(fd, number)
        keep = conn.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        os.environ.clear()
        os.environ.update(request["env"])
        with open(request["spec"], encoding="utf-8") as fh:
            spec = json.load(fh)
        command: launcher.Command = (
            judge_in_process(framework)
            if forkable
            else [sys.executable, "-I", "-m", "grader.judge", "--framework", framework]
        )
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
    parser = argparse.ArgumentParser(prog="python -m grader.judge.zygote")
    parser.add_argument("--framework", required=True, choices=("keras", "torch"))
    parser.add_argument("--listen-fd", type=int, required=True)
    # Given, not read: the grader may have died before this line ran.
    parser.add_argument("--grader-pid", type=int, required=True)
    args = parser.parse_args(argv)
    grader = args.grader_pid
    listener = socket.socket(fileno=args.listen_fd)
    forkable = preload(args.framework)
    while os.getppid() == grader:
        # Reaped here, so that the judges' CPU time counts in the grader's (rusage).
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        if not select.select([listener], [], [], POLL_S)[0]:
            continue
        conn, _ = listener.accept()
        with conn:
            serve_one(conn, listener, args.framework, forkable)
    return 0


if __name__ == "__main__":
    sys.exit(main())
