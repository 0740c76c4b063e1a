"""Fork-servers (:mod:`grader.sandbox.zygote`): a process forked from one is confined exactly as
a fresh one, is interrupted and ended as one, and the server forks only for its own user, only
what it can fork safely, and ends with the grader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from grader.sandbox import fork_server as servers
from grader.sandbox.confine import Confinement, Mount, SandboxOptions, confine
from tests.sandbox.confined import needs_namespaces, needs_root, run_confined, until
from tests.sandbox.forked_probe import WAIT, command

PROBE = "tests.sandbox.forked_probe"
THREADED = "tests.sandbox.forked_threaded"
ENV: servers.Env = ()

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fork-servers are Linux's"
)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("the grader's")
    return path


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Confinement]:
    work = tmp_path / "work"
    work.mkdir()
    # The probe's package, so that it can also run as a fresh process.
    tests = Mount(Path(__file__).resolve().parents[1])
    with confine(SandboxOptions(), mounts=[tests], workdir=work, name="probe") as confined:
        yield confined


@pytest.fixture
def server() -> Iterator[servers.ForkServer]:
    started = servers.ForkServer(PROBE)
    yield started
    started.close()


def forked(
    server: servers.ForkServer, box: Confinement, argv: list[str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        server.command(box, argv), env=box.env(), capture_output=True, text=True, timeout=60
    )


@needs_namespaces
def test_a_forked_process_is_confined_exactly_as_a_fresh_one(
    box: Confinement, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server is started while the grader's environment holds a secret.
    monkeypatch.setenv("GRADER_TEST_TOKEN", "the grader's token")
    server = servers.ForkServer(PROBE)
    try:
        fresh_run = run_confined(box, command([str(secret)]))
        forked_run = forked(server, box, [str(secret)])
    finally:
        server.close()
    assert fresh_run.returncode == forked_run.returncode == 0, forked_run.stderr
    fresh, fork = json.loads(fresh_run.stdout), json.loads(forked_run.stdout)
    # A fork of the server, not a new program:
    assert fresh["program"] == ["-m", "tests.sandbox.forked_probe"]
    assert fork["program"] == ["-m", "grader.sandbox.zygote"]
    # The environment a process started with stays readable in it: the server's is a
    # sandboxed process's allow-list, never more than a fresh one is given.
    assert set(fork["environ_at_start"]) <= set(fresh["environ_at_start"])
    assert "GRADER_TEST_TOKEN" not in fresh["environ_at_start"] + fork["environ_at_start"]
    # Everything else, field by field: identity, system-call filter, privileges, limits,
    # namespaces (PID 2, no network), mounts, descriptors, environment, the secret unread.
    for field in ("program", "environ_at_start"):
        del fresh[field], fork[field]
    assert fork == fresh
    assert fork["seccomp"] == "2" and fork["no_new_privs"] == "1" and fork["pid"] == 2
    assert fork["secret"] == "FileNotFoundError" and fork["interfaces"] == ["lo"]
    # Its three streams: no handle of the server's or the launcher's (one on the
    # confinement's folder, outside its root, would let it walk the machine's file system).
    assert list(fork["fds"]) == ["0", "1", "2"]
    if os.geteuid() == 0:
        assert fork["uid"] == box.uid != 0


@pytest.mark.parametrize("way", ["fresh", "forked"])
def test_an_interrupt_reaches_the_process_as_jupyter_sends_it(
    way: str, box: Confinement, server: servers.ForkServer
) -> None:
    argv = box.command(command([WAIT])) if way == "fresh" else server.command(box, [WAIT])
    # Jupyter starts a kernel in a session of its own and interrupts its process group.
    process = subprocess.Popen(
        argv, env=box.env(), stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "waiting\n"
        os.killpg(process.pid, signal.SIGINT)
        assert process.stdout.readline() == "interrupted\n"
        assert process.wait(timeout=30) == 0  # the launcher itself ignored it
    finally:
        process.kill()
        process.wait()


def test_killing_the_requester_ends_the_forked_process(
    box: Confinement, server: servers.ForkServer
) -> None:
    process = subprocess.Popen(server.command(box, [WAIT]), env=box.env(), stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"waiting\n"
        launcher = box.launcher_pid()
        assert launcher is not None and launcher != process.pid  # the server's child
        inside = [p.pid for p in psutil.Process(launcher).children(recursive=True)]
        assert inside
        process.kill()  # what Jupyter does to the kernel it started
        until(lambda: not any(psutil.pid_exists(pid) for pid in inside), "its end", 10)
    finally:
        process.kill()
        process.wait()


def test_the_server_ends_with_the_grader_that_started_it() -> None:
    code = (
        "import os, signal\n"
        "from grader.sandbox.fork_server import ForkServer\n"
        f"print(ForkServer({PROBE!r}).process.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    grader = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert grader.returncode == -signal.SIGKILL, grader.stderr
    pid = int(grader.stdout.split()[0])

    def ended() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    until(ended, "the server's end", timeout=10)


def _children(server: servers.ForkServer) -> set[int]:
    return {p.pid for p in psutil.Process(server.process.pid).children()}


def _ask(address: str, payload: bytes, fds: list[int]) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as link:
        link.connect(address)
        if fds:
            socket.send_fds(link, [payload], fds)
        else:
            link.sendall(payload)
        link.shutdown(socket.SHUT_WR)
        link.settimeout(30)
        return link.recv(256)


@pytest.mark.parametrize(
    "payload, fds",
    [
        (b"not json\n", [0, 1, 2]),
        (b'{"spec": 1, "argv": [], "env": {}}\n', [0, 1, 2]),
        (b'{"spec": "/nonexistent", "argv": [1], "env": {}}\n', [0, 1, 2]),
        (b'{"spec": "/nonexistent", "argv": [], "env": {"A": 1}}\n', [0, 1, 2]),
        (b'{"spec": "/nonexistent", "argv": [], "env": {}}\n', []),
        (b'{"spec": "/nonexistent", "argv": [], "env": {}}\n', [0, 1]),
        (b'{"spec": "/nonexistent", "argv": [], "env": {}}', [0, 1, 2]),  # never finished
    ],
)
def test_a_malformed_request_forks_nothing(
    server: servers.ForkServer, payload: bytes, fds: list[int]
) -> None:
    before = _children(server)
    assert _ask(server.address, payload, fds) == b""  # closed unanswered
    assert _children(server) <= before
    assert server.alive


def test_a_connection_that_sends_nothing_holds_no_one_up(
    server: servers.ForkServer, box: Confinement
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(server.address)
        # The next request is served once the silent one has timed out.
        done = forked(server, box, [])
        assert done.returncode == 0, done.stderr
        assert silent.recv(1) == b""  # closed unanswered


@needs_root
def test_another_user_is_refused_by_the_folder_and_by_the_server(
    server: servers.ForkServer,
) -> None:
    folder = Path(server.address).parent
    request = b'{"spec": "/nonexistent", "argv": [], "env": {}}\n'

    def as_nobody(address: str) -> str:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                os.setgid(65534)
                os.setuid(65534)
                os.write(write, b"answered " + _ask(address, request, [0, 1, 2]))
            except OSError as exc:
                os.write(write, type(exc).__name__.encode())
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read, "rb") as fh:
            return fh.read().decode()

    before = _children(server)
    # The folder (and the socket) let only the grader's user in.
    assert as_nobody(server.address) == "PermissionError"
    # Had they been opened up (reached through a handle on the folder, as a process that
    # inherited one could), the server itself checks who asks: closed, unanswered (a reset
    # when it closes before reading what was sent). Without the check it answers a status.
    handle = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    folder.chmod(0o711)
    Path(server.address).chmod(0o777)
    try:
        answer = as_nobody(f"/proc/self/fd/{handle}/{Path(server.address).name}")
        assert answer in ("answered ", "ConnectionResetError", "BrokenPipeError")
    finally:
        folder.chmod(0o700)
        os.close(handle)
    assert _children(server) <= before
    assert server.alive


def test_a_dead_server_is_replaced_and_switched_off_none_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = SandboxOptions()
    first = servers.fork_server(PROBE, options, ENV)
    try:
        assert first is not None and servers.fork_server(PROBE, options, ENV) is first
        first.process.kill()
        first.process.wait()
        second = servers.fork_server(PROBE, options, ENV)
        assert second is not None and second is not first and second.alive
        assert not Path(first.address).parent.exists()  # the dead one's folder is removed
        monkeypatch.setenv(servers.SWITCH, "0")
        assert servers.fork_server(PROBE, options, ENV) is None
        monkeypatch.delenv(servers.SWITCH)
        assert servers.fork_server(PROBE, SandboxOptions(enabled=False), ENV) is None
        assert servers.fork_server(PROBE, SandboxOptions(python=sys.executable), ENV) is None
    finally:
        servers.close_servers()


def test_a_server_with_a_thread_starts_each_process_fresh(box: Confinement) -> None:
    """A fork copies only the forking thread: locks another thread held stay held."""
    server = servers.ForkServer(THREADED)
    try:
        done = forked(server, box, [])
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["program"] == ["-m", "tests.sandbox.forked_probe"]
