"""Today's launcher against bubblewrap: what one confinement costs to start, and what it gives.

Run as root, with bubblewrap installed (``apt-get install bubblewrap``)::

    python benchmarks/sandbox_tool.py [--runs 30]

Three settings, each tool given the same confinement (the system read-only, ``/usr`` and
``/etc`` with the usual links, a writable working folder, its own ``/proc``, ``/dev`` and
capped ``/tmp``, ``/var/tmp``, ``/dev/shm``, no network, a PID namespace, the grader's
seccomp filter):

* ``root``: the grader as root. The launcher drops to a uid of the sandbox range itself;
  bubblewrap is started as that uid (bubblewrap as root can give no other host uid), and
  is handed the system's folders as descriptors the root grader opened (``--ro-bind-fd``).
* ``user``: the grader as an ordinary user (``nobody``): both tools make a user namespace.
* ``container``: root in a container without ``CAP_SYS_ADMIN``, emulated as Docker makes it:
  the capability out of the bounding set and a seccomp filter (the grader's own) that refuses
  ``unshare``, ``clone`` into namespaces and ``mount``.

Each confinement runs ``/bin/true`` ``--runs`` times (the start-up: quartiles, in ms; the runs
of the tools alternate),
then a shell that prints what it sees: uid, network interfaces, processes, the root folder
and the seccomp mode. The launcher here is run by the system's Python (``/usr/bin/python3``),
as an ordinary user cannot enter a Python installed under ``/root``.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import typing as t
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from grader.sandbox import launcher
from grader.sandbox.filesystem import system_paths
from grader.sandbox.identity import DEFAULT_UIDS, identity
from grader.sandbox.limits import Limits
from grader.sandbox.syscalls import filter_program

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
CAP_SYS_ADMIN = 21
PR_CAPBSET_DROP = 24
LOOK = (
    "id -u; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,; echo; "
    "ls /proc | grep -c '^[0-9]'; ls -A / | tr '\\n' ,; echo; grep '^Seccomp:' /proc/self/status"
)


def launcher_command(
    folder: Path, work: Path, uid: int | None, argv: Sequence[str]
) -> tuple[list[str], list[int]]:
    """The launcher's command for a spec like the grader's (the system, the working folder)."""
    folders, links = system_paths()
    binds = [{"path": str(p), "writable": False} for p in folders]
    binds.append({"path": str(work), "writable": True})
    root = folder / "root"
    root.mkdir(exist_ok=True)
    spec = {
        "namespaces": True,
        "root": str(root),
        "binds": binds,
        "symlinks": links,
        "holes": [],
        "tmpfs_mb": Limits().tmpfs_mb,
        "uid": uid,
        "gid": uid,
        "rlimits": Limits().rlimits(),
        "workdir": str(work),
        "status": str(folder / "status.json"),
        "pids": str(folder / "pids.json"),
        "discard_output": False,
        "seccomp": filter_program().hex(),
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    command = [SYSTEM_PYTHON, "-I", "-S", launcher.__file__, str(folder / "spec.json"), "--"]
    return [*command, *argv], []


def bwrap_command(
    folder: Path, work: Path, uid: int | None, argv: Sequence[str], *, by_fd: bool = False
) -> tuple[list[str], list[int]]:
    """bubblewrap's command for the same confinement. With ``uid`` (bubblewrap run as root),
    ``setpriv`` inside drops to it; with ``by_fd``, the system is handed over as descriptors
    opened here (bubblewrap then runs as a user who may not reach them)."""
    folders, links = system_paths()
    program = folder / "seccomp.bpf"
    program.write_bytes(filter_program())
    fds = [os.open(program, os.O_RDONLY)]
    command = ["bwrap", "--unshare-net", "--unshare-pid", "--die-with-parent"]
    for path in folders:
        if by_fd:
            fds.append(os.open(path, os.O_PATH | os.O_DIRECTORY))
            command += ["--ro-bind-fd", str(fds[-1]), str(path)]
        else:
            command += ["--ro-bind", str(path), str(path)]
    for link, target in links:
        command += ["--symlink", target, link]
    command += ["--proc", "/proc", "--dev", "/dev"]
    size = str(Limits().tmpfs_mb * 2**20)
    for tmp in launcher.PRIVATE_TMPFS:
        command += ["--perms", "1777", "--size", size, "--tmpfs", tmp]
    command += ["--bind", str(work), str(work), "--remount-ro", "/", "--chdir", str(work)]
    command += ["--seccomp", str(fds[0])]
    if uid is not None:
        # The seccomp filter is loaded before setpriv runs, and lets it switch users.
        command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "setpriv"]
        command += [f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
        command += ["--inh-caps=-all", "--bounding-set=-all"]
    return [*command, "--", *argv], fds


def container() -> None:
    """In the child, before exec: what Docker does to a container without CAP_SYS_ADMIN."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0)
    libc.prctl(launcher.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    launcher.load_filter(filter_program())


@contextmanager
def setting(name: str) -> Iterator[tuple[int | None, int | None, Callable[[], None] | None]]:
    """(uid the tool is started as, uid the launcher drops to, what runs before exec)."""
    if name == "user":
        yield NOBODY, None, None
    elif name == "container":
        with identity(*DEFAULT_UIDS) as uid:
            yield None, uid, container
    else:
        with identity(*DEFAULT_UIDS) as uid:
            yield None, uid, None


Build = Callable[..., tuple[list[str], list[int]]]
TOOLS: dict[str, tuple[Build, bool]] = {
    # tool: (how the command is built, whether it is started as the sandbox's uid)
    "launcher": (launcher_command, False),
    "bwrap-root": (bwrap_command, False),
    "bwrap-as-uid": (functools.partial(bwrap_command, by_fd=True), True),
}


Run = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


@contextmanager
def confinement(tool: str, name: str) -> Iterator[Run]:
    """A way to run a command confined by ``tool`` in setting ``name``."""
    with setting(name) as (runner, sandbox_uid, before):
        folder = Path(tempfile.mkdtemp(prefix="grader-tool-"))
        folder.chmod(0o711)
        work = folder / "work"
        work.mkdir()
        owner = runner if runner is not None else sandbox_uid
        for path in (folder, work):
            os.chown(path, owner or 0, owner or 0)
        build, as_sandbox = TOOLS[tool]
        as_uid = runner if runner is not None else (sandbox_uid if as_sandbox else None)
        drop = None if as_sandbox else sandbox_uid

        def run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
            command, fds = build(folder, work, drop, argv)
            try:
                return subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                    pass_fds=fds,
                    user=as_uid,
                    group=as_uid,
                    extra_groups=[] if as_uid is not None else None,
                    preexec_fn=before,
                    env={"PATH": "/usr/bin:/bin"},
                )
            finally:
                for fd in fds:
                    os.close(fd)

        try:
            yield run
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def compare(name: str, runs: int) -> Iterator[dict[str, t.Any]]:
    """Each tool in setting ``name``: runs alternate between the tools that start, so that
    the machine's load affects them alike."""
    tools = [tool for tool in TOOLS if not (name == "user" and tool == "bwrap-root")]
    with ExitStack() as stack:
        run = {tool: stack.enter_context(confinement(tool, name)) for tool in tools}
        first = {tool: run[tool](["/bin/true"]) for tool in tools}
        seconds: dict[str, list[float]] = {tool: [] for tool in tools}
        for _ in range(runs):
            for tool in tools:
                if first[tool].returncode == 0:
                    started = time.perf_counter()
                    run[tool](["/bin/true"])
                    seconds[tool].append(time.perf_counter() - started)
        for tool in tools:
            result: dict[str, t.Any] = {"tool": tool, "setting": name}
            result["exit"] = first[tool].returncode
            if len(seconds[tool]) > 1:
                quartiles = statistics.quantiles(seconds[tool], n=4)
                result["ms"] = [round(1000 * q, 1) for q in quartiles]
            result["stderr"] = (first[tool].stderr.strip().splitlines() or [""])[-1]
            result["look"] = run[tool](["/bin/sh", "-c", LOOK]).stdout.strip().splitlines()
            yield result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("bwrap") is None:
        raise SystemExit("run as root, with bubblewrap installed")
    print(f"load average before: {os.getloadavg()}")
    for name in ("root", "user", "container"):
        for result in compare(name, args.runs):
            print(json.dumps(result))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
