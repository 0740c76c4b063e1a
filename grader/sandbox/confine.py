"""The sandbox every kernel runs in, and the confinement any untrusted process can run in.

Student code is untrusted. :func:`confine` prepares one confined process:

* its own unprivileged identity when the grader runs as root: a uid and gid from a dedicated
  range, held machine-wide for the confinement's lifetime (a ``flock()``-ed file per uid), so
  that two sandboxes (of one batch, or of two graders) never share one: neither can signal the
  other nor use up the other's process limit;
* new network, mount and PID namespaces (see :mod:`grader.sandbox.launcher`): no network, and every
  process it starts ends with it;
* an allow-listed file system: the system (``/usr``, ``/etc``, ...), Python (without any course
  material: assignments and reference solutions are covered even inside site-packages) and the
  folders the caller names, nothing else; private, size-capped ``/tmp``, ``/var/tmp`` and
  ``/dev/shm``;
* resource limits (:class:`Limits`) and an environment rebuilt from a short allow-list, so no
  secret of the grader's reaches it.

:func:`prepare` builds a notebook kernel's sandbox on top of it: a fresh folder holding only
the submission and the files the rubric lists, and its own copy of the kernel's data.

If namespaces cannot be created here, the grader says so once and keeps the other limits.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from grader.exceptions import ExecutionError
from grader.sandbox import launcher as sandbox_exec
from grader.sandbox.limits import THREAD_VARIABLES, Limits

log = logging.getLogger("grader")

# Environment variables a sandboxed process keeps; everything else of the grader's is dropped.
ENV_ALLOWED = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONPATH",
    "KERAS_BACKEND",
    "CUDA_VISIBLE_DEVICES",
    *THREAD_VARIABLES,
)
DEFAULT_UIDS = (200_000, 265_535)
"""The uids (and gids) a root grader gives its sandboxes: not ``nobody``, which other software
uses, and above the ranges that distributions hand to users and to containers' subuids."""
# The system's read-only part of every sandbox (a link, such as /lib -> usr/lib, stays a link).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc")
# Where the grader keeps one lock file per uid in use; /run/lock is cleared at boot.
LOCK_FOLDER = "keras-notebook-grader-uids"
# A folder holding one of these is a source checkout: only its grader package is shown.
CHECKOUT_MARKERS = ("pyproject.toml", "setup.py", ".git")


@dataclass(frozen=True)
class SandboxOptions:
    """How kernels are isolated: on by default; ``enabled=False`` is for debugging only."""

    enabled: bool = True
    limits: Limits = field(default_factory=Limits)
    uids: tuple[int, int] = DEFAULT_UIDS
    """First and last uid a root grader gives its sandboxes, one each (gid = uid)."""


@dataclass(frozen=True)
class Mount:
    """A host path shown in a sandbox, at the same absolute path."""

    path: Path
    writable: bool = False
    """Read-only unless set; a writable folder is given to the sandbox's user."""


@dataclass(frozen=True)
class Confinement:
    """A prepared launch: identity allocated, spec written; released when ``confine`` ends."""

    uid: int | None
    """The sandbox's own user (None when the grader is not root: it runs as the grader's)."""
    gid: int | None
    namespaces: bool
    """Whether namespaces (network, file system, processes) isolate it, not only limits."""
    root: Path
    """The confinement's own folder on the grader's side (spec, status; never shown inside)."""
    status_file: Path
    """Written by the launcher when the process ends: ``{"exit": n}`` or ``{"signal": n}``."""
    spec_file: Path
    workdir: Path
    """The process's working folder and ``HOME``."""
    options: SandboxOptions

    @property
    def enabled(self) -> bool:
        return self.options.enabled

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped in the launcher; unchanged (still a separate process) when disabled."""
        if not self.enabled:
            return list(argv)
        launcher = [sys.executable, "-I", "-S", sandbox_exec.__file__, str(self.spec_file)]
        return [*launcher, "--", *argv]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process's environment: the grader's allow-listed variables, ``HOME`` in its
        working folder, ``TMPDIR`` the private ``/tmp`` (the working folder without
        namespaces), then ``extra``."""
        private_tmp = Path(sandbox_exec.PRIVATE_TMPFS[0])  # the sandbox's own, not the machine's
        env = kernel_env(self.workdir, tmp=private_tmp if self.namespaces else self.workdir)
        env.update(extra or {})
        return env

    def exit_status(self) -> str:
        """How the process ended, e.g. ``exit code 1`` or ``signal SIGKILL``; empty if unknown."""
        try:
            status = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        if isinstance(status.get("signal"), int):
            return f"signal {signal.Signals(status['signal']).name}"
        if isinstance(status.get("exit"), int):
            return f"exit code {status['exit']}"
        return ""

    def kill(self) -> bool:
        """SIGKILL everything in the sandbox now; True if it was running.

        Kills the sandbox's init (PID 1 of its namespace: its death ends every process in
        it) and, without namespaces, every process below it. The launcher then reports the
        process as killed by SIGKILL. Safe to call at any time, and more than once.
        """
        try:
            pids = json.loads((self.root / "pids.json").read_text(encoding="utf-8"))
            launcher, init = int(pids["launcher"]), int(pids["init"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if _parent_of(init) != launcher:  # ended already (its pid may have been reused)
            return False
        below = descendants(init)
        killed = _kill(init)
        for pid in below:
            _kill(pid)
        return killed


@functools.cache
def namespaces_available() -> bool:
    """Whether this machine lets the grader build a sandbox; says why not, once per process."""
    if not sys.platform.startswith("linux"):
        log.warning("sandbox: no Linux namespaces on %s; kernels keep network access", sys.platform)
        return False
    probe = subprocess.run(
        [sys.executable, "-I", "-S", sandbox_exec.__file__, "--probe"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = (probe.stdout + probe.stderr).strip().splitlines()
    if probe.returncode != 0:
        log.warning(
            "sandbox: cannot create namespaces here (%s); kernels keep network access and the "
            "file system view; resource limits still apply. Grade in a disposable VM or "
            "container (see README, Security model).",
            (lines[-1:] or ["unknown reason"])[0],
        )
        return False
    if lines and lines[-1] != "ok":
        log.warning("sandbox: %s", lines[-1].removeprefix("ok ").removeprefix("[sandbox] "))
    return True


def kernel_env(work: Path, *, tmp: Path | None = None) -> dict[str, str]:
    """A sandboxed process's environment: an allow-list of the grader's, ``HOME`` in ``work``.

    Args:
        work: its working folder, which becomes ``HOME`` and holds the tools' settings.
        tmp: ``TMPDIR``; ``work`` when None.
    """
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOWED or k.startswith("LC_")}
    env.update(
        HOME=str(work),
        TMPDIR=str(tmp or work),
        KERAS_HOME=str(work / ".keras"),
        MPLCONFIGDIR=str(work / ".matplotlib"),
        IPYTHONDIR=str(work / ".ipython"),
        JUPYTER_RUNTIME_DIR=str(work / ".jupyter"),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def python_paths() -> tuple[list[Path], list[tuple[str, str]]]:
    """What of the Python installation a sandbox needs, and links to keep its paths working.

    Returns the resolved folders of the interpreter, its prefixes, ``sys.path`` and
    ``PYTHONPATH``, and the grader package; and (path, target) links for each of those whose
    own path goes through a symbolic link. A source checkout on ``sys.path`` (an editable
    install puts the whole checkout there, with every assignment, solution and golden file) is
    replaced by its ``grader`` package.
    """
    package = Path(__file__).resolve().parent
    candidates = [
        sys.executable,
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *_interpreter_path(os.environ.get("PYTHONPATH", "")),
        str(package),
    ]
    found: list[Path] = []
    links: list[tuple[str, str]] = []
    for candidate in candidates:
        if not candidate or not os.path.isabs(candidate):
            continue
        resolved = Path(candidate).resolve()
        if not resolved.exists() or _is_checkout(resolved):
            continue
        found.append(resolved)
        plain = Path(os.path.abspath(candidate))
        if plain != resolved:
            links.append((str(plain), str(resolved)))
    outermost = _outermost(found)
    visible = [(p, target) for p, target in links if not _shown_as_is(Path(p), outermost)]
    return outermost, sorted(set(visible))


@functools.cache
def _interpreter_path(pythonpath: str) -> tuple[str, ...]:
    """``sys.path`` of a fresh interpreter, as a sandboxed one starts: not this process's,
    whose first entry is the grader's script folder or working folder (which may hold the
    class's hand-in), and to which test runners add their own."""
    probe = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
        env={"PYTHONPATH": pythonpath, "HOME": "/nonexistent", "PATH": os.defpath},
    )
    return tuple(json.loads(probe.stdout))


def course_material() -> list[Path]:
    """Folders no sandbox may see even inside an allowed tree: assignments and references.

    An installed wheel carries every assignment (rubrics, solutions) as
    ``grader/assignments`` and the reference solutions as the top-level ``reference``
    package; an editable install leaves the same ``grader/assignments`` in site-packages.
    Every folder of a sandboxed interpreter's path is searched for both, besides where this
    grader finds them.
    """
    from grader.rubric import assignments_root

    found = [assignments_root()]
    reference = importlib.util.find_spec("reference")
    if reference is not None and reference.origin:
        found.append(Path(reference.origin).parent)
    for entry in _interpreter_path(os.environ.get("PYTHONPATH", "")):
        found += [Path(entry) / "grader" / "assignments", Path(entry) / "reference"]
    return sorted({p.resolve() for p in found if p.exists()})


def system_paths() -> tuple[list[Path], list[tuple[str, str]]]:
    """The system folders that exist here, and the ones that are links (``/lib -> usr/lib``)."""
    folders, links = [], []
    for name in SYSTEM_PATHS:
        if os.path.islink(name):
            links.append((name, os.readlink(name)))
        elif os.path.isdir(name):
            folders.append(Path(name))
    return folders, links


@contextmanager
def confine(
    options: SandboxOptions,
    *,
    mounts: Sequence[Mount],
    workdir: Path,
    limits: Limits | None = None,
    name: str = "sandbox",
    hide: t.Iterable[Path | None] = (),
    reveal: t.Iterable[Path] = (),
    discard_output: bool = False,
) -> Iterator[Confinement]:
    """Prepare a confined launch: allocate an identity, write the launcher's spec.

    Run the process with ``Popen(c.command(argv), env=c.env(), ...)`` inside the block, and
    stop it at any time with ``c.kill()``; when the block ends, whatever still runs as the
    sandbox's user is killed and the identity is released. Standard input and output pass
    through, so a process can be fed and read by pipes.

    Args:
        options: sandbox settings; with ``enabled=False`` nothing is confined.
        mounts: the caller's folders and files the process may see (read-only unless
            writable), besides the system and Python, which every sandbox sees read-only.
        workdir: the process's working folder and ``HOME``; mounted writable if not listed.
        limits: resource limits; the options' when None.
        name: names the confinement's folder (``grader-<name>-...``), for debugging.
        hide: secrets (caches, data folders) to cover should they lie inside an allowed tree;
            course material (assignments, reference solutions) is always covered.
        reveal: course material this process may see nonetheless: the judge builds the
            expected models from the reference package. Never a kernel's.
        discard_output: send the process's own stdout and stderr to ``/dev/null`` (a kernel,
            whose output travels over Jupyter's channels).

    Raises:
        ExecutionError: no free identity, or the uid lock folder is not safe to use.
        ValueError: a mount is ``/``, would cover the sandbox's own ``/proc``, ``/dev`` or
            private temporary folders, or lies inside course material or ``hide``.
    """
    limits = limits or options.limits
    wanted = [Mount(Path(os.path.abspath(m.path)), m.writable) for m in mounts]
    workdir = Path(os.path.abspath(workdir))
    if all(m.path != workdir for m in wanted):
        wanted.append(Mount(workdir, writable=True))
    for m in wanted:
        _check_mount(m.path)
    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix=f"grader-{name}-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        ids = None
        if options.enabled and os.geteuid() == 0:
            uid = stack.enter_context(_identity(*options.uids))
            ids = (uid, uid)
        namespaces = options.enabled and namespaces_available()
        confinement = Confinement(
            uid=ids[0] if ids else None,
            gid=ids[1] if ids else None,
            namespaces=namespaces,
            root=folder,
            status_file=folder / "status.json",
            spec_file=folder / "spec.json",
            workdir=workdir,
            options=options,
        )
        if ids:
            for m in wanted:
                if m.writable:
                    _give(m.path, *ids)
        if options.enabled:
            spec = _spec(confinement, wanted, limits, hide, reveal, discard_output)
            confinement.spec_file.write_text(json.dumps(spec), encoding="utf-8")
            confinement.spec_file.chmod(0o600)
        yield confinement


def _spec(
    confinement: Confinement,
    mounts: Sequence[Mount],
    limits: Limits,
    hide: t.Iterable[Path | None],
    reveal: t.Iterable[Path],
    discard_output: bool,
) -> dict[str, t.Any]:
    """The launcher's spec (see :mod:`grader.sandbox.launcher`)."""
    binds: list[dict[str, t.Any]] = []
    symlinks: list[tuple[str, str]] = []
    holes: list[str] = []
    if confinement.namespaces:
        system, system_links = system_paths()
        python, python_links = python_paths()
        shown = _outermost([*system, *python])
        binds = [{"path": str(p), "writable": False} for p in shown]
        # The caller's paths are resolved here; the launcher refuses a link it meets later.
        binds += [
            {"path": str(m.path.resolve()), "writable": m.writable}
            for m in mounts
            if not any(m.path.resolve().is_relative_to(p) for p in shown) or m.writable
        ]
        symlinks = [*system_links, *python_links]
        allowed = [Path(b["path"]) for b in binds]
        revealed = {p.resolve() for p in reveal}
        secrets_ = {p.resolve() for p in [*course_material(), *hide] if p is not None}
        secrets_ -= revealed
        for secret in sorted(secrets_):
            inside = [a for a in allowed if secret.is_relative_to(a) and secret != a]
            if inside and secret.exists():
                holes.append(str(secret))
            asked = [m.path for m in mounts if m.path.resolve().is_relative_to(secret)]
            if inside and asked:
                raise ValueError(f"{asked[0]} lies inside {secret}, which no sandbox may see")
    return {
        "namespaces": confinement.namespaces,
        "root": str(_new_root(confinement.root)),
        "binds": binds,
        "symlinks": symlinks,
        "holes": holes,
        "tmpfs_mb": limits.tmpfs_mb,
        "uid": confinement.uid,
        "gid": confinement.gid,
        "rlimits": limits.rlimits(),
        "workdir": str(confinement.workdir),
        "status": str(confinement.status_file),
        "pids": str(confinement.root / "pids.json"),
        "discard_output": discard_output,
    }


def _new_root(folder: Path) -> Path:
    """The empty folder the launcher mounts the sandbox's root on (in its own namespace)."""
    root = folder / "root"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def _check_mount(path: Path) -> None:
    """Refuse a mount that would cover the sandbox's own ``/proc``, ``/dev`` or private
    temporary folders (a folder *inside* ``/tmp`` is fine: it is mounted on the private one)."""
    reserved = [Path(p) for p in ("/proc", "/dev", *sandbox_exec.PRIVATE_TMPFS)]
    if any(r.is_relative_to(path) for r in reserved) or any(
        path.is_relative_to(p) for p in ("/proc", "/dev")
    ):
        raise ValueError(
            f"{path}: cannot be mounted in a sandbox: it would cover the sandbox's own /proc, "
            "/dev or private temporary folders"
        )


def _give(path: Path, uid: int, gid: int) -> None:
    """Make ``path`` and everything in it the sandbox user's, following no link."""
    os.chown(path, uid, gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, files in os.walk(path):
            for entry in (*dirs, *files):
                os.chown(os.path.join(folder, entry), uid, gid, follow_symlinks=False)


def _is_checkout(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in CHECKOUT_MARKERS)


def _outermost(paths: t.Iterable[Path]) -> list[Path]:
    """The paths not inside another one of them, sorted."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(p != o and p.is_relative_to(o) for o in unique)]


def _shown_as_is(path: Path, shown: Sequence[Path]) -> bool:
    """Whether ``path`` appears inside a sandbox at its own name (its folder is mounted)."""
    parent = path.parent
    return parent.resolve() == parent and any(path.is_relative_to(s) for s in shown)


def lock_folder(base: Path | None = None) -> Path:
    """The root-owned folder of uid locks: ``/run/lock/...`` if there is one, else in ``$TMPDIR``.

    Raises:
        ExecutionError: the folder exists but is not a root-owned folder closed to others
            (someone else created it to steal or block identities).
    """
    if base is None:
        base = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    folder = base / LOCK_FOLDER
    with suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        raise ExecutionError(
            f"{folder}: the sandbox's uid lock folder must be a folder owned by root with mode "
            "0700; someone else made it: remove it and grade again"
        )
    return folder


@contextmanager
def _identity(first: int, last: int) -> Iterator[int]:
    """Hold the lowest free uid of ``first..last`` machine-wide until the block ends.

    A uid is free when no other grader holds its lock and no process runs as it. The lock is
    an ``flock()`` on ``<uid>.lock``: the system releases it when the holder dies, however it
    dies. At the end, whatever still runs as the uid is killed: only this sandbox used it.
    """
    folder = os.open(lock_folder(), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        busy = _uids_in_use()
        for uid in range(first, last + 1):
            if uid in busy or _has_account(uid):
                continue
            fd = os.open(
                f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=folder
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if uid in _uids_in_use():  # a process appeared between the scan and the lock
                os.close(fd)
                continue
            try:
                yield uid
            finally:
                _kill_user(uid)
                os.close(fd)
            return
    finally:
        os.close(folder)
    raise ExecutionError(
        f"no free sandbox uid in {first}-{last}: every one is in use by another sandbox; "
        "wait, or give a larger range"
    )


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _process_uids() -> dict[int, set[int]]:
    """Every process on the machine -> its uids (real, effective, saved, file system)."""
    found: dict[int, set[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        found[int(entry.name)] = {int(v) for v in line.split()[1:]}
                        break
        except (OSError, ValueError):
            continue
    return found


def _uids_in_use() -> set[int]:
    return set().union(*_process_uids().values())


def _kill_user(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (a fork bomb's may still be forking)."""
    for _ in range(20):
        pids = [pid for pid, uids in _process_uids().items() if uid in uids]
        if not pids:
            return
        for pid in pids:
            _kill(pid)
        time.sleep(0.05)


@dataclass(frozen=True)
class Sandbox:
    """One kernel's prepared folder (removed when the ``prepare`` block ends)."""

    root: Path
    work: Path
    """The kernel's working folder and ``HOME``."""
    artefacts: Path
    ipc: Path
    """Where the kernel's IPC sockets are created."""
    data: Path
    """The kernel's copy of its data set."""
    connection_file: Path
    confinement: Confinement
    options: SandboxOptions

    @property
    def namespaces(self) -> bool:
        return self.confinement.namespaces

    @property
    def status_file(self) -> Path:
        return self.confinement.status_file

    @property
    def spec_file(self) -> Path:
        return self.confinement.spec_file

    def env(self) -> dict[str, str]:
        """The kernel's environment (see :meth:`Confinement.env`)."""
        return self.confinement.env()

    def exit_status(self) -> str:
        """How the kernel ended, e.g. ``exit code 1`` or ``signal SIGKILL``; empty if unknown."""
        return self.confinement.exit_status()

    def kill(self) -> bool:
        """SIGKILL the kernel and everything it started (see :meth:`Confinement.kill`)."""
        return self.confinement.kill()


@contextmanager
def prepare(
    options: SandboxOptions,
    *,
    submission: Path,
    data: Path,
    extra_files: t.Iterable[Path] = (),
    hide: t.Iterable[Path | None] = (),
) -> Iterator[Sandbox]:
    """Create one kernel's folder and confinement, and remove them afterwards.

    Args:
        options: sandbox settings.
        submission: copied into the working folder, so the kernel finds its notebook there.
        data: the kernel's share of the data set, linked (or copied) into the sandbox.
        extra_files: files the rubric lists, copied into the working folder.
        hide: secrets to cover should they lie inside the Python installation the kernel
            sees (see :func:`confine`); everything else outside its own folders is not
            mounted at all.
    """
    with tempfile.TemporaryDirectory(prefix="grader-sandbox-") as tmp:
        root = Path(tmp)
        # Random names, under a folder that is traversable but not listable (0711): a
        # process without namespaces cannot find another kernel's folders.
        token = secrets.token_hex(8)
        work, artefacts, ipc = (root / f"{name}-{token}" for name in ("work", "artefacts", "ipc"))
        for folder in (work, artefacts, ipc):
            folder.mkdir(mode=0o700)
        root.chmod(0o711)
        kernel_data = root / f"data-{token}.npz"
        try:
            os.link(data, kernel_data)
        except OSError:  # another file system: a copy costs a fraction of a second
            shutil.copyfile(data, kernel_data)
        kernel_data.chmod(0o444)
        shutil.copyfile(submission, work / submission.name)
        for extra in extra_files:
            shutil.copyfile(extra, work / extra.name)
        connection_file = root / f"kernel-{token}.json"
        mounts = [
            Mount(work, writable=True),
            Mount(artefacts, writable=True),
            Mount(ipc, writable=True),
            Mount(kernel_data),
            Mount(connection_file),  # written by Jupyter just before the kernel starts
        ]
        with confine(
            options, mounts=mounts, workdir=work, hide=hide, name="kernel", discard_output=True
        ) as confinement:
            yield Sandbox(
                root=root,
                work=work,
                artefacts=artefacts,
                ipc=ipc,
                data=kernel_data,
                connection_file=connection_file,
                confinement=confinement,
                options=options,
            )


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel through :mod:`grader.sandbox.launcher` when a sandbox is set."""

    sandbox: Sandbox | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd: list[str] = super().format_kernel_cmd(extra_arguments)
        if self.sandbox is None or not self.sandbox.options.enabled:
            return cmd
        confinement = self.sandbox.confinement
        # Jupyter has just written the connection file, readable by the grader only.
        if confinement.uid is not None and os.path.isfile(self.connection_file):
            os.chown(self.connection_file, confinement.uid, confinement.gid or confinement.uid)
        return confinement.command(cmd)


def children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (empty once it is gone)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            out += [int(c) for c in text.split()]
    except OSError:
        pass
    return out


def inner_pid(pid: int) -> int:
    """A process's PID in its own (innermost) PID namespace."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except OSError:
        pass
    return pid


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def _parent_of(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True
