"""Start one notebook kernel inside the sandbox: namespaces, hidden paths, limits, no privileges.

The grader's kernel manager runs this file as a script, with the standard library only, so it
starts fast and imports nothing from a folder a student could have written to::

    python -I -S sandbox_exec.py SPEC.json -- python -m ipykernel_launcher -f kernel.json
    python -I -S sandbox_exec.py --probe

Three processes:

* this one stays in the grader's namespaces, waits, writes the kernel's exit status to
  ``spec["status"]`` and exits the same way the kernel did (so ``Popen.returncode`` is the
  kernel's); if the grader itself dies, it kills the kernel;
* its child is PID 1 of a new PID namespace: it reaps every process the kernel starts, and when
  the kernel ends the namespace ends, so no student process outlives its kernel;
* the grandchild sets the resource limits, drops to the sandbox user and execs the kernel.

The kernel's network namespace has no interface but a down loopback: Jupyter's IPC transport
(Unix sockets in a folder) is all it needs.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time
import typing as t

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
# Exit code of the outer process when the sandbox could not be set up at all.
SETUP_FAILED = 97

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """``mount(2)``; raises OSError naming the target."""
    _check(
        _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data or None)),
        f"mount {target}",
    )


def enter_namespaces(hide: list[dict[str, t.Any]]) -> None:
    """New network, mount and PID namespaces (and a user namespace when not root); hide paths.

    Each entry of ``hide`` is ``{"path": ..., "expose": [...]}``: ``path`` is covered by an
    empty read-only file system, and the paths in ``expose`` (Python itself, when it lives in
    a home folder) are mounted back at their places inside it. The PID namespace applies to
    the children forked after this call.
    """
    flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID
    uid, gid = os.geteuid(), os.getegid()
    if uid != 0:
        flags |= CLONE_NEWUSER  # lets an ordinary user create the other namespaces
    _check(_libc.unshare(flags), "unshare")
    if uid != 0:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                           ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
    # Private, so that nothing mounted here shows up in the grader's view of the file system.
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for entry in hide:
        path, expose = entry["path"], entry["expose"]
        if not os.path.isdir(path):
            if os.path.exists(path):
                mount("/dev/null", path, None, MS_BIND)
            continue
        # Handles on what must stay visible, taken before the file system covers them.
        handles = [(target, os.open(target, os.O_PATH)) for target in expose]
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        for target, fd in handles:
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "w").close()
            mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            os.close(fd)
        mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def probe() -> int:
    """Print ``ok`` if namespaces can be created here, else why not."""
    pid = os.fork()
    if pid == 0:
        try:
            enter_namespaces([])
        except OSError as exc:
            os.write(1, f"{exc}\n".encode())
            os._exit(1)
        os.write(1, b"ok\n")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> int:
    if argv[1:] == ["--probe"]:
        return probe()
    with open(argv[1], encoding="utf-8") as fh:
        spec: dict[str, t.Any] = json.load(fh)
    cmd = argv[argv.index("--") + 1 :]
    # Jupyter interrupts a kernel by signalling its process group, which includes this
    # process: the interrupt is for the kernel only.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    namespaces = bool(spec["namespaces"])
    if namespaces:
        try:
            enter_namespaces(spec["hide"])
        except OSError as exc:
            print(f"[sandbox] running without namespaces: {exc}", file=sys.stderr)
            namespaces = False
    uid, gid = spec["uid"], spec["gid"]
    if uid is not None:
        for path in spec["chown"]:
            os.chown(path, uid, gid)
    grader_pid = os.getppid()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        _init(spec, cmd, write_end, namespaces)
    os.close(write_end)
    while True:
        pid, init_status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        if os.getppid() != grader_pid:  # the grader was killed: its kernel must not outlive it
            os.kill(child, signal.SIGKILL)
        time.sleep(0.1)
    raw = os.read(read_end, 256).decode()
    if not raw:  # the sandbox's init itself was killed (or failed) before it could report
        killed = os.WIFSIGNALED(init_status)
        raw = json.dumps({"signal": os.WTERMSIG(init_status)} if killed else {"exit": SETUP_FAILED})
    with open(spec["status"], "w", encoding="utf-8") as fh:
        fh.write(raw)
    status = json.loads(raw)
    if "signal" in status:
        if status["signal"] not in (signal.SIGKILL, signal.SIGSTOP):  # those cannot be caught
            signal.signal(status["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), status["signal"])
        time.sleep(1)
    return int(status.get("exit", SETUP_FAILED))


def _init(spec: dict[str, t.Any], cmd: list[str], report: int, namespaces: bool) -> t.NoReturn:
    """PID 1 of the sandbox: start the kernel, reap every process, report how the kernel ended."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if namespaces:
        try:  # this namespace's own /proc: the kernel sees its processes only
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError as exc:
            print(f"[sandbox] /proc not remounted: {exc}", file=sys.stderr)
    kernel = os.fork()
    if kernel == 0:
        try:
            _exec_kernel(spec, cmd)
        except BaseException as exc:
            print(f"[sandbox] could not start the kernel: {exc}", file=sys.stderr)
            os._exit(SETUP_FAILED)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == kernel:
            if os.WIFSIGNALED(status):
                os.write(report, json.dumps({"signal": os.WTERMSIG(status)}).encode())
            else:
                os.write(report, json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
            # Leaving kills what is left in the PID namespace.
            os._exit(0)


def _exec_kernel(spec: dict[str, t.Any], cmd: list[str]) -> t.NoReturn:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for name, (soft, hard) in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    os.chdir(spec["workdir"])
    if spec["uid"] is not None:
        os.setgroups([])
        os.setgid(spec["gid"])
        os.setuid(spec["uid"])
    # No set-uid program (sudo, su) can give the privileges back.
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # ipykernel watches its parent unless told the parent is init (it is: PID 1 here).
    env = {**os.environ, "JPY_PARENT_PID": "1"}
    # What the kernel process itself prints (not cell output, which travels over IPC) would
    # land in the grader's terminal, 300 times over.
    launcher_stderr = os.dup(2)  # not inheritable: closed by exec, kept if exec fails
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        os.execvpe(cmd[0], cmd, env)  # noqa: S606 (the kernel's command, from its kernelspec)
    except OSError:
        os.dup2(launcher_stderr, 2)
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv))
