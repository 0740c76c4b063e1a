"""Hostile kernels against the sandbox itself: the file system view, identities, temporary space.

Each notebook test grades an attack beside an honest notebook (a copy of the full-marks
example), which must grade exactly as its golden says; the attacks graded one kernel at a
time share one batch and its one neighbour (``one_batch``). The hand-in and output folders live
where an instructor's would, outside the grader's home and temporary folder, readable by
everyone as files usually are (``/var/tmp/...``, mode 0755).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pyseccomp
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

import grader.sandbox.confine
from grader.cli import main
from grader.data.cache import cache_dir
from grader.results import GradeResult
from grader.sandbox import launcher as sandbox_exec
from grader.sandbox.confine import SandboxOptions, confine
from grader.sandbox.kernel import Sandbox, kernel_sandbox
from grader.sandbox.limits import Limits
from tests.conftest import ASSIGNMENT, EXAMPLES, ROOT
from tests.sandbox.confined import needs_namespaces, needs_root, run_confined

GOLDENS = ROOT / "tests" / "goldens" / "cifar10_transfer"

WALK = """\
import json, os, sys
own = os.path.dirname(os.getcwd())  # this kernel's own sandbox folder
grader = os.path.dirname(__import__("grader").__file__)  # the grader's own package
system = [os.path.realpath(p) for p in ("/proc", "/sys", "/dev", "/usr", "/etc",
                                        sys.prefix, sys.base_prefix, grader)]
found = {"own": own, "hits": [], "direct": {}}
for top in TOPS + [os.getcwd()]:  # its own folder too: the search does find files
    inside_system = any(os.path.realpath(top).startswith(s + "/") for s in system)
    for folder, dirs, files in os.walk(top):
        if not inside_system:  # the system and Python are shown on purpose: not searched
            dirs[:] = [d for d in dirs
                       if os.path.realpath(os.path.join(folder, d)) not in system]
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith((".ipynb", ".json", ".toml", ".npz")):
                try:
                    with open(path, "rb") as fh:
                        fh.read(1)
                    found["hits"].append(path)
                except OSError:
                    pass
for path in DIRECT:
    try:
        with open(path, "rb") as fh:
            found["direct"][path] = fh.read(20).decode(errors="replace")
    except OSError as exc:
        found["direct"][path] = type(exc).__name__
print(json.dumps(found))
"""

ESCAPES = """\
import ctypes, json, os, sys, threading, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.personality.argtypes = [ctypes.c_ulong]
number = json.loads(sys.argv[1])

def in_child(call):  # each attempt in a process of its own: one that succeeds changes it
    pid = os.fork()
    if pid == 0:
        ret = call()
        os._exit(ctypes.get_errno() if ret == -1 else 0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

errors = {
    "ptrace": in_child(lambda: libc.ptrace(0, 0, 0, 0)),  # PTRACE_TRACEME
    "unshare": in_child(lambda: libc.unshare(0x10000000)),  # CLONE_NEWUSER
    # clone as fork, into a new user namespace (the child of a success exits at once)
    "clone": in_child(lambda: libc.syscall(number["clone"], 0x10000000 | 17, 0, 0, 0, 0)
                      or os._exit(0)),
    # Without the filter these fail for want of the folder or of valid arguments, not EPERM.
    "mount": in_child(lambda: libc.mount(None, b"/no-such-folder", b"tmpfs", 0, None)),
    "bpf": in_child(lambda: libc.syscall(number["bpf"], 1000, None, 0)),
    "io_uring_setup": in_child(lambda: libc.syscall(number["io_uring_setup"], 0, None)),
    "personality": in_child(lambda: libc.personality(0x0040000)),  # ADDR_NO_RANDOMIZE
}
# What honest code does still works: threads (clone3 falls back to clone), subprocesses, and
# reading the personality.
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
honest = [libc.personality(0xFFFFFFFF), subprocess.run(["/bin/true"]).returncode]
print(json.dumps({"errors": errors, "honest": honest}))
"""

SYSCALLS = ("clone", "bpf", "io_uring_setup")  # called by number: libc has no wrapper

THREAD_BOMB = """\
import threading, time
while True:
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
"""


@pytest.fixture
def course() -> Iterator[Path]:
    """An instructor's course folder: hand-in and output side by side, readable by all."""
    folder = Path(tempfile.mkdtemp(prefix="grader-course-", dir="/var/tmp"))
    folder.chmod(0o755)
    (folder / "handin").mkdir(mode=0o755)
    yield folder
    shutil.rmtree(folder)


def honest(handin: Path, stem: str) -> None:
    shutil.copyfile(EXAMPLES / "full_marks.ipynb", handin / f"{stem}.ipynb")
    (handin / f"{stem}.ipynb").chmod(0o644)


def write(handin: Path, stem: str, *cells: str) -> None:
    nb: nbformat.NotebookNode = new_notebook(cells=[new_code_cell(c) for c in cells])
    nbformat.write(nb, handin / f"{stem}.ipynb")
    (handin / f"{stem}.ipynb").chmod(0o644)


def grade_folder(handin: Path, out: Path, *options: str) -> dict[str, GradeResult]:
    run = CliRunner().invoke(
        main,
        # --force: every notebook runs here, beside the attack, never from the result cache.
        ["grade", str(handin), "-a", "cifar10_transfer", "--out", str(out), "--budget", "smoke",
         "--force", *options],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    return {p.parent.name: GradeResult.from_json(p.read_text()) for p in out.glob("*/result.json")}


def assert_golden(result: GradeResult) -> None:
    golden = json.loads((GOLDENS / "full_marks.json").read_text())
    assert {c.id: c.status for c in result.checks} == golden["checks"]
    assert result.score == golden["score"] and result.outcome == "ok", result.incidents
    assert result.incidents == []


def stdout_of(out: Path, stem: str, cell: int) -> str:
    nb = nbformat.read(out / stem / "executed.ipynb", as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[cell].outputs if o.get("name") == "stdout")


@dataclass(frozen=True)
class OneBatch:
    """The ``-j 1`` batch of the snooping, writing and reading notebooks and their neighbour."""

    results: dict[str, GradeResult]
    handin: Path
    out: Path
    leftovers: list[str]
    """What the writer leaves in /tmp, /var/tmp and /dev/shm, then the big /dev/shm file."""


@pytest.fixture(scope="module")
def one_batch() -> Iterator[OneBatch]:
    """One batch (``-j 1``) for the attacks that run one kernel at a time: the honest neighbour
    first (``aa_``), then ``bb_writer`` and ``cc_reader`` (the next kernel after the writer),
    then ``zz_snoop`` (after its classmate's result exists). Graded once: the neighbour's
    notebook run, beside every attack, is the longest part of each test."""
    course = Path(tempfile.mkdtemp(prefix="grader-course-", dir="/var/tmp"))
    course.chmod(0o755)
    handin, out = course / "handin", course / "out"
    handin.mkdir(mode=0o755)
    token = secrets.token_hex(6)
    big = f"/dev/shm/big-{token}"
    leftovers = [*(f"{d}/left-{token}" for d in ("/tmp", "/var/tmp", "/dev/shm")), big]
    honest(handin, "aa_honest")
    write(
        handin,
        "bb_writer",
        # 600 MiB: past the default 512 MiB share, well within the memory limit.
        f"with open({big!r}, 'wb') as fh:\n    for _ in range(600):\n"
        "        fh.write(bytes(2**20))",
        f"import os\nos.remove({big!r})\nfor path in {leftovers[:-1]!r}:\n"
        "    open(path, 'w').write('left for the next kernel')\nprint('after')",
    )
    write(
        handin,
        "cc_reader",
        f"import json, os\nprint(json.dumps([p for p in {leftovers!r} if os.path.exists(p)]))",
    )
    installed = [Path(p) / "grader" / "assignments" for p in site.getsitepackages()]
    tops = [
        "/", "/tmp", "/var/tmp", "/root", "/home", "/work", str(Path.home()), str(handin),
        str(out), str(cache_dir()), str(ASSIGNMENT.parent), str(ROOT / "reference"),
        *map(str, installed),
    ]  # fmt: skip
    direct = [
        str(handin / "aa_honest.ipynb"),
        str(out / "aa_honest" / "result.json"),
        str(out / "aa_honest" / "executed.ipynb"),
        str(ASSIGNMENT / "assignment.toml"),
        str(ROOT / "reference" / "cifar10_transfer.py"),
        "/etc/shadow",
    ]
    write(handin, "zz_snoop", WALK.replace("TOPS", repr(tops)).replace("DIRECT", repr(direct)))
    try:
        # The walk over the whole machine is slow: the snoop's cell gets time to finish it.
        results = grade_folder(handin, out, "-j", "1", "--cell-timeout", "600")
        yield OneBatch(results, handin, out, leftovers)
    finally:
        for path in leftovers:
            Path(path).unlink(missing_ok=True)
        shutil.rmtree(course)


@pytest.mark.notebook
def test_a_classmates_notebook_and_result_are_unreachable(one_batch: OneBatch) -> None:
    """The snooping notebook runs after its classmate's was graded, and looks for it
    everywhere: the hand-in folder, ``--out``, the cache, the course material, the machine."""
    results, out = one_batch.results, one_batch.out
    assert_golden(results["aa_honest"])
    assert (out / "aa_honest" / "result.json").is_file()  # it existed when the snoop ran
    snoop = json.loads(stdout_of(out, "zz_snoop", 0))
    own = snoop["own"] + "/"
    read = {path: why for path, why in snoop["direct"].items() if "Error" not in why}
    assert read == {}  # by their known paths: the classmate's work, the rubric, the solution
    assert any(hit.endswith("/zz_snoop.ipynb") for hit in snoop["hits"])  # the walk finds files
    assert [hit for hit in snoop["hits"] if not hit.startswith(own)] == []


@pytest.mark.notebook
def test_a_thread_bomb_does_not_touch_an_honest_neighbour(course: Path) -> None:
    """Two kernels at once (``-j 2``): the bomb fills its process limit with threads and holds
    them; its neighbour still starts threads (TensorFlow needs tens) and grades as alone."""
    handin, out = course / "handin", course / "out"
    honest(handin, "honest")
    write(handin, "bomb", THREAD_BOMB, "import time\ntime.sleep(120)", "print('after')")
    results = grade_folder(handin, out, "-j", "2", "--process-limit", "128")

    assert_golden(results["honest"])
    bomb = results["bomb"]
    assert bomb.outcome == "process_limit", bomb.incidents
    assert "kernel_died" not in {i.outcome for i in bomb.incidents}
    assert bomb.cells[0].status == "error"


@pytest.mark.notebook
def test_shared_memory_and_temporary_files_are_capped_private_and_gone(
    one_batch: OneBatch,
) -> None:
    """``/dev/shm`` is memory that no rlimit counts: writing past the kernel's share fails, and
    what a kernel left there, in ``/tmp`` or ``/var/tmp``, is gone when it ends and never seen
    by the next kernel."""
    results, out = one_batch.results, one_batch.out
    assert_golden(results["aa_honest"])
    writer = results["bb_writer"]
    assert writer.outcome == "disk_limit", writer.incidents
    assert writer.cells[0].error_name == "OSError" and "[Errno 28]" in writer.cells[0].error_value
    assert writer.cells[1].status == "ok" and stdout_of(out, "bb_writer", 1) == "after\n"
    assert json.loads(stdout_of(out, "cc_reader", 0)) == []  # the next kernel sees nothing
    assert [p for p in one_batch.leftovers if os.path.exists(p)] == []  # nor does the machine


@needs_root
def test_two_sandboxes_have_their_own_users_even_without_namespaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The identity alone must keep kernels apart (a machine without namespaces shows them each
    other's processes): one fills its process limit; the other can neither kill it nor be
    stopped by it from starting a process."""
    monkeypatch.setattr(grader.sandbox.confine, "namespaces_available", lambda: False)
    folder = Path(tempfile.mkdtemp(prefix="grader-two-"))
    folder.chmod(0o711)
    submission, data = folder / "hw.ipynb", folder / "data.npz"
    submission.write_text("{}")
    data.write_bytes(b"npz")
    limit = 16
    options = SandboxOptions(limits=Limits(processes=limit))
    running: list[subprocess.Popen[bytes]] = []

    def start(box: Sandbox, script: str) -> subprocess.Popen[bytes]:
        # Python may live in a folder only root can enter: without namespaces, a shell.
        # The launcher discards the command's own output: the script writes to files.
        box.connection_file.write_text("{}")  # Jupyter writes it before a kernel starts
        command = [sys.executable, "-I", "-S", sandbox_exec.__file__, str(box.spec_file), "--"]
        shell = f"exec > out.txt 2>&1; id -u > uid; {script}"
        proc = subprocess.Popen([*command, "/bin/sh", "-c", shell], start_new_session=True)
        running.append(proc)
        return proc

    try:
        with (
            kernel_sandbox(options, submission=submission, data=data) as a,
            kernel_sandbox(options, submission=submission, data=data) as b,
        ):
            # The shell and limit - 1 sleeps: the first sandbox's user is at its limit.
            start(a, f"i=1; while [ $i -lt {limit} ]; do sleep 300 & i=$((i+1)); done; "
                     "echo $$ > pid; wait")  # fmt: skip
            deadline = time.monotonic() + 30
            while not (a.work / "pid").exists():
                assert time.monotonic() < deadline, (a.work / "out.txt").read_text()
                time.sleep(0.1)
            victim = int((a.work / "pid").read_text())
            users = {int((a.work / "uid").read_text())}
            assert sum(bool(users & uids) for uids in processes().values()) == limit
            start(b, f"kill -9 {victim}; echo kill=$?; /bin/true & wait $! && echo forked")
            running[1].wait(timeout=30)
            out = b.work / "out.txt"
            # A shared user at its limit cannot even start another sandbox's command.
            seen = out.read_text() if out.exists() else "the second sandbox did not start"
            assert "kill=1" in seen and "forked" in seen, seen
            assert Path(f"/proc/{victim}").exists()  # still alive
            assert (a.work / "uid").read_text() != (b.work / "uid").read_text()
    finally:
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(folder)


def processes() -> dict[int, set[int]]:
    """Every process -> its uids, from /proc."""
    found = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            line = next(x for x in status.read_text().splitlines() if x.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        found[int(status.parent.name)] = {int(v) for v in line.split()[1:]}
    return found


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A working folder the sandbox's user can reach (pytest's own are private to the grader's
    user, which matters without namespaces)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-test-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder)


@needs_namespaces
def test_a_kernel_cannot_trace_mount_unshare_or_reach_bpf_and_io_uring(workdir: Path) -> None:
    """The seccomp filter: each escape route fails with EPERM, where without the filter each
    succeeds (ptrace, unshare, clone into a user namespace, personality) or fails otherwise
    (mount, bpf, io_uring_setup: no such folder, invalid arguments)."""
    native = pyseccomp.system_arch()
    number = {name: pyseccomp.resolve_syscall(native, name) for name in SYSCALLS}
    with confine(SandboxOptions(), mounts=[], workdir=workdir) as box:
        run = run_confined(box, [sys.executable, "-c", ESCAPES, json.dumps(number)])
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["errors"] == {name: errno.EPERM for name in seen["errors"]}
    assert seen["honest"] == [0, 0]


@needs_root
def test_the_filter_holds_without_namespaces_too(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a container without namespaces, the launcher still loads the filter: one more than
    the grader runs under (a container's own, if any)."""
    monkeypatch.setattr(grader.sandbox.confine, "namespaces_available", lambda: False)
    with confine(SandboxOptions(), mounts=[], workdir=workdir) as box:
        run = run_confined(box, ["/bin/sh", "-c", "cat /proc/self/status"])
    assert run.returncode == 0, run.stderr
    inside, outside = (
        seccomp_status(run.stdout),
        seccomp_status(Path("/proc/self/status").read_text()),
    )
    assert inside["Seccomp"] == "2"  # filtering
    assert int(inside["Seccomp_filters"]) == int(outside.get("Seccomp_filters", "0")) + 1


def seccomp_status(status: str) -> dict[str, str]:
    """The ``Seccomp`` lines of a ``/proc/<pid>/status``."""
    pairs = (line.split(":", 1) for line in status.splitlines() if line.startswith("Seccomp"))
    return {key: value.strip() for key, value in pairs}


@needs_namespaces
def test_the_grader_can_read_what_it_must_and_a_kernel_cannot(tmp_path: Path) -> None:
    """The grader's secrets stay unreadable: ``/etc/shadow``, root's home, the grader's home."""
    (tmp_path / "work").mkdir()
    submission, data = tmp_path / "hw.ipynb", tmp_path / "data.npz"
    submission.write_text("{}")
    data.write_bytes(b"npz")
    with kernel_sandbox(SandboxOptions(), submission=submission, data=data) as box:
        box.connection_file.write_text("{}")  # Jupyter writes it before a kernel starts
        command = [sys.executable, "-I", "-S", sandbox_exec.__file__, str(box.spec_file), "--"]
        script = (
            f"cd {box.work}; exec > out.txt 2>&1; cat /etc/shadow > /dev/null && echo shadow; "
            f"ls -A {Path.home()} /root; echo done"
        )
        subprocess.run([*command, "/bin/sh", "-c", script], timeout=60, check=False)
        seen = (box.work / "out.txt").read_text()
    assert "shadow\n" not in seen and seen.endswith("done\n")
    listed = [line for line in seen.splitlines() if not line.endswith(":") and line]
    assert not any(name in listed for name in (".ssh", ".bashrc", ".cache", ".keras"))
