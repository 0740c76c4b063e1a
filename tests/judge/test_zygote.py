"""The judges' fork-server: a forked judge is confined exactly as a fresh one, judges the same,
serves only its own user, and ends with whoever started or asked for it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import psutil
import pytest

from grader.data.prepare import PreparedData, prepare_data
from grader.judge import process as judge_process
from grader.judge.process import StartedJudge, judge_key, judge_request, judge_server
from grader.judge.zygote import single_threaded
from grader.rubric.load import load_assignment
from grader.sandbox.confine import Confinement, SandboxOptions, namespaces_available

SPEC = load_assignment("cifar10_transfer")
SECRET_NAME = "GRADER_TEST_ZYGOTE_SECRET"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the fork-server is Linux's"
)


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return prepare_data(
        SPEC.dataset, data_dir=None, seed=SPEC.seed, held_back=SPEC.held_back, secret="judge-test"
    )


def _wait(predicate: t.Callable[[], t.Any], what: str, timeout: float = 60) -> t.Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def _judge_pid(box: Confinement) -> int:
    """The pid of the process that runs the judge's code (the sandbox's init's child), once
    it is confined (the seccomp filter is the launcher's last step)."""

    def find() -> int | None:
        try:
            pids = json.loads((box.root / "pids.json").read_text(encoding="utf-8"))
            children = psutil.Process(int(pids["init"])).children()
        except (OSError, ValueError, KeyError, psutil.Error):
            return None
        if not children or _status(children[0].pid).get("Seccomp") != "2":
            return None
        return children[0].pid

    return int(_wait(find, "the judge's process"))


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _seen_from_outside(started: StartedJudge) -> dict[str, t.Any]:
    """What confines a judge, read from outside it, once it waits for its request."""
    pid = _judge_pid(started.box)
    # A fresh one's environment is read once it is the judge's program (not the launcher).
    _wait(lambda: b"grader.judge" in Path(f"/proc/{pid}/cmdline").read_bytes(), "the judge")
    status = _status(pid)
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return {
        "pid": pid,
        "cmdline": Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"),
        "uid": int(status["Uid"].split()[0]),
        "seccomp": status["Seccomp"],
        "no_new_privs": status["NoNewPrivs"],
        "capabilities": status["CapEff"],
        "own_namespaces": [
            os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
            for ns in ("mnt", "net", "pid")
        ],
        "root": sorted(os.listdir(f"/proc/{pid}/root")),
        "limits": Path(f"/proc/{pid}/limits").read_text(encoding="utf-8"),
        "environ": {e.split(b"=", 1)[0].decode() for e in environ if e},
        "secret_in_environ": any(SECRET_NAME.encode() in e for e in environ),
    }


@pytest.fixture
def secret_in_grader(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[None]:
    """A secret in the grader's environment, for a judge to look for: not allow-listed."""
    monkeypatch.setenv(SECRET_NAME, "the grader's token")
    judge_process.close_servers()  # a server started here, with the secret in the grader's env
    yield
    judge_process.close_servers()


def test_a_forked_judge_is_confined_exactly_as_a_fresh_one(
    data: PreparedData, secret_in_grader: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not namespaces_available():
        pytest.skip("this machine does not allow namespaces")
    key = judge_key(SandboxOptions(), SPEC, data, {})
    seen = {}
    for way in ("fresh", "forked"):
        monkeypatch.setenv(judge_process.FRESH_JUDGES_VARIABLE, "1" if way == "fresh" else "0")
        started = StartedJudge(key)
        try:
            seen[way] = {**_seen_from_outside(started), "identity": started.box.uid}
        finally:
            started.close()
    fresh, forked = seen["fresh"], seen["forked"]
    # The forked one really is a fork of the server: no new program was started.
    assert b"grader.judge.zygote" in b" ".join(forked["cmdline"])
    assert b"grader.judge.zygote" not in b" ".join(fresh["cmdline"])
    for field in ("seccomp", "no_new_privs", "capabilities", "own_namespaces", "root", "limits"):
        assert forked[field] == fresh[field], field
    assert forked["seccomp"] == "2" and forked["no_new_privs"] == "1"
    assert all(forked["own_namespaces"])
    if os.geteuid() == 0:
        assert forked["uid"] == forked["identity"] != 0  # the sandbox's own, not root
    # The environment a process started with stays readable in it: the server's holds only
    # what a fresh judge is given, never the grader's secret.
    assert forked["environ"] <= fresh["environ"]
    assert not forked["secret_in_environ"] and not fresh["secret_in_environ"]


def _judge_empty_evidence(key: t.Any, data: PreparedData) -> t.Any:
    started = StartedJudge(key)
    try:
        request = judge_request(
            SPEC, SPEC.plan("smoke"), data, started.evidence, {r: 0.5 for r in SPEC.roles}, []
        )
        return started.judge.run(request, SPEC, timeout=300)
    finally:
        started.close()


def test_a_forked_judge_judges_as_a_fresh_one(
    data: PreparedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = judge_key(SandboxOptions(), SPEC, data, {})
    monkeypatch.setenv(judge_process.FRESH_JUDGES_VARIABLE, "1")
    fresh = _judge_empty_evidence(key, data)
    monkeypatch.delenv(judge_process.FRESH_JUDGES_VARIABLE)
    assert judge_server(key) is not None
    forked = _judge_empty_evidence(key, data)
    assert not forked.problem, forked.detail
    assert [(c.id, c.status, c.message) for c in forked.checks] == [
        (c.id, c.status, c.message) for c in fresh.checks
    ]
    assert all(c.status == "fail" for c in forked.checks)  # nothing was handed in


def test_a_forked_judge_ends_when_its_requester_is_killed(data: PreparedData) -> None:
    key = judge_key(SandboxOptions(), SPEC, data, {})
    assert judge_server(key) is not None
    started = StartedJudge(key)
    try:
        pid = _judge_pid(started.box)
        started.judge.process.kill()  # what Judge.close() does to the process it started
        _wait(lambda: not psutil.pid_exists(pid), "the forked judge's end", timeout=10)
    finally:
        started.close()


def test_the_server_ends_with_the_grader_that_started_it(data: PreparedData) -> None:
    code = (
        "import os, signal, sys\n"
        "from grader.data.prepare import prepare_data\n"
        "from grader.judge.process import judge_key, judge_server\n"
        "from grader.rubric.load import load_assignment\n"
        "from grader.sandbox.confine import SandboxOptions\n"
        "spec = load_assignment('cifar10_transfer')\n"
        "data = prepare_data(spec.dataset, data_dir=None, seed=spec.seed,\n"
        "                    held_back=spec.held_back, secret='judge-test')\n"
        "server = judge_server(judge_key(SandboxOptions(), spec, data, {}))\n"
        "print(server.process.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    grader = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert grader.returncode == -9, grader.stderr
    server = int(grader.stdout.split()[0])
    _wait(lambda: not psutil.pid_exists(server), "the server's end", timeout=10)


def _server_children(server: judge_process.JudgeServer) -> set[int]:
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
        (b'{"spec": 1, "env": {}}\n', [0, 1, 2]),
        (b'{"spec": "/nonexistent", "env": {"A": 1}}\n', [0, 1, 2]),
        (b'{"spec": "/nonexistent", "env": {}}\n', []),
        (b'{"spec": "/nonexistent", "env": {}}\n', [0, 1]),
        (b'{"spec": "/nonexistent", "env": {}}', [0, 1, 2]),  # never finished
    ],
)
def test_a_malformed_request_forks_nothing(
    data: PreparedData, payload: bytes, fds: list[int]
) -> None:
    server = judge_server(judge_key(SandboxOptions(), SPEC, data, {}))
    assert server is not None
    before = _server_children(server)
    assert _ask(server.address, payload, fds) == b""  # closed unanswered
    assert _server_children(server) <= before
    assert server.alive


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another user to ask")
def test_another_user_is_refused_by_the_folder_and_by_the_server(data: PreparedData) -> None:
    server = judge_server(judge_key(SandboxOptions(), SPEC, data, {}))
    assert server is not None
    folder = Path(server.address).parent
    request = json.dumps({"spec": "/nonexistent", "env": {}}).encode() + b"\n"

    def as_nobody(address: str) -> str:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                os.setgid(65534)
                os.setuid(65534)
                answer = _ask(address, request, [0, 1, 2])
                os.write(write, b"answered " + answer)
            except OSError as exc:
                os.write(write, type(exc).__name__.encode())
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read, "rb") as fh:
            return fh.read().decode()

    before = _server_children(server)
    # The folder (and the socket) let only the grader's user in.
    assert as_nobody(server.address) == "PermissionError"
    # Had they been opened up (reached through a handle on the folder, as a process that
    # inherited one could), the server itself checks who asks: closed, unanswered.
    handle = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    folder.chmod(0o711)
    Path(server.address).chmod(0o777)
    try:
        answer = as_nobody(f"/proc/self/fd/{handle}/{Path(server.address).name}")
        # (A reset when it closes before reading what was sent.)
        assert answer in ("answered ", "ConnectionResetError", "BrokenPipeError")
    finally:
        folder.chmod(0o700)
        os.close(handle)
    assert _server_children(server) <= before
    assert server.alive


def test_a_dead_server_is_replaced_and_switched_off_none_is_used(
    data: PreparedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = judge_key(SandboxOptions(), SPEC, data, {})
    first = judge_server(key)
    assert first is not None and judge_server(key) is first
    first.process.kill()
    first.process.wait()
    second = judge_server(key)
    assert second is not None and second is not first and second.alive
    assert not Path(first.address).parent.exists()  # the dead one's folder is removed
    monkeypatch.setenv(judge_process.FRESH_JUDGES_VARIABLE, "1")
    assert judge_server(key) is None
    monkeypatch.delenv(judge_process.FRESH_JUDGES_VARIABLE)
    assert judge_server(judge_key(SandboxOptions(enabled=False), SPEC, data, {})) is None


def test_a_server_with_threads_starts_fresh_judges_instead(data: PreparedData) -> None:
    """onnxruntime starts a thread when imported: forking a PyTorch judge would not be safe."""
    assert single_threaded()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not single_threaded()
    finally:
        stop.set()
        thread.join()
    server = judge_process.JudgeServer("torch")
    try:
        with judge_process.judge_sandbox(SandboxOptions(), SPEC, data) as (box, _):
            judge = judge_process.Judge(server.command(box), box.env())
            try:
                pid = _judge_pid(box)
                _wait(
                    lambda: b"grader.judge\0" in Path(f"/proc/{pid}/cmdline").read_bytes(), "exec"
                )
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                assert cmdline[-4:-1] == [b"grader.judge", b"--framework", b"torch"]
                assert judge.process.stdin is not None
                judge.process.stdin.close()  # nothing to judge: it ends, exit 0
                assert judge.process.wait(timeout=120) == 0
            finally:
                judge.close()
    finally:
        server.close()
