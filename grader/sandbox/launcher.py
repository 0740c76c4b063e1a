"""Start one confined process: namespaces, an allow-listed file system, limits, no privileges.

The grader runs this file as a script, with the standard library only, so it starts fast and
imports nothing from a folder a student could have written to::

    python -I -S sandbox_exec.py SPEC.json -- python -m ipykernel_launcher -f kernel.json
    python -I -S sandbox_exec.py --probe
    python -I -S sandbox_exec.py --via SOCKET SPEC.json -- ARGS

The last asks a fork-server (:mod:`grader.sandbox.zygote`, a Python that has imported Keras)
to do all of the below for it, running its program with ARGS, with this process's standard
streams and environment; the confined process is then a fork of the server, not a new
program, and this process only waits for its status, passes an interrupt on, and exits the
same way.

Three processes:

* this one stays in the grader's PID namespace, waits, writes the confined process's exit
  status to ``spec["status"]`` and exits the same way it did (so ``Popen.returncode`` is the
  confined process's); if the grader itself dies, it kills the sandbox;
* its child is PID 1 of a new PID namespace: it builds the sandbox's file system, reaps every
  process started inside, and when the confined process ends the namespace ends, so nothing
  started there outlives it;
* the grandchild sets the resource limits, drops to the sandbox's user, loads the seccomp
  filter (``spec["seccomp"]``, compiled by :mod:`grader.sandbox.syscalls`; with or without
  namespaces) and execs the command.

The file system is built from nothing: a small read-only tmpfs becomes the root (``pivot_root``;
``chroot`` only where that fails), and only what the spec lists is mounted in it, each at the
same absolute path as outside: the system (``/usr``, ``/etc``, ...), Python, and the caller's
folders, read-only unless marked writable. ``/proc`` is the namespace's own, ``/dev`` holds six
device nodes and terminals of its own, and ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are private,
size-capped tmpfs that end with the namespace. ``holes`` are empty read-only folders mounted
over secrets that lie inside an allowed tree.

The network namespace has no interface but a down loopback: Jupyter's IPC transport (Unix
sockets in a folder) is all a kernel needs.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import socket
import stat
import sys
import time

# Imports cost start-up time on every kernel: typing only for the type checker.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    Command = list[str] | t.Callable[[], int]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# pivot_root has no libc wrapper: its system call number, per architecture.
SYS_PIVOT_ROOT = {
    "x86_64": 155,
    "aarch64": 41,
    "arm64": 41,
    "riscv64": 41,
    "i386": 217,
    "i686": 217,
    "armv7l": 218,
    "ppc64le": 203,
    "s390x": 217,
}
# Above every descriptor a launcher or a fork-server opens.
MAX_FD = 1 << 16
# Exit code of the outer process when the sandbox could not be set up at all.
SETUP_FAILED = 97
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEVICE_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}
# Private to each sandbox, capped, and gone with it: not the machine's shared folders.
PTY_OPTIONS = "newinstance,ptmxmode=0666,mode=0620"
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108
# Mount flags a bind mount keeps when it is remounted (statvfs flag -> mount flag); a user
# namespace may not clear the ones its parent set.
_KEPT_FLAGS = (
    (os.ST_RDONLY, MS_RDONLY),
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


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


class _Program(ctypes.Structure):
    """``struct sock_fprog``: a classic BPF program, as ``PR_SET_SECCOMP`` takes it."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_filter(program: bytes) -> None:
    """Load a compiled seccomp filter into this process (``no_new_privs`` must be set); it
    applies to everything it execs or starts from then on, and cannot be removed."""
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _Program(len(program) // 8, ctypes.addressof(code))  # 8 bytes an instruction
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def pivot_root(new_root: str, put_old: str) -> None:
    """``pivot_root(2)`` through ``syscall``; OSError where this architecture is not known."""
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(0, f"pivot_root: no system call number for {os.uname().machine}")
    _check(_libc.syscall(ctypes.c_long(number), _bytes(new_root), _bytes(put_old)), "pivot_root")


def enter_namespaces() -> None:
    """New network, mount and PID namespaces (and a user namespace when not root).

    The PID namespace applies to the children forked after this call. Every mount is made
    private, so that nothing mounted here shows up in the grader's view of the file system.
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
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def open_nofollow(path: str) -> int:
    """An ``O_PATH`` descriptor of ``path``, refusing a symbolic link in any component.

    The grader resolves every path it asks for, so a link here was planted after that (for
    example by a process that can write to a folder above a mount): it is refused, not
    followed.
    """
    if not path.startswith("/"):
        raise OSError(0, f"{path}: not an absolute path")
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY)
    try:
        for part in [p for p in path.split("/") if p]:
            if part in (".", ".."):
                raise OSError(0, f"{path}: not a normalised path")
            nxt = os.open(part, os.O_PATH | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise OSError(0, f"{path}: a symbolic link in the path; not mounted")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _mount_points_under(target: str) -> list[str]:
    """Mount points at or below ``target``, parents first (from ``/proc/self/mountinfo``)."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            point = line.split()[4]
            # mountinfo escapes space, tab, newline and backslash as octal.
            for code in ("\\040", "\\011", "\\012", "\\134"):
                point = point.replace(code, chr(int(code[1:], 8)))
            if point == target or point.startswith(target.rstrip("/") + "/"):
                found.append(point)
    return found


def _lock_down(target: str, writable: bool) -> None:
    """Remount a bind (and every mount below it) nosuid, nodev, and read-only unless writable."""
    for point in _mount_points_under(target):
        kept = os.statvfs(point).f_flag
        flags = MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
        flags |= sum(ms for st, ms in _KEPT_FLAGS if kept & st)
        mount(None, point, None, MS_REMOUNT | MS_BIND | flags)


def _makedirs(new: str, path: str) -> None:
    """Make the folders of ``path`` missing under the new root ``new``.

    Each gets the permissions of the folder it stands for on the machine, made traversable
    and never writable by others: a sandbox's folder that cannot be listed there (0711)
    cannot be listed here either, and a folder on ``sys.path`` stays listable (imports need
    that).
    """
    made = new
    for part in [p for p in path.split("/") if p]:
        host, made = made[len(new) :] + "/" + part, made + "/" + part
        if os.path.lexists(made):
            continue
        try:
            mode = (os.stat(host).st_mode & 0o755) | 0o111
        except OSError:
            mode = 0o711
        os.mkdir(made)
        os.chmod(made, mode)


def _make_mount_point(new: str, path: str, directory: bool) -> None:
    if directory:
        _makedirs(new, path)
        return
    _makedirs(new, os.path.dirname(path))
    if not os.path.lexists(new + path):
        os.close(os.open(new + path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _bind(new: str, path: str, writable: bool) -> None:
    try:
        fd = open_nofollow(path)
    except FileNotFoundError:
        raise FileNotFoundError(2, f"{path}: no such file or folder to mount") from None
    try:
        _make_mount_point(new, path, stat.S_ISDIR(os.fstat(fd).st_mode))
        mount(f"/proc/self/fd/{fd}", new + path, None, MS_BIND | MS_REC)
    finally:
        os.close(fd)
    _lock_down(new + path, writable)


def _tmpfs(new: str, path: str, size: str, mode: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
    _makedirs(new, path)
    mount("tmpfs", new + path, "tmpfs", flags, f"size={size},mode={mode}")


def _hole(new: str, path: str) -> None:
    try:
        mode = os.lstat(new + path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        _tmpfs(new, path, "4k", "0755", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    elif not stat.S_ISLNK(mode):  # a link shows only what its target's own mount allows
        mount("/dev/null", new + path, None, MS_BIND)
        _lock_down(new + path, writable=False)


def _depth_first(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def build_root(spec: dict[str, t.Any]) -> str:
    """Build the sandbox's file system at ``spec["root"]`` and make it the root.

    Runs in the sandbox's PID 1, before the command starts. Returns a notice when the root
    could only be changed with ``chroot``; raises OSError when the file system cannot be
    built (the command must then not run).
    """
    new = spec["root"].rstrip("/")
    # A small root, read-only once built: only mount points and links live in it.
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    size = f"{int(spec['tmpfs_mb'])}m"
    # Parents before children: a caller's folder under /tmp is mounted on the private /tmp.
    steps: list[tuple[str, str, bool]] = [(path, "tmpfs", True) for path in PRIVATE_TMPFS]
    steps += [(b["path"], "bind", bool(b["writable"])) for b in spec["binds"]]
    steps += [(path, "hole", False) for path in spec["holes"]]
    steps.sort(key=lambda step: _depth_first(step[0]))
    devices_done = False
    for path, kind, writable in steps:
        if path.startswith("/dev/") and not devices_done:
            _build_dev(new)
            devices_done = True
        if kind == "tmpfs":
            _tmpfs(new, path, size, "1777")
        elif kind == "bind":
            _bind(new, path, writable)
        else:  # a hole: an empty read-only folder (or file) over a secret
            _hole(new, path)
    if not devices_done:
        _build_dev(new)
    # The namespace's own /proc, mounted while the grader's is still in view: a user namespace
    # may only mount a proc when one is fully visible.
    _makedirs(new, "/proc")
    mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path, target in spec["symlinks"]:
        _makedirs(new, os.path.dirname(path))
        if not os.path.lexists(new + path):
            os.symlink(target, new + path)
    mount(None, new + "/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)
    mount(None, new, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(new)
    notice = ""
    try:
        # The old root is stacked on the new one and detached: nothing of it stays reachable.
        pivot_root(".", ".")
        _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    except OSError as exc:
        os.chroot(".")
        notice = f"[sandbox] pivot_root failed ({exc}); the sandbox's root is set with chroot"
    os.chdir("/")
    return notice


def _build_dev(new: str) -> None:
    """A ``/dev`` holding six device nodes, the ``/proc/self/fd`` links and private terminals."""
    _tmpfs(new, "/dev", "64k", "0755", MS_NOSUID)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _make_mount_point(new, f"/dev/{name}", directory=False)
            mount(f"/dev/{name}", f"{new}/dev/{name}", None, MS_BIND)
    for name, target in DEVICE_LINKS.items():
        os.symlink(target, f"{new}/dev/{name}")
    # Terminals of its own (IPython runs `!command` on one): a new devpts instance, which holds
    # none of the machine's.
    _makedirs(new, "/dev/pts")
    mount("devpts", f"{new}/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, PTY_OPTIONS)
    os.symlink("pts/ptmx", f"{new}/dev/ptmx")


def probe() -> int:
    """Print ``ok`` if a sandbox can be built here (a notice after it if only with chroot)."""
    import tempfile

    root = tempfile.mkdtemp(prefix="grader-probe-")
    try:
        binds = [{"path": p, "writable": False} for p in ("/usr", "/etc") if os.path.isdir(p)]
        spec = {"root": root, "binds": binds, "holes": [], "symlinks": [], "tmpfs_mb": 1}
        pid = os.fork()
        if pid == 0:
            try:
                enter_namespaces()
                init = os.fork()
                if init == 0:
                    notice = build_root(spec)
                    os.write(1, f"ok {notice}".strip().encode() + b"\n")
                    os._exit(0)
                _, status = os.waitpid(init, 0)
                os._exit(os.waitstatus_to_exitcode(status))
            except BaseException as exc:
                os.write(1, f"{exc}\n".encode())
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    finally:
        os.rmdir(root)


def main(argv: list[str]) -> int:
    if argv[1:] == ["--probe"]:
        return probe()
    if argv[1:2] == ["--via"] and argv[4:5] == ["--"]:
        return via(argv[2], argv[3], argv[5:])
    with open(argv[1], encoding="utf-8") as fh:
        spec: dict[str, t.Any] = json.load(fh)
    return exit_like(launch(spec, argv[argv.index("--") + 1 :]))


def launch(spec: dict[str, t.Any], cmd: Command, link: socket.socket | None = None) -> str:
    """Run ``cmd`` confined as ``spec`` says; return how it ended (``{"exit": n}`` or
    ``{"signal": n}``, as JSON), once the status file holds it too.

    ``cmd`` is a command to exec, or a function to call in the confined process (a fork-server
    child, whose program is already loaded). ``link`` is the connection of the process that
    asked for it (``--via``): its end, like the parent's, kills the sandbox.
    """
    # Jupyter interrupts a kernel by signalling its process group, which includes this
    # process: the interrupt is for the kernel only.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The status is written through a handle on its folder: once the sandbox's root is in
    # place, this process's root is the sandbox's too (pivot_root moves every process of the
    # mount namespace), and the grader's folders are out of reach by path.
    folder = os.open(os.path.dirname(spec["status"]), os.O_PATH | os.O_DIRECTORY)
    namespaces = bool(spec["namespaces"])
    if namespaces:
        try:
            enter_namespaces()
        except OSError as exc:
            print(f"[sandbox] running without namespaces: {exc}", file=sys.stderr)
            namespaces = False
    grader_pid = os.getppid()
    read_end, write_end = os.pipe()
    # Queued rather than delivered: the wait below wakes the moment the sandbox ends.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    child = os.fork()
    if child == 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.close(read_end)
        if link is not None:  # the confined process must not speak for this one
            link.close()
        _init(spec, cmd, write_end, namespaces)
    os.close(write_end)
    _write(folder, spec["pids"], json.dumps({"launcher": os.getpid(), "init": child}))
    while True:
        pid, init_status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        # The grader (or the process that asked for this one) is gone: its sandbox must not
        # outlive it.
        if os.getppid() != grader_pid or (link is not None and _heard(link)):
            os.kill(child, signal.SIGKILL)
        signal.sigtimedwait({signal.SIGCHLD}, 0.1)
    raw = os.read(read_end, 256).decode()
    if not raw:  # the sandbox's init itself was killed (or failed) before it could report
        killed = os.WIFSIGNALED(init_status)
        raw = json.dumps({"signal": os.WTERMSIG(init_status)} if killed else {"exit": SETUP_FAILED})
    _write(folder, spec["status"], raw)
    return raw


def exit_like(raw: str) -> int:
    """End this process as the confined one ended (``raw``: :func:`launch`'s status), so that
    its parent's ``returncode`` is the confined process's; or return its exit code."""
    try:
        status = json.loads(raw)
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    if isinstance(status.get("signal"), int) and 0 < status["signal"] < signal.NSIG:
        if status["signal"] not in (signal.SIGKILL, signal.SIGSTOP):  # those cannot be caught
            signal.signal(status["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), status["signal"])
        time.sleep(1)
    code = status.get("exit", SETUP_FAILED)
    return code if isinstance(code, int) else SETUP_FAILED


INTERRUPT = b"i"
"""What ``--via`` sends when it is interrupted: the confined process's group gets SIGINT."""


def _heard(link: socket.socket) -> bool:
    """Pass on the interrupts ``link`` sent; whether its other end is closed."""
    while select.select([link], [], [], 0)[0]:
        try:
            data = link.recv(64, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if not data:
            return True
        if INTERRUPT in data:
            # As Jupyter interrupts a kernel: its whole group, where this process and the
            # sandbox's init ignore it (a fork-server's child has a group of its own).
            os.killpg(0, signal.SIGINT)
    return False


MAX_STATUS_BYTES = 256


def via(address: str, spec_file: str, argv: list[str]) -> int:
    """Have the fork-server at ``address`` run its program with ``argv``, confined by
    ``spec_file``, with this process's standard streams and environment; pass an interrupt
    on; end as the confined process ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the request is sent
    request = {"spec": spec_file, "argv": argv, "env": dict(os.environ)}
    raw = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as link:
            link.connect(address)
            socket.send_fds(link, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
            # Jupyter interrupts a kernel by signalling this process's group; the kernel is
            # in the server's child's.
            signal.signal(signal.SIGINT, lambda _s, _f: link.send(INTERRUPT))
            try:
                while len(raw) <= MAX_STATUS_BYTES and (chunk := link.recv(MAX_STATUS_BYTES)):
                    raw += chunk
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
    except OSError as exc:
        print(f"[sandbox] the fork-server at {address} failed: {exc}", file=sys.stderr)
        return SETUP_FAILED
    if not raw:
        print("[sandbox] the fork-server ended without a status", file=sys.stderr)
        return SETUP_FAILED
    return exit_like(raw.decode("utf-8", "replace"))


def _write(folder: int, path: str, text: str) -> None:
    """Write ``text`` to ``path`` (in ``folder``) atomically, by the folder's handle."""
    name = os.path.basename(path)
    fd = os.open(f".{name}.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, dir_fd=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(f".{name}.tmp", name, src_dir_fd=folder, dst_dir_fd=folder)


def _init(spec: dict[str, t.Any], cmd: Command, report: int, namespaces: bool) -> t.NoReturn:
    """PID 1 of the sandbox: build its file system, start the command, reap every process."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if namespaces:
        try:
            notice = build_root(spec)
        except OSError as exc:
            # Never run the command with the grader's view of the file system.
            print(f"[sandbox] could not build the sandbox's file system: {exc}", file=sys.stderr)
            os._exit(SETUP_FAILED)
        if notice:
            print(notice, file=sys.stderr)
    command = os.fork()
    if command == 0:
        try:
            _exec(spec, cmd)
        except BaseException as exc:
            what = cmd[0] if isinstance(cmd, list) else "its program"
            print(f"[sandbox] could not start {what}: {exc}", file=sys.stderr)
            os._exit(SETUP_FAILED)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == command:
            if os.WIFSIGNALED(status):
                os.write(report, json.dumps({"signal": os.WTERMSIG(status)}).encode())
            else:
                os.write(report, json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
            # Leaving kills what is left in the PID namespace.
            os._exit(0)


def _exec(spec: dict[str, t.Any], cmd: Command) -> t.NoReturn:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for name, (soft, hard) in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    os.chdir(spec["workdir"])
    if spec["uid"] is not None:
        os.setgroups([])
        os.setgid(spec["gid"])
        os.setuid(spec["uid"])
        if not isinstance(cmd, list):
            # Changing users made this process undumpable (its /proc files root's, unreadable
            # to itself), which an exec would have undone: as a fresh process would be.
            _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    if not isinstance(cmd, list):
        # What an exec would have closed (close-on-exec): the launcher's handle on the
        # confinement's folder, outside this root, and its pipes never reach the program.
        os.closerange(3, MAX_FD)
    # No set-uid program (sudo, su) can give the privileges back.
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # Last, once the launcher's own mounts are done: the filter refuses mount, unshare, ...
    if spec["seccomp"] is not None:  # None off Linux only
        load_filter(bytes.fromhex(spec["seccomp"]))
    # ipykernel watches its parent unless told the parent is init (it is: PID 1 here).
    env = {**os.environ, "JPY_PARENT_PID": "1"}
    launcher_stderr = os.dup(2)  # not inheritable: closed by exec, kept if exec fails
    if spec["discard_output"]:
        # What a kernel process itself prints (not cell output, which travels over IPC)
        # would land in the grader's terminal, 300 times over.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)  # (closed by exec anyway; a forked program has no exec)
    if not isinstance(cmd, list):  # a fork-server's child: its program is loaded already
        os.close(launcher_stderr)
        os.environ["JPY_PARENT_PID"] = "1"
        os._exit(cmd())
    try:
        os.execvpe(cmd[0], cmd, env)  # noqa: S606 (the caller's command)
    except OSError:
        os.dup2(launcher_stderr, 2)
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv))
