"""``grader check --keep-warm``: a check prepared in the background is taken only by the check it
was made for, only by its user, once; otherwise the check starts its own kernel. The holder
stops when it is done, idle, replaced or killed, with its kernel and judge."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import check_ahead, check_holder
from grader.check_ahead import (
    SOCKET,
    STATE,
    Lines,
    Ticket,
    options_from_record,
    options_record,
    runtime_dir,
    send,
    take_prepared,
    ticket,
)
from grader.check_holder import hold
from grader.options import CHECK_DEFAULTS
from grader.progress import LastPhase
from grader.results import GradeResult
from grader.sandbox.limits import Limits
from grader.socket_path import MAX_ADDRESS
from tests.conftest import EXAMPLES, ROOT

ASSIGNMENT = "cifar10_transfer"


@pytest.fixture(autouse=True)
def private_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own runtime folder: a holder the developer left waiting is never touched.

    A short path, as ``/run/user/<uid>`` is: a socket's address has at most 107 bytes.
    """
    with tempfile.TemporaryDirectory(prefix="run-", dir="/tmp") as run:
        monkeypatch.setenv("XDG_RUNTIME_DIR", run)
        yield Path(run) / check_ahead.FOLDER


class Phases(LastPhase):
    """Every progress line said while entered."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: t.Any) -> None:
        self.lines.append(record.getMessage())


def test_a_ticket_differing_in_any_field_is_refused_with_its_reason() -> None:
    mine = ticket(ASSIGNMENT, CHECK_DEFAULTS)
    assert mine.mismatch(ticket(ASSIGNMENT, CHECK_DEFAULTS)) is None
    changes: dict[str, tuple[t.Any, str]] = {
        "grader": ("x", "another grader version"),
        "course": ("/elsewhere", "another course"),
        "assignment": ("mnist_transfer", "another assignment"),
        "options": (options_record(CHECK_DEFAULTS.replace(budget="standard")), "other options"),
        "env": ({**mine.env, "KERAS_BACKEND": "torch"}, "another environment: $KERAS_BACKEND"),
        "cwd": ("/", "another folder"),
    }
    assert set(changes) == {f.name for f in dataclasses.fields(Ticket)}
    for name, (value, reason) in changes.items():
        assert mine.mismatch(dataclasses.replace(mine, **{name: value})) == reason, name


def test_an_edited_module_is_another_grader(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    module = tmp_path / "sub" / "mod.py"
    module.write_text("x = 1\n")
    before = check_ahead.code_fingerprint(tmp_path)
    assert check_ahead.code_fingerprint(tmp_path) == before
    stamp = module.stat()
    os.utime(module, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    assert check_ahead.code_fingerprint(tmp_path) != before
    module.write_text("x = 22\n")
    os.utime(module, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert check_ahead.code_fingerprint(tmp_path) != before  # same time, another size


def test_a_shells_own_variables_decide_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    mine = ticket(ASSIGNMENT, CHECK_DEFAULTS)
    monkeypatch.setenv("OLDPWD", "/somewhere")
    monkeypatch.setenv("SHLVL", "7")
    assert mine.mismatch(ticket(ASSIGNMENT, CHECK_DEFAULTS)) is None
    monkeypatch.setenv("GRADER_WARM_JUDGES", "0")
    assert mine.mismatch(ticket(ASSIGNMENT, CHECK_DEFAULTS)) == (
        "another environment: $GRADER_WARM_JUDGES"
    )


@pytest.mark.parametrize(
    "options",
    [
        CHECK_DEFAULTS,
        CHECK_DEFAULTS.replace(
            data_dir=Path("/data"),
            weights_dir=Path("w"),
            limits=Limits(memory_mb=100),
            cell_timeout=3.5,
            secret="s",
        ),
    ],
    ids=["defaults", "every-field"],
)
def test_options_travel_whole(options: t.Any) -> None:
    assert options_from_record(json.loads(json.dumps(options_record(options)))) == options


def test_the_runtime_folder_is_the_users_alone(private_run: Path) -> None:
    folder = runtime_dir()
    assert folder == private_run
    assert os.stat(folder).st_mode & 0o777 == 0o700
    folder.chmod(0o755)  # another user could reach the socket
    with pytest.raises(PermissionError, match="only this user can open"):
        runtime_dir()


def test_a_link_in_place_of_the_runtime_folder_is_refused(
    private_run: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    private_run.symlink_to(elsewhere)
    with pytest.raises(PermissionError):
        runtime_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user takes root")
def test_another_users_runtime_folder_is_refused(private_run: Path) -> None:
    private_run.mkdir(mode=0o700)
    os.chown(private_run, 65534, 65534)
    with pytest.raises(PermissionError):
        runtime_dir()


def test_a_check_without_a_holder_starts_its_own_silently(private_run: Path) -> None:
    with Phases() as phases:
        assert take_prepared(EXAMPLES / "full_marks.ipynb", ASSIGNMENT, CHECK_DEFAULTS) is None
    assert phases.lines == []
    assert not private_run.exists()  # a check without the flag creates nothing


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    folder = runtime_dir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(folder / SOCKET))
        sock.listen(4)
        yield sock


class Holder:
    """:func:`hold` in a thread, with a serve function that records what it was given."""

    def __init__(self, listener: socket.socket, mine: Ticket, idle_s: float, reply: t.Any) -> None:
        self.served: list[Path] = []
        self.ended = ""
        self.reply = reply

        def serve(conn: socket.socket, notebook: Path) -> None:
            self.served.append(notebook)
            self.reply(conn)

        def run() -> None:
            self.ended = hold(listener, mine, serve, idle_s)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> str:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return self.ended


def _taken(options: t.Any = CHECK_DEFAULTS) -> tuple[t.Any, list[str]]:
    with Phases() as phases:
        served = take_prepared(EXAMPLES / "full_marks.ipynb", ASSIGNMENT, options)
    return served, phases.lines


def test_nobody_comes_the_holder_ends_idle(listener: socket.socket) -> None:
    started = time.monotonic()
    holder = Holder(listener, ticket(ASSIGNMENT, CHECK_DEFAULTS), 0.5, lambda conn: None)
    assert holder.join() == "idle"
    assert 0.4 < time.monotonic() - started < 10
    assert holder.served == []


def test_the_check_it_was_made_for_is_served_with_its_phases_and_result(
    listener: socket.socket,
) -> None:
    text = (ROOT / "tests" / "files" / "results" / "full_marks.json").read_text()
    # Whole floats, not result.json's six decimals: the terminal prints what a cold check would.
    sent = dataclasses.replace(GradeResult.from_json(text), score=0.47574999999)

    def reply(conn: socket.socket) -> None:
        send(conn, {"phase": "running cell 1/9"})
        result = dataclasses.asdict(sent)
        done = {"result": result, "report": "/r.html", "kernel": True, "judge": True}
        send(conn, {"done": done})

    holder = Holder(listener, ticket(ASSIGNMENT, CHECK_DEFAULTS), 30, reply)
    served, lines = _taken()
    assert holder.join() == "served"
    assert holder.served == [EXAMPLES / "full_marks.ipynb"]
    assert served is not None and served.kernel and served.judge
    assert served.result == sent and served.result.score == 0.47574999999
    assert served.report == Path("/r.html")
    assert "running cell 1/9" in lines


def test_a_check_of_something_else_is_refused_and_starts_its_own(
    listener: socket.socket,
) -> None:
    holder = Holder(listener, ticket(ASSIGNMENT, CHECK_DEFAULTS), 30, lambda conn: None)
    served, lines = _taken(CHECK_DEFAULTS.replace(budget="standard"))
    assert served is None
    assert holder.join() == "refused" and holder.served == []
    assert any("not for this check (other options): starting a new one" in x for x in lines)


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (lambda conn: send(conn, {"failed": "ExecutionError: boom"}), "failed (ExecutionError"),
        (lambda conn: None, "stopped mid-check"),
    ],
    ids=["failed", "died"],
)
def test_a_holder_that_fails_or_dies_mid_check_leaves_a_cold_check(
    listener: socket.socket, reply: t.Any, said: str
) -> None:
    holder = Holder(listener, ticket(ASSIGNMENT, CHECK_DEFAULTS), 30, reply)
    served, lines = _taken()
    assert served is None
    assert holder.join() == "served"
    assert any(said in x and "from the start" in x for x in lines)


def test_a_holder_that_never_answers_leaves_a_cold_check(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_ahead, "ANSWER_S", 0.5)
    served, lines = _taken()  # nobody accepts: the connection waits in the backlog
    assert served is None
    assert any("did not answer" in x for x in lines)


def test_silent_and_garbled_connections_are_dropped_and_the_wait_goes_on(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_holder, "REQUEST_S", 0.3)
    holder = Holder(listener, ticket(ASSIGNMENT, CHECK_DEFAULTS), 30, _done_reply)
    for payload in (b"", b"not json\n", b"{"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(runtime_dir() / SOCKET))
            sock.sendall(payload)
    served, _ = _taken()
    assert holder.join() == "served" and served is not None


def test_a_request_without_a_ticket_is_refused(listener: socket.socket) -> None:
    holder = Holder(listener, ticket(ASSIGNMENT, CHECK_DEFAULTS), 30, _done_reply)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(runtime_dir() / SOCKET))
        send(sock, {"take": {"assignment": ASSIGNMENT}, "notebook": "x"})
        answer = Lines(sock).next()
    assert answer is not None and "an unreadable request" in answer["refused"]
    assert holder.join() == "refused" and holder.served == []


def _done_reply(conn: socket.socket) -> None:
    result = json.loads((ROOT / "tests" / "files" / "results" / "full_marks.json").read_text())
    done = {"result": result, "report": "/r.html", "kernel": True, "judge": True}
    send(conn, {"done": done})


@pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another user takes root")
def test_another_users_connection_is_dropped() -> None:
    # An abstract socket, which any user can reach (the runtime folder forbids it): the uid
    # check alone.
    address = f"\0grader-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(address)
        sock.listen(4)
        holder = Holder(sock, ticket(ASSIGNMENT, CHECK_DEFAULTS), 3, lambda conn: None)
        mine = json.dumps({"take": ticket(ASSIGNMENT, CHECK_DEFAULTS).record(), "notebook": "x"})
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            try:
                os.setgid(65534)
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
                    other.connect(address)
                    other.sendall(mine.encode() + b"\n")
                    other.recv(1)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert holder.join() == "idle" and holder.served == []


def test_the_holder_stops_what_it_prepared_and_clears_its_files_when_idle(
    private_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []

    class Pool:
        holding = True

        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(check_holder, "_prepare", lambda *a: Pool())
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # pytest's handlers stay
    request = {
        "notebook": str(EXAMPLES / "full_marks.ipynb"),
        "assignment": ASSIGNMENT,
        "options": options_record(CHECK_DEFAULTS),
        "idle_s": 0.3,
    }
    assert check_holder.main(request) == 0
    assert closed == [True]
    assert not (private_run / SOCKET).exists() and not (private_run / STATE).exists()


def test_a_newer_holder_replaces_the_waiting_one(
    private_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_holder, "_prepare", lambda *a: None)
    folder = runtime_dir()
    ended: list[str] = []
    with check_holder._the_only_holder(folder) as first:
        waiting = threading.Thread(
            target=lambda: ended.append(
                hold(first, ticket(ASSIGNMENT, CHECK_DEFAULTS), lambda c, n: None, 30)
            ),
            daemon=True,
        )
        waiting.start()
        replaced = threading.Thread(target=_second_holder, args=(folder,), daemon=True)
        replaced.start()
        waiting.join(timeout=10)
    assert ended == ["released"]
    replaced.join(timeout=10)
    assert not replaced.is_alive()


def _second_holder(folder: Path) -> None:
    with check_holder._the_only_holder(folder):
        pass


@pytest.mark.parametrize("finished", [False, True], ids=["mid-check", "after-the-result"])
def test_a_student_who_stops_waiting_stops_the_holder(
    monkeypatch: pytest.MonkeyPatch, finished: bool
) -> None:
    """A Ctrl-C on the check closes its socket: the holder stops its check (SIGTERM to itself,
    whose handler unwinds and stops the kernel and judge), unless the result was already sent."""
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    holder_end, check_end = socket.socketpair()
    done = threading.Event()
    if finished:
        done.set()
    check_end.close()
    with holder_end:
        check_holder._stop_if_gone(holder_end, done)
    assert killed == ([] if finished else [(os.getpid(), signal.SIGTERM)])


@pytest.mark.parametrize(("minutes", "flag"), [(0, []), (15, ["--keep-warm", "15"])])
def test_a_full_check_from_the_notebook_asks_for_it_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, minutes: float, flag: list[str]
) -> None:
    from grader.kit import live

    ran: list[list[str]] = []

    def run(args: list[str], **kw: t.Any) -> subprocess.CompletedProcess[str]:
        ran.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(live, "_timings_file", lambda: tmp_path / "seconds.json")
    live.full_check(str(EXAMPLES / "full_marks.ipynb"), keep_warm=minutes)
    assert ran[0][-len(flag) - 2 :] == ["--budget", "smoke", *flag]


def test_a_socket_left_by_a_killed_holder_leaves_a_cold_check() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(runtime_dir() / SOCKET))  # never listens, as after a SIGKILL
    served, lines = _taken()
    assert served is None
    assert any("did not answer" in x and "starting a new one" in x for x in lines)


def test_a_runtime_folder_too_deep_for_a_socket_address_still_serves_and_replaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A socket's address holds 107 bytes: under a deeper $XDG_RUNTIME_DIR (or $TMPDIR) the
    # holder could not listen, and every check started cold.
    with tempfile.TemporaryDirectory(prefix="run-", dir="/tmp") as run:
        deep = Path(run) / ("d" * 120)
        deep.mkdir()
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
        folder = runtime_dir()
        assert len(os.fsencode(folder / SOCKET)) > MAX_ADDRESS
        text = (ROOT / "tests" / "files" / "results" / "full_marks.json").read_text()
        result = dataclasses.asdict(GradeResult.from_json(text))
        done = {"result": result, "report": "/r.html", "kernel": True, "judge": True}
        with check_holder._the_only_holder(folder) as listener:
            holder = Holder(
                listener, ticket(ASSIGNMENT, CHECK_DEFAULTS), 30, lambda c: send(c, {"done": done})
            )
            served, _ = _taken()
            assert holder.join() == "served"
        assert served is not None and served.kernel
        # A newer holder tells the waiting one to go, through the same deep folder.
        ended: list[str] = []
        with check_holder._the_only_holder(folder) as first:
            mine = ticket(ASSIGNMENT, CHECK_DEFAULTS)
            waiting = threading.Thread(
                target=lambda: ended.append(hold(first, mine, lambda c, n: None, 30)), daemon=True
            )
            waiting.start()
            replaced = threading.Thread(target=_second_holder, args=(folder,), daemon=True)
            replaced.start()
            waiting.join(timeout=10)
        replaced.join(timeout=10)
        assert ended == ["released"] and not replaced.is_alive()
