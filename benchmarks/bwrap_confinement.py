"""The grader's confinements run by bubblewrap instead of the launcher: an experiment, to run
the sandbox's test suites against bubblewrap (results in docs/sandbox-tool.md).

As a pytest plugin, run as root with bubblewrap installed, it starts every confinement that
has namespaces through this file instead of :mod:`grader.sandbox.launcher`::

    python -m pytest -p benchmarks.bwrap_confinement tests/sandbox/

As a script (what the plugin starts; standard library only, like the launcher), it reads the
launcher's spec and runs the command in bubblewrap started by root (no user namespace): the
same binds (opened here without following links, handed over as descriptors), holes, links,
private capped temporary folders, the seccomp filter (``--seccomp``), the limits (set before
bubblewrap, inherited), and the sandbox's uid through ``setpriv`` inside. It writes the
launcher's ``pids.json`` and status file; bubblewrap exits 128 + n for a signal n, which it
reports as that signal. A confinement without namespaces keeps the launcher: bubblewrap does
not run there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import time
import typing as t
from collections.abc import Sequence

LAUNCHER = os.path.join(os.path.dirname(__file__), "..", "grader", "sandbox", "launcher.py")
SETUP_FAILED = 97


def pytest_configure(config: t.Any) -> None:
    """Start confinements with namespaces through this file."""
    from grader.sandbox.confine import Confinement

    original = Confinement.command

    def command(self: Confinement, argv: Sequence[str]) -> list[str]:
        if not (self.enabled and self.namespaces):
            return original(self, argv)
        here = os.path.abspath(__file__)
        return [sys.executable, "-I", "-S", here, str(self.spec_file), "--", *argv]

    Confinement.command = command  # type: ignore[method-assign]


def _launcher() -> t.Any:
    """The launcher's module, for its helpers (the plugin's process has it imported already)."""
    spec = importlib.util.spec_from_file_location("launcher", LAUNCHER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Arguments:
    """bubblewrap's arguments for one spec, and the descriptors they name."""

    def __init__(self, launcher: t.Any) -> None:
        self.launcher = launcher
        self.argv: list[str] = []
        self.fds: list[int] = []
        self.bound: list[str] = []
        """Bind mounts so far: folders inside them exist already."""
        self.made: list[str] = []

    def parents(self, path: str) -> None:
        """Make the missing folders above ``path`` with their twins' permissions, traversable
        (bubblewrap run by root makes them 0700, which the sandbox's user cannot enter)."""
        sofar = ""
        for part in [p for p in path.split("/") if p][:-1]:
            sofar += "/" + part
            inside = any(sofar == b or sofar.startswith(b.rstrip("/") + "/") for b in self.bound)
            if inside or sofar in self.made:
                continue
            try:
                mode = (os.stat(sofar).st_mode & 0o755) | 0o111
            except OSError:
                mode = 0o711
            self.argv += ["--perms", format(mode, "04o"), "--dir", sofar]
            self.made.append(sofar)

    def bind(self, path: str, writable: bool) -> None:
        self.parents(path)
        fd = self.launcher.open_nofollow(path)  # a link planted after the grader looked: refused
        self.fds.append(fd)
        self.argv += ["--bind-fd" if writable else "--ro-bind-fd", str(fd), path]
        self.bound.append(path)

    def tmpfs(self, path: str, size: str, mode: str) -> None:
        self.parents(path)
        self.argv += ["--perms", mode, "--size", size, "--tmpfs", path]

    def hole(self, path: str) -> None:
        self.parents(path)
        if os.path.isdir(path) and not os.path.islink(path):
            self.tmpfs(path, "4096", "0755")
            self.argv += ["--remount-ro", path]
        elif not os.path.islink(path):  # a link shows only what its target's own mount allows
            self.argv += ["--ro-bind", "/dev/null", path]


def bwrap_argv(
    launcher: t.Any, spec: dict[str, t.Any], cmd: list[str], seccomp: int, info: int
) -> Arguments:
    """The spec as bubblewrap's arguments, the file system built in the launcher's order."""
    args = Arguments(launcher)
    args.argv = ["bwrap", "--unshare-net", "--unshare-pid", "--die-with-parent"]
    args.argv += ["--info-fd", str(info), "--seccomp", str(seccomp)]
    args.argv += ["--dev", "/dev", "--proc", "/proc"]
    args.bound += ["/dev", "/proc"]
    steps = [(p, "tmpfs", True) for p in launcher.PRIVATE_TMPFS]
    steps += [(b["path"], "bind", bool(b["writable"])) for b in spec["binds"]]
    steps += [(p, "hole", False) for p in spec["holes"]]
    steps.sort(key=lambda step: launcher._depth_first(step[0]))
    size = str(int(spec["tmpfs_mb"]) * 2**20)
    for path, kind, writable in steps:
        if kind == "tmpfs":
            args.tmpfs(path, size, "1777")
        elif kind == "bind":
            args.bind(path, writable)
        else:
            args.hole(path)
    for path, target in spec["symlinks"]:
        args.parents(path)
        args.argv += ["--symlink", target, path]
    args.argv += ["--remount-ro", "/", "--chdir", spec["workdir"]]
    args.argv += ["--setenv", "JPY_PARENT_PID", "1"]
    if spec["uid"] is not None:
        # bubblewrap gives no other host uid itself: setpriv, under the seccomp filter already.
        args.argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "setpriv"]
        args.argv += [f"--reuid={spec['uid']}", f"--regid={spec['gid']}", "--clear-groups"]
        args.argv += ["--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
    args.argv += ["--", *cmd]
    return args


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as fh:
        spec: dict[str, t.Any] = json.load(fh)
    cmd = argv[argv.index("--") + 1 :]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Jupyter's interrupt is for the kernel
    launcher = _launcher()
    folder = os.open(os.path.dirname(spec["status"]), os.O_PATH | os.O_DIRECTORY)
    program_r, program_w = os.pipe()
    os.write(program_w, bytes.fromhex(spec["seccomp"]))
    os.close(program_w)
    info_r, info_w = os.pipe()
    try:
        args = bwrap_argv(launcher, spec, cmd, program_r, info_w)
    except OSError as exc:
        print(f"[sandbox] could not build the sandbox's file system: {exc}", file=sys.stderr)
        launcher._write(folder, spec["status"], json.dumps({"exit": SETUP_FAILED}))
        return SETUP_FAILED

    def limits() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for name, (soft, hard) in spec["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (soft, hard))

    quiet = subprocess.DEVNULL if spec["discard_output"] else None
    grader = os.getppid()
    proc = subprocess.Popen(
        args.argv,
        pass_fds=[program_r, info_w, *args.fds],
        preexec_fn=limits,
        stdout=quiet,
        stderr=quiet,
    )
    for fd in (program_r, info_w, *args.fds):
        os.close(fd)
    raw = b""
    while chunk := os.read(info_r, 4096):  # one JSON object, written once the sandbox starts
        raw += chunk
        try:
            init = json.loads(raw)["child-pid"]
        except ValueError:
            continue
        launcher._write(folder, spec["pids"], json.dumps({"launcher": proc.pid, "init": init}))
        break
    os.close(info_r)
    while True:
        try:
            code = proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            if os.getppid() != grader:  # the grader died: so does its sandbox
                proc.kill()
    if code < 0:
        status = {"signal": -code}
    elif code > 128:  # bubblewrap's 128 + n, for a signal n (or an exit with that code)
        status = {"signal": code - 128}
    else:
        status = {"exit": code}
    launcher._write(folder, spec["status"], json.dumps(status))
    if "signal" in status:
        if status["signal"] not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(status["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), status["signal"])
        time.sleep(1)
    return status.get("exit", SETUP_FAILED)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
