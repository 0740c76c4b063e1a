"""The sandbox's parts without a notebook kernel: launcher, file system, identities, environment,
limits, outcome names. The launcher tests start ``/bin/sh`` or Python in it, which takes
milliseconds."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import grader
from grader.exceptions import ExecutionError, RubricError
from grader.execute.kernel_manager import SandboxedKernelManager
from grader.execute.outcomes import cell_incident, death_incident, outcome_of
from grader.results import CellResult, Incident
from grader.rubric.load import load_assignment
from grader.sandbox import launcher as sandbox_exec
from grader.sandbox import watchdog as watchdog_module
from grader.sandbox.confine import (
    SANDBOX_USER,
    Confinement,
    Mount,
    SandboxOptions,
    confine,
    kernel_env,
    namespaces_available,
)
from grader.sandbox.filesystem import course_material, python_paths
from grader.sandbox.identity import LOCK_FOLDER, lock_folder
from grader.sandbox.kernel import kernel_sandbox
from grader.sandbox.limits import ARITHMETIC_THREADS, THREAD_VARIABLES, Limits
from grader.sandbox.watchdog import Watchdog
from tests.conftest import ASSIGNMENT, ROOT
from tests.sandbox.confined import needs_namespaces, needs_root, run_confined

# What a sandbox's / may hold: the system, its own mounts, and the first folder of each path
# of Python's installation (their other contents are not mounted).
SYSTEM_NAMES = {"bin", "sbin", "lib", "lib64", "lib32", "libx32", "usr", "etc"}
OWN_NAMES = {"dev", "proc", "tmp", "var"}
DEVICES = {"null", "zero", "full", "random", "urandom", "tty", "fd", "stdin", "stdout", "stderr"}
TERMINALS = {"pts", "ptmx"}


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder the sandbox user can reach: pytest's own are private to the grader's user."""
    folder = Path(tempfile.mkdtemp(prefix="grader-test-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder)


def sh(box: Confinement, script: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run a shell script in the confinement; its output comes back through pipes."""
    return subprocess.run(
        box.command(["/bin/sh", "-c", script]),
        env=box.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@needs_namespaces
def test_the_process_has_no_network_no_privileges_and_its_own_processes(tmp_path: Path) -> None:
    with confine(SandboxOptions(), mounts=[], workdir=tmp_path) as box:
        run = sh(box, "cat /proc/net/dev; id -u; ps -e | wc -l")
        assert (run.returncode, box.exit_status()) == (0, "exit code 0"), run.stderr
    interfaces = [line.split(":")[0].strip() for line in run.stdout.splitlines() if ":" in line]
    assert interfaces == ["lo"]  # a network namespace of its own, with loopback only
    lines = run.stdout.split()
    if os.geteuid() == 0:
        first, last = SandboxOptions().uids
        assert first <= int(lines[-2]) <= last and box.uid == int(lines[-2])
    # Its own /proc: the shell, ps, wc and the sandbox's init, none of the grader's processes.
    assert int(lines[-1]) <= 6


@needs_namespaces
def test_the_new_root_shows_only_the_allow_list(tmp_path: Path) -> None:
    work, secret, shown = tmp_path / "work", tmp_path / "secret", tmp_path / "shown"
    for folder in (work, secret, shown):
        folder.mkdir()
    (secret / "held_back.npz").write_text("answers")
    (shown / "inside").mkdir()
    (shown / "inside" / "key.npz").write_text("hidden inside an allowed tree")
    (shown / "visible.txt").write_text("ok")
    checkout = Path(grader.__file__).resolve().parent.parent
    # Where course material lies: the checkout, and what an install copies into site-packages.
    material = [checkout / "assignments", checkout / "reference"]
    for packages in site.getsitepackages():
        material += [Path(packages) / "grader" / "assignments", Path(packages) / "reference"]
    with confine(
        SandboxOptions(), mounts=[Mount(shown)], workdir=work, hide=[shown / "inside"]
    ) as box:
        run = sh(
            box,
            # A folder made to hold mount points has its twin's permissions: tmp_path (0711)
            # cannot be listed by the sandbox's own user (as the grader's user, without root,
            # it can); the checkout can.
            f"ls -A /; echo --; ls -A /dev /dev/pts; echo --; "
            f"ls -A {tmp_path} 2>/dev/null; echo --; "
            f"ls -A {shown} {shown}/inside; echo --; ls -A {checkout} 2>/dev/null; "
            f"test -r {Path(grader.__file__)} && echo package; echo --; "
            f"ls {secret} {checkout}/assignments {checkout}/tests /home /root/.ssh 2>&1 "
            "| grep -c 'No such file'; "
            "touch /new /etc/new 2>&1; echo --; "
            + "; ".join(f"ls -A {p} 2>/dev/null" for p in material),
        )
    top, dev, listed, mounted, tree, rest, unhidden = run.stdout.split("--\n")
    assert unhidden == ""  # every assignment and reference solution, wherever installed
    pythons = {p.parts[1] for p in python_paths()[0]}
    assert OWN_NAMES <= set(top.split()) <= SYSTEM_NAMES | OWN_NAMES | pythons
    # Terminals of its own: none of the machine's appear in its /dev/pts.
    assert set(dev.split()) == DEVICES | TERMINALS | {"shm", "/dev:", "/dev/pts:"}
    assert set(listed.split()) <= {"work", "shown"}  # not the secret beside them
    assert mounted.split() == [f"{shown}:", "inside", "visible.txt", f"{shown}/inside:"]
    # The checkout holds every assignment and solution: only its grader package is shown
    # (and the virtual environment, when it lives there).
    assert "package" in tree.split() and set(tree.split()) <= {"grader", ".venv", "package"}
    failures, *touch = rest.splitlines()
    assert int(failures) == 5  # each ls failed: no such file or directory
    assert all("Read-only file system" in line for line in touch) and len(touch) == 2


def test_python_is_shown_without_the_source_checkout_and_course_material() -> None:
    shown, _ = python_paths()
    package = Path(grader.__file__).resolve().parent
    assert any(package.is_relative_to(p) for p in shown)
    assert Path(sys.base_prefix).resolve() in shown or any(
        Path(sys.base_prefix).resolve().is_relative_to(p) for p in shown
    )
    # An editable install puts the checkout on sys.path: only its grader package is shown.
    assert not any(ROOT.is_relative_to(p) for p in shown)
    assert not any(p.name == "tests" for p in shown)
    hidden = course_material()
    assert (ROOT / "assignments").resolve() in hidden and (ROOT / "reference").resolve() in hidden
    # An install (editable too) copies every assignment into site-packages/grader/assignments.
    for packages in site.getsitepackages():
        for folder in (Path(packages) / "grader" / "assignments", Path(packages) / "reference"):
            assert not folder.exists() or folder.resolve() in hidden


@needs_namespaces
def test_read_only_mounts_are_read_only_and_writable_ones_belong_to_the_sandbox(
    tmp_path: Path,
) -> None:
    work, ro = tmp_path / "work", tmp_path / "ro"
    work.mkdir()
    ro.mkdir()
    ro.chmod(0o777)  # only the mount stops a write
    (ro / "data.txt").write_text("read me\n")
    mounts = [Mount(ro), Mount(work, writable=True)]
    with confine(SandboxOptions(), mounts=mounts, workdir=work) as box:
        run = sh(box, f"cat {ro}/data.txt; touch {ro}/x 2>&1; touch {work}/y && echo wrote")
    lines = run.stdout.splitlines()
    assert lines[0] == "read me" and "Read-only file system" in lines[1] and lines[2] == "wrote"
    if box.uid is not None:
        assert (work / "y").stat().st_uid == box.uid == work.stat().st_uid


@needs_namespaces
def test_private_temporary_folders_are_capped_and_die_with_the_sandbox(tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    options = SandboxOptions(limits=Limits(tmpfs_mb=8))
    fill = "; ".join(
        f"dd if=/dev/zero of={d}/fill-{token} bs=1M count=12 2>&1 | grep -c 'No space left'"
        for d in sandbox_exec.PRIVATE_TMPFS
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with confine(options, mounts=[], workdir=tmp_path / "a") as a:
        writer = subprocess.Popen(
            a.command(["/bin/sh", "-c", f"{fill}; touch {tmp_path}/a/ready; sleep 60"]),
            env=a.env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        wait_for(tmp_path / "a" / "ready")
        with confine(options, mounts=[], workdir=tmp_path / "b") as b:
            seen = sh(b, "ls -A /tmp /var/tmp /dev/shm")
        assert a.kill()
        out, _ = writer.communicate(timeout=20)
    assert out.split() == ["1", "1", "1"]  # each of the three is full at 8 MiB
    assert token not in seen.stdout  # another sandbox sees none of it
    for folder in sandbox_exec.PRIVATE_TMPFS:  # and nothing of it is on the machine
        assert not (Path(folder) / f"fill-{token}").exists()


@needs_namespaces
def test_pivot_root_falls_back_to_chroot_and_says_so(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    fake = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('launcher', {sandbox_exec.__file__!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "def refuse(new, old): raise OSError(22, 'pivot_root: refused for the test')\n"
        "m.pivot_root = refuse\n"
        "sys.exit(m.main(sys.argv))\n"
    )
    with confine(SandboxOptions(), mounts=[], workdir=work) as box:
        command = box.command(["/bin/sh", "-c", f"ls -A /; cd {work} && echo in-work"])
        command[3:4] = ["-c", fake]  # python -I -S <launcher> ... -> python -I -S -c <fake> ...
        run = subprocess.run(command, env=box.env(), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "[sandbox] pivot_root failed" in run.stderr and "chroot" in run.stderr
    names = run.stdout.split()
    assert set(names) >= OWN_NAMES and names[-1] == "in-work"
    assert "home" not in names


@needs_namespaces
def test_a_mount_replaced_by_a_link_is_refused(tmp_path: Path) -> None:
    work, data = tmp_path / "work", tmp_path / "data"
    work.mkdir()
    data.mkdir()
    with confine(SandboxOptions(), mounts=[Mount(data)], workdir=work) as box:
        data.rmdir()
        data.symlink_to("/root")  # planted after the grader resolved the path
        run = sh(box, "echo started")
        assert box.exit_status() == f"exit code {sandbox_exec.SETUP_FAILED}"
    assert run.stdout == "" and "symbolic link" in run.stderr


@pytest.mark.parametrize("enabled", [True, False], ids=["sandboxed", "disabled"])
def test_confine_runs_a_python_filter_over_pipes(tmp_path: Path, enabled: bool) -> None:
    """The judge's shape: ``python -I -c ...`` reading stdin, writing stdout, with a read-only
    folder it can read and cannot write."""
    if enabled and not namespaces_available():
        pytest.skip("this machine does not allow namespaces")
    work, models = tmp_path / "work", tmp_path / "models"
    work.mkdir()
    models.mkdir()
    models.chmod(0o777)
    (models / "model.txt").write_text("weights")
    code = (
        "import pathlib, sys\n"
        "import grader.sandbox.limits  # a judge runs the grader's own code\n"
        "folder = pathlib.Path(sys.argv[1])\n"
        "print(sys.stdin.read().upper(), (folder / 'model.txt').read_text())\n"
        "try:\n    (folder / 'planted').write_text('x')\nexcept OSError as e:\n    print(e.errno)\n"
    )
    argv = [sys.executable, "-I", "-c", code, str(models)]
    with confine(SandboxOptions(enabled=enabled), mounts=[Mount(models)], workdir=work) as box:
        command = box.command(argv)
        run = run_confined(box, argv, stdin="hello")
    assert run.returncode == 0, run.stderr
    if enabled:
        assert run.stdout.split() == ["HELLO", "weights", "30"]  # 30: EROFS
        assert not (models / "planted").exists()
    else:
        assert command == argv and run.stdout.split()[:2] == ["HELLO", "weights"]


@needs_namespaces
def test_kill_ends_the_sandbox_and_the_status_says_so(tmp_path: Path) -> None:
    with confine(SandboxOptions(), mounts=[], workdir=tmp_path) as box:
        assert not box.kill()  # nothing started yet
        proc = subprocess.Popen(box.command(["/bin/sh", "-c", "sleep 1000 & sleep 1000"]))
        wait_for(box.root / "pids.json")
        assert box.kill()
        assert proc.wait(timeout=20) == -signal.SIGKILL
        assert box.exit_status() == "signal SIGKILL"
        assert not box.kill()


THREADS = """\
import threading, time
for _ in range(COUNT):
    try:
        threading.Thread(target=time.sleep, args=(300,), daemon=True).start()
    except RuntimeError:  # can't start new thread: the process limit
        break
time.sleep(300)
"""


@needs_namespaces
@pytest.mark.parametrize("where", ["kernel", "child"])
def test_the_watchdog_counts_threads(tmp_path: Path, where: str) -> None:
    """Threads fill ``RLIMIT_NPROC`` as processes do. In the kernel itself they cannot be
    killed one by one: the sandbox is killed. In a child process, the child is killed and the
    kernel (here a shell) goes on."""
    limits = Limits(processes=32)
    # A bomb in the kernel goes on until the limit stops it; in a child, it holds 20 threads.
    code = THREADS.replace("COUNT", str(10**6 if where == "kernel" else 20))
    python = [sys.executable, "-I", "-c", code]
    argv = python if where == "kernel" else ["/bin/sh", "-c", f"{shlex.join(python)}; echo went on"]
    with confine(SandboxOptions(limits=limits), mounts=[], workdir=tmp_path) as box:
        proc = subprocess.Popen(box.command(argv), stdout=subprocess.PIPE, text=True)
        wait_for(box.root / "pids.json")
        watchdog = Watchdog(proc.pid, limits)
        watchdog.start()
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            watchdog.stop()
    if where == "kernel":
        assert watchdog.threads_killed and proc.returncode == -signal.SIGKILL
    else:
        assert watchdog.take_strays() == 1 and not watchdog.threads_killed
        assert out == "went on\n" and proc.returncode == 0


def test_a_watchdog_never_touches_the_process_that_inherits_its_launchers_pid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a busy machine a finished launcher's pid soon names another grader's launcher (seen
    here: a judge and a filter killed mid-run in a parallel test run). Its old watchdog, with
    its own tight limits, must stop rather than judge, or kill, the newcomer's sandbox."""
    launcher = subprocess.Popen(["sleep", "60"])
    newcomer = subprocess.Popen(["sleep", "60"])  # stands for the new launcher's sandbox init
    try:
        watchdog = Watchdog(launcher.pid, Limits(processes=1))
        # The pid now names a process that started later, whose child is the newcomer's init.
        monkeypatch.setattr(
            watchdog_module, "start_time", lambda pid: (watchdog.launcher_started or 0) + 1
        )
        monkeypatch.setattr(watchdog_module, "children", lambda pid: [newcomer.pid])
        watchdog.check()
        assert newcomer.poll() is None and not watchdog.threads_killed
    finally:
        launcher.kill()
        newcomer.kill()
        launcher.wait()
        newcomer.wait()


@needs_namespaces
def test_exit_code_and_signal_are_reported(tmp_path: Path) -> None:
    with confine(SandboxOptions(), mounts=[], workdir=tmp_path) as box:
        assert sh(box, "exit 3").returncode == 3 and box.exit_status() == "exit code 3"
        assert sh(box, "kill -9 $$").returncode == -signal.SIGKILL
        assert box.exit_status() == "signal SIGKILL"


@needs_namespaces
def test_the_sandbox_dies_with_the_grader(tmp_path: Path) -> None:
    """A batch killed with SIGKILL must not leave kernels running."""
    with confine(SandboxOptions(), mounts=[], workdir=tmp_path) as box:
        launcher = " ".join(box.command(["/bin/sleep", "1000"]))
        # A stand-in grader: a shell that starts the sandbox and waits for it.
        stand_in = subprocess.Popen(["/bin/sh", "-c", f"{launcher} & wait"])
        wait_for(box.root / "pids.json")
        stand_in.kill()
        stand_in.wait()
        wait_for(box.status_file)
        assert json.loads(box.status_file.read_text()) == {"signal": signal.SIGKILL}


@needs_namespaces
def test_limits_are_set_before_the_command_runs(tmp_path: Path) -> None:
    limits = Limits(memory_mb=512, processes=40, file_size_mb=1, open_files=64, cpu_seconds=30)
    with confine(SandboxOptions(limits=limits), mounts=[], workdir=tmp_path) as box:
        run = sh(box, "ulimit -d; ulimit -f; ulimit -n; ulimit -t; ulimit -c")
    # sh reports the data segment in KiB and file sizes in 512-byte blocks.
    assert run.stdout.split() == [str(512 * 1024), str(2 * 1024), "64", "30", "0"]


@needs_root
def test_two_graders_never_share_a_uid(tmp_path: Path) -> None:
    """Another process (a second grader) holds a uid: this one gets another, then it again once
    the other is gone (the lock dies with its holder)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom pathlib import Path\n"
            "from grader.sandbox.confine import SandboxOptions, confine\n"
            f"with confine(SandboxOptions(), mounts=[], workdir=Path({str(tmp_path)!r})) as c:\n"
            "    print(c.uid, c.root, flush=True)\n    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    uid, folder = holder.stdout.readline().split()
    theirs = int(uid)
    with (
        confine(SandboxOptions(), mounts=[], workdir=tmp_path) as a,
        confine(SandboxOptions(), mounts=[], workdir=tmp_path) as b,
    ):
        assert len({theirs, a.uid, b.uid}) == 3
    holder.kill()  # SIGKILL: no clean-up, the system releases the lock
    holder.wait()
    shutil.rmtree(folder)
    with confine(SandboxOptions(uids=(theirs, theirs)), mounts=[], workdir=tmp_path) as c:
        assert c.uid == theirs


@needs_root
def test_what_runs_as_the_sandbox_user_ends_with_the_confinement(tmp_path: Path) -> None:
    """Without a PID namespace a daemon can outlive its kernel; not its identity's end."""
    options = SandboxOptions()
    with confine(options, mounts=[], workdir=tmp_path) as box:
        box_ns = Confinement(**{**box.__dict__, "namespaces": False})
        spec = json.loads(box.spec_file.read_text())
        box.spec_file.write_text(json.dumps({**spec, "namespaces": False}))
        run = sh(box_ns, "setsid sleep 1000 > /dev/null 2>&1 & echo $!")
        daemon = int(run.stdout)
        assert box.exit_status() == "exit code 0" and Path(f"/proc/{daemon}").exists()
    time.sleep(0.2)
    assert not Path(f"/proc/{daemon}").exists() or "Z" in Path(f"/proc/{daemon}/stat").read_text()


@needs_root
def test_the_uid_lock_folder_must_be_roots_alone(tmp_path: Path) -> None:
    assert lock_folder(tmp_path).stat().st_mode & 0o777 == 0o700
    for attack in ("link", "open", "foreign"):
        base = tmp_path / attack
        base.mkdir()
        planted = base / LOCK_FOLDER
        if attack == "link":
            planted.symlink_to(tmp_path)
        else:
            planted.mkdir(mode=0o700)
            if attack == "open":
                planted.chmod(0o777)
            else:
                os.chown(planted, 1000, 1000)
        with pytest.raises(ExecutionError, match="owned by root with mode 0700"):
            lock_folder(base)


def test_mounts_cannot_cover_the_sandboxs_own_folders(tmp_path: Path) -> None:
    for path in ("/", "/dev", "/dev/shm", "/var", "/tmp", "/proc/1"):
        with (
            pytest.raises(ValueError, match="cannot be mounted"),
            confine(SandboxOptions(), mounts=[Mount(Path(path))], workdir=tmp_path),
        ):
            pass


def test_the_environment_keeps_nothing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("GRADER_CACHE_DIR", "/cache")
    monkeypatch.setenv("PYTHONPATH", "/src")
    env = kernel_env(tmp_path)
    assert "AWS_SECRET_ACCESS_KEY" not in env and "GRADER_CACHE_DIR" not in env
    assert env["PYTHONPATH"] == "/src" and env["HOME"] == str(tmp_path)
    assert env["USER"] == env["LOGNAME"] == SANDBOX_USER
    assert env["KERAS_HOME"] == str(tmp_path / ".keras")
    with confine(SandboxOptions(), mounts=[], workdir=tmp_path) as box:
        env = box.env({"EXTRA": "1"})
    assert env["TMPDIR"] == ("/tmp" if box.namespaces else str(tmp_path))
    assert env["EXTRA"] == "1" and "AWS_SECRET_ACCESS_KEY" not in env


@pytest.mark.parametrize("grader_threads", ["", "2", "16"])
def test_every_kernel_and_judge_gets_the_same_threads_whatever_the_graders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grader_threads: str
) -> None:
    """Issue 24.6: a thread count that followed -j gave the same notebook another accuracy."""
    for name in THREAD_VARIABLES:
        if grader_threads:
            monkeypatch.setenv(name, grader_threads)
        else:
            monkeypatch.delenv(name, raising=False)
    env = kernel_env(tmp_path)
    assert {name: env[name] for name in THREAD_VARIABLES} == dict.fromkeys(
        THREAD_VARIABLES, str(ARITHMETIC_THREADS)
    )


def test_rubric_sandbox_limits_and_their_errors(tmp_path: Path) -> None:
    text = (ASSIGNMENT / "assignment.toml").read_text()
    assert load_assignment(ASSIGNMENT).limits == Limits()
    broken = tmp_path / "assignment.toml"
    broken.write_text(text.replace("memory_mb = 8192", "memory_mb = -1"))
    with pytest.raises(RubricError, match=r"\[sandbox.memory_mb\] expected a positive integer"):
        load_assignment(broken)
    broken.write_text(text.replace("tmpfs_mb = 512", "tmpfs_mb = 0"))
    with pytest.raises(RubricError, match=r"\[sandbox.tmpfs_mb\] expected a positive integer"):
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
        (
            CellResult(2, "error", 1.0, "", "OSError", "[Errno 28] No space left on device"),
            "disk_limit",
        ),
        (CellResult(2, "error", 1.0, "", "OSError", "[Errno 27] File too large"), "disk_limit"),
        (CellResult(2, "error", 1.0, "", "OSError", "[Errno 2] No such file"), None),
        (CellResult(2, "error", 1.0, "", "NameError", "name 'x' is not defined"), None),
        (CellResult(2, "ok", 1.0, ""), None),
    ],
    ids=["timeout", "memory", "fork", "thread", "no-space", "file-size", "os-error", "error", "ok"],
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
    assert outcome_of([truncated, Incident("disk_limit", 2, "")]) == "disk_limit"
    assert outcome_of([truncated]) == "output_truncated"


def test_the_kernel_is_started_through_the_launcher_unless_the_sandbox_is_off(
    tmp_path: Path,
) -> None:
    submission = tmp_path / "hw.ipynb"
    submission.write_text("{}")
    data = tmp_path / "data.npz"
    data.write_bytes(b"npz")
    for enabled in (True, False):
        with kernel_sandbox(
            SandboxOptions(enabled=enabled), submission=submission, data=data
        ) as box:
            km = SandboxedKernelManager(kernel_name="python3")
            km.sandbox = box
            cmd = km.format_kernel_cmd()
            assert (sandbox_exec.__file__ in cmd) == enabled
            assert (box.work / "hw.ipynb").read_text() == "{}" and box.data.read_bytes() == b"npz"
            assert box.spec_file.exists() == enabled
            if enabled:
                spec = json.loads(box.spec_file.read_text())
                assert spec["rlimits"] and spec["discard_output"]
                assert {b["path"] for b in spec["binds"] if b["writable"]} == {
                    str(box.work),
                    str(box.artefacts),
                    str(box.ipc),
                } or not box.namespaces


@needs_namespaces
def test_a_sandboxed_process_has_a_user_name_without_a_passwd_entry(tmp_path: Path) -> None:
    """Its uid is in no passwd file; libraries that name caches after the user (PyTorch 2.11's
    torchvision import) need getpass.getuser() to answer."""
    code = "import getpass, os; print(os.getuid(), getpass.getuser())"
    with confine(SandboxOptions(), mounts=[], workdir=tmp_path) as box:
        run = run_confined(box, [sys.executable, "-I", "-c", code])
    assert run.returncode == 0, run.stderr
    uid, name = run.stdout.split()
    assert int(uid) != os.getuid() and name == SANDBOX_USER


@needs_root
def test_the_judge_runs_in_its_group_where_it_exists_and_a_kernel_in_its_own(
    tmp_path: Path,
) -> None:
    """Without namespaces (Gradescope), the reference is readable by the judge's group alone
    (see setup.sh): the judge must run in it, a kernel never."""
    import grp

    group = next(g for g in grp.getgrall() if g.gr_gid != 0)
    (tmp_path / "judge").mkdir()
    (tmp_path / "kernel").mkdir()
    options = SandboxOptions()
    with confine(options, mounts=[], workdir=tmp_path / "judge", group=group.gr_name) as box:
        judge = run_confined(box, ["sh", "-c", "id -u; id -g; id -G"])
    uid, gid, groups = judge.stdout.split("\n")[:3]
    assert (gid, groups) == (str(group.gr_gid), str(group.gr_gid)) and uid != gid
    with confine(options, mounts=[], workdir=tmp_path / "kernel") as box:
        kernel = run_confined(box, ["sh", "-c", "id -u; id -g; id -G"])
    uid, gid, groups = kernel.stdout.split("\n")[:3]
    assert uid == gid == groups
    with confine(options, mounts=[], workdir=tmp_path / "kernel", group="no-such-group-x") as box:
        missing = run_confined(box, ["id", "-g"])
    assert missing.stdout.strip() == str(box.uid)  # no such group: its own, as before


def test_packages_linked_into_an_import_folder_are_shown_where_they_lead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site-packages made of links (a course environment built from a shared installation,
    Nix): the kernel imports through them, so their targets must be shown."""
    shared = tmp_path / "shared" / "somepkg"
    shared.mkdir(parents=True)
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "somepkg").symlink_to(shared)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    shown, _ = python_paths()
    assert shared.resolve() in shown and tmp_path.resolve() not in shown  # the target only
