"""The sandbox's parts without a notebook kernel: launcher, hidden paths, environment, limits,
outcome names. The launcher tests start ``/bin/sh`` in it, which takes milliseconds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import sandbox_exec
from grader.exceptions import RubricError
from grader.limits import Limits
from grader.outcomes import cell_incident, death_incident, outcome_of
from grader.results import CellResult, Incident
from grader.rubric import load_assignment
from grader.sandbox import (
    SandboxedKernelManager,
    SandboxOptions,
    hidden_paths,
    kernel_env,
    namespaces_available,
    prepare,
)
from tests.conftest import ASSIGNMENT

needs_namespaces = pytest.mark.skipif(
    not namespaces_available(), reason="this machine does not allow namespaces"
)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder the sandbox user can reach: pytest's own are private to the grader's user."""
    folder = Path(tempfile.mkdtemp(prefix="grader-test-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder)


def write_spec(tmp_path: Path, **spec: object) -> Path:
    """The launcher's spec: namespaces, no limits, the sandbox user when run as root."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    os.chmod(work, 0o777)
    full = {
        "namespaces": True,
        "hide": [],
        "uid": 65534 if os.geteuid() == 0 else None,
        "gid": 65534 if os.geteuid() == 0 else None,
        "chown": [],
        "rlimits": {},
        "workdir": str(work),
        "status": str(tmp_path / "status.json"),
        **spec,
    }
    (tmp_path / "spec.json").write_text(json.dumps(full))
    return work


def launch(tmp_path: Path, script: str, **spec: object) -> tuple[int, dict[str, int], str]:
    work = write_spec(tmp_path, **spec)
    # The launcher sends the command's own output to /dev/null: the script writes to a file.
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            sandbox_exec.__file__,
            str(tmp_path / "spec.json"),
            "--",
            "/bin/sh",
            "-c",
            f"exec > {work}/out.txt 2>&1; {script}",
        ],
        check=False,
        timeout=60,
    )
    status = json.loads((tmp_path / "status.json").read_text())
    return run.returncode, status, (work / "out.txt").read_text()


@needs_namespaces
def test_the_kernel_has_no_network_no_privileges_and_cannot_see_hidden_folders(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "held_back.npz").write_text("answers")
    code, status, out = launch(
        tmp_path,
        f"cat /proc/net/dev; id -u; ls -A {secret}; echo listed; ps -e | wc -l",
        hide=[{"path": str(secret), "expose": []}],
    )
    assert (code, status) == (0, {"exit": 0})
    interfaces = [line.split(":")[0].strip() for line in out.splitlines() if ":" in line]
    assert interfaces == ["lo"]  # a network namespace of its own, with loopback only
    lines = out.splitlines()
    assert "held_back.npz" not in out and "listed" in lines
    if os.geteuid() == 0:
        assert "65534" in lines
    # Its own /proc: the shell, ps, wc and the sandbox's init, none of the grader's processes.
    assert int(lines[-1]) <= 6


@needs_namespaces
def test_a_hidden_folder_keeps_what_the_kernel_needs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("key")
    (home / "python" / "lib").mkdir(parents=True)
    (home / "python" / "lib" / "os.py").write_text("stdlib")
    code, _, out = launch(
        tmp_path,
        f"ls -A {home}; cat {home}/python/lib/os.py",
        hide=hidden_paths([home], keep=[home / "python" / "lib", home / "python"]),
    )
    assert code == 0 and out.split() == ["python", "stdlib"]


@needs_namespaces
def test_exit_code_and_signal_of_the_kernel_are_reported(tmp_path: Path) -> None:
    code, status, _ = launch(tmp_path, "exit 3")
    assert (code, status) == (3, {"exit": 3})
    code, status, _ = launch(tmp_path, "kill -9 $$")
    assert (code, status) == (-signal.SIGKILL, {"signal": signal.SIGKILL})


@needs_namespaces
def test_the_kernel_dies_with_the_grader(tmp_path: Path) -> None:
    """A batch killed with SIGKILL must not leave kernels running."""
    write_spec(tmp_path, uid=None, gid=None)
    launcher = f"{sys.executable} -I -S {sandbox_exec.__file__} {tmp_path / 'spec.json'}"
    # A stand-in grader: a shell that starts the sandbox and waits for it.
    grader = subprocess.Popen(["/bin/sh", "-c", f"{launcher} -- /bin/sleep 1000 & wait"])
    time.sleep(1)
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 10
    while not (tmp_path / "status.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads((tmp_path / "status.json").read_text()) == {"signal": signal.SIGKILL}


@needs_namespaces
def test_limits_are_set_before_the_command_runs(tmp_path: Path) -> None:
    limits = Limits(memory_mb=512, processes=40, file_size_mb=1, open_files=64, cpu_seconds=30)
    _, _, out = launch(
        tmp_path,
        "ulimit -d; ulimit -f; ulimit -n; ulimit -t; ulimit -c",
        rlimits=limits.rlimits(),
    )
    # sh reports the data segment in KiB and file sizes in 512-byte blocks.
    assert out.split() == [str(512 * 1024), str(2 * 1024), "64", "30", "0"]


def test_an_unhideable_path_is_left_alone_and_nested_needs_are_merged(tmp_path: Path) -> None:
    keep = [tmp_path / "a", tmp_path / "a" / "b"]
    for path in keep:
        path.mkdir(parents=True, exist_ok=True)
    assert hidden_paths([tmp_path, tmp_path / "a", Path("/"), None], keep) == [
        {"path": str(tmp_path.resolve()), "expose": [str((tmp_path / "a").resolve())]}
    ]


def test_the_kernel_environment_keeps_nothing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("GRADER_CACHE_DIR", "/cache")
    monkeypatch.setenv("PYTHONPATH", "/src")
    env = kernel_env(tmp_path)
    assert "AWS_SECRET_ACCESS_KEY" not in env and "GRADER_CACHE_DIR" not in env
    assert env["PYTHONPATH"] == "/src" and env["HOME"] == str(tmp_path)
    assert env["KERAS_HOME"] == str(tmp_path / ".keras")


def test_rubric_sandbox_limits_and_their_errors(tmp_path: Path) -> None:
    text = (ASSIGNMENT / "assignment.toml").read_text()
    assert load_assignment(ASSIGNMENT).limits == Limits()
    broken = tmp_path / "assignment.toml"
    broken.write_text(text.replace("memory_mb = 8192", "memory_mb = -1"))
    with pytest.raises(RubricError, match=r"\[sandbox.memory_mb\] expected a positive integer"):
        load_assignment(broken)
    broken.write_text(text.replace("open_files = 1024", "open_files = 1024\nswap_mb = 3"))
    with pytest.raises(RubricError, match=r"\[sandbox\] unknown key\(s\) swap_mb"):
        load_assignment(broken)
    broken.write_text(text.replace('# files = ["helpers.py"]', 'files = ["../x.py"]'))
    with pytest.raises(RubricError, match=r"\[sandbox.files\] '../x.py' is not a file"):
        load_assignment(broken)


@pytest.mark.parametrize(
    ("cell", "outcome"),
    [
        (CellResult(2, "timeout", 5.0, "", "TimeoutError", "stopped after 5 s"), "timeout"),
        (
            CellResult(2, "error", 1.0, "", "_ArrayMemoryError", "Unable to allocate"),
            "memory_limit",
        ),
        (
            CellResult(2, "error", 1.0, "", "BlockingIOError", "[Errno 11] Resource temporarily"),
            "process_limit",
        ),
        (
            CellResult(2, "error", 1.0, "", "RuntimeError", "can't start new thread"),
            "process_limit",
        ),
        (CellResult(2, "error", 1.0, "", "NameError", "name 'x' is not defined"), None),
        (CellResult(2, "ok", 1.0, ""), None),
    ],
    ids=["timeout", "memory", "fork", "thread", "ordinary-error", "ok"],
)
def test_a_failed_cell_is_named_by_the_limit_it_hit(cell: CellResult, outcome: str | None) -> None:
    incident = cell_incident(cell)
    assert (incident.outcome if incident else None) == outcome
    if incident:
        assert incident.cell == 2 and incident.detail.startswith("cell 2: ")


def test_the_most_serious_incident_is_the_outcome() -> None:
    assert outcome_of([]) == "ok"
    died = death_incident(4, "signal SIGSEGV")
    assert died == Incident("kernel_died", 4, "cell 4: the kernel died (signal SIGSEGV)")
    assert death_incident(4, "signal SIGXCPU").outcome == "timeout"  # the CPU-time limit
    truncated = Incident("output_truncated", 1, "")
    assert outcome_of([truncated, Incident("timeout", 3, ""), died]) == "kernel_died"
    assert outcome_of([truncated]) == "output_truncated"


def test_the_kernel_is_started_through_the_launcher_unless_the_sandbox_is_off(
    tmp_path: Path,
) -> None:
    submission = tmp_path / "hw.ipynb"
    submission.write_text("{}")
    data = tmp_path / "data.npz"
    data.write_bytes(b"npz")
    for enabled in (True, False):
        with prepare(SandboxOptions(enabled=enabled), submission=submission, data=data) as box:
            km = SandboxedKernelManager(kernel_name="python3")
            km.sandbox = box
            cmd = km.format_kernel_cmd()
            assert (sandbox_exec.__file__ in cmd) == enabled
            assert (box.work / "hw.ipynb").read_text() == "{}" and box.data.read_bytes() == b"npz"
            spec = json.loads(box.spec_file.read_text())
            assert bool(spec["rlimits"]) == enabled
