"""The background holder of a check prepared ahead (see :mod:`grader.check_ahead`).

``python -m grader.check_holder`` (started by ``grader check --keep-warm``, which writes its
request on its stdin: see :func:`main`): it listens
on this user's socket first, so that a check arriving while it starts waits for it rather than
starting a kernel of its own; starts the next check's kernel and judge as the check itself
would (:func:`grader.check_start.start_check`), imports the pipeline and loads the data; then
waits for one check. It serves at most one and exits: after that check, after an idle
timeout, when a check prepared for something else or a newer holder tells it to, or on
SIGTERM/SIGHUP; every exit stops the kernel and the judge (they are also killed with it should
it die outright: the sandbox's launcher sets their parent-death signal).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from pathlib import Path

from grader.check_ahead import (
    SOCKET,
    STATE,
    Lines,
    Ticket,
    options_from_record,
    peer_uid,
    runtime_dir,
    send,
    ticket,
)
from grader.progress import LastPhase
from grader.socket_path import socket_address

if t.TYPE_CHECKING:
    from grader.execute.warm import WarmPool
    from grader.options import GradeOptions

LOCK = "prepared-check.lock"
REQUEST_S = 5.0
"""Seconds a connected check has to say what it wants."""
REPLACE_S = 30.0
"""Seconds a new holder waits for the one it replaces to stop (it may be serving a check)."""

Serve = Callable[[socket.socket, Path], None]


def hold(listener: socket.socket, mine: Ticket, serve: Serve, idle_s: float) -> str:
    """Wait for the check ``mine`` was prepared for, and serve it; say why the wait ended.

    Returns:
        ``served``, ``refused`` (a check prepared for something else came: the student moved
        on), ``released`` (a newer holder takes the place) or ``idle`` (nobody came in time).
        A connection from another user, or one that says nothing, is dropped and the wait
        goes on.
    """
    deadline = time.monotonic() + idle_s
    while (left := deadline - time.monotonic()) > 0:
        listener.settimeout(left)
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            break
        with conn:
            if peer_uid(conn) != os.geteuid():
                continue
            conn.settimeout(REQUEST_S)
            try:
                message = Lines(conn).next()
            except (OSError, ValueError):
                continue
            if message is None:
                continue
            if "release" in message:
                return "released"
            try:
                reason = mine.mismatch(Ticket(**message["take"]))
                notebook = Path(message["notebook"])
            except (KeyError, TypeError) as exc:
                reason = f"an unreadable request ({exc})"
            if reason is not None:
                with contextlib.suppress(OSError):
                    send(conn, {"refused": reason})
                return "refused"
            send(conn, {"accepted": True})
            conn.settimeout(None)
            serve(conn, notebook)
            return "served"
    return "idle"


class Forward(LastPhase):
    """Sends each progress line of the check to the student's terminal while entered."""

    def __init__(self, conn: socket.socket) -> None:
        super().__init__()
        self.conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):
            send(self.conn, {"phase": record.getMessage()})


def serve_check(
    conn: socket.socket, notebook: Path, assignment: str, options: GradeOptions, pool: WarmPool
) -> None:
    """Run the check of ``notebook`` with ``pool``'s kernel and judge; send its result.

    Should the student's command end first (a Ctrl-C), the holder stops at once, kernel and
    judge with it.
    """
    from grader.pipeline import check

    finished = threading.Event()
    threading.Thread(target=_stop_if_gone, args=(conn, finished), daemon=True).start()
    try:
        with Forward(conn):
            result, report = check(notebook, assignment=assignment, options=options, warm=pool)
    except Exception as exc:
        finished.set()
        send(conn, {"failed": f"{type(exc).__name__}: {exc}"})
        return
    finished.set()
    done = {
        # Whole, not rounded as result.json is: the student's terminal prints it.
        "result": dataclasses.asdict(result),
        "report": str(report),
        "kernel": pool.served == 1,
        "judge": pool.judged == 1,
    }
    send(conn, {"done": done})


def _stop_if_gone(conn: socket.socket, finished: threading.Event) -> None:
    with contextlib.suppress(OSError):
        conn.recv(1)  # the check sends nothing more: this returns when it closes its end
    if not finished.is_set():
        os.kill(os.getpid(), signal.SIGTERM)


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _the_only_holder(folder: Path) -> Iterator[socket.socket]:
    """Hold this user's holder lock and socket: an older holder is told to stop first."""
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    address = folder / SOCKET
    try:
        deadline = time.monotonic() + REPLACE_S
        released = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                if not released:
                    released = _release(address)
                time.sleep(0.2)
        address.unlink(missing_ok=True)  # a holder that died outright left it
        with (
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener,
            socket_address(address) as reachable,
        ):
            listener.bind(reachable)
            listener.listen(4)
            try:
                yield listener
            finally:
                address.unlink(missing_ok=True)
                (folder / STATE).unlink(missing_ok=True)
    finally:
        os.close(fd)


def _release(address: Path) -> bool:
    """Tell the holder listening at ``address`` to stop; whether it was told."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(REQUEST_S)
        try:
            with socket_address(address) as reachable:
                sock.connect(reachable)
            send(sock, {"release": True})
        except OSError:
            return False
    return True


def _write_state(folder: Path, state: str, assignment: str) -> None:
    record = {"pid": os.getpid(), "state": state, "assignment": assignment}
    tmp = folder / f".{STATE}.{os.getpid()}"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(folder / STATE)


def _prepare(notebook: Path, assignment: str, options: GradeOptions) -> WarmPool | None:
    """The next check's kernel and judge, started; None if there is nothing to hold."""
    from grader.check_start import start_check
    from grader.course import use_kit_around

    use_kit_around(notebook.parent)
    pool = start_check(notebook, assignment, options)
    if pool is None or not pool.holding:
        if pool is not None:
            pool.close()
        return None
    try:
        # What the check would import and load before its kernel is asked for anything.
        for module in ("grader.pipeline", "grader.report.render", "grader.report.terminal"):
            importlib.import_module(module)
        from grader.data.prepare import assignment_data, prepare_data
        from grader.rubric.load import load_assignment

        prepare_data(**assignment_data(load_assignment(assignment), options))
    except BaseException:
        pool.close()
        raise
    return pool


def main(request: dict[str, t.Any]) -> int:
    """Prepare the check ``request`` asks for and hold it.

    Args:
        request: ``notebook``, ``assignment``, ``options`` (see
            :func:`grader.check_ahead.options_record`) and ``idle_s``, the seconds to wait.
    """
    notebook, assignment = Path(request["notebook"]), request["assignment"]
    options = options_from_record(request["options"])
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)
    # Before anything it imports adds to the environment, as the next command starts.
    mine = ticket(assignment, options)
    folder = runtime_dir()
    with _the_only_holder(folder) as listener:
        _write_state(folder, "starting", assignment)
        pool = _prepare(notebook, assignment, options)
        if pool is None:
            print("nothing to hold: the check's kernel could not be started ahead", flush=True)
            return 0
        try:
            _write_state(folder, "ready", assignment)
            ended = hold(
                listener,
                mine,
                lambda conn, nb: serve_check(conn, nb, assignment, options, pool),
                request["idle_s"],
            )
            print(f"holder ended: {ended}", flush=True)
        finally:
            pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.stdin.read())))
