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
* a seccomp filter refusing the system calls a notebook never needs (ptrace, mount, unshare,
  bpf, io_uring, ...: :mod:`grader.sandbox.syscalls`), namespaces or not;
* resource limits (:class:`Limits`) and an environment rebuilt from a short allow-list, so no
  secret of the grader's reaches it.

:func:`~grader.sandbox.kernel.kernel_sandbox` builds a notebook kernel's sandbox on top of it:
a fresh folder holding only the submission and the files the rubric lists, and its own copy of
the kernel's data.

If namespaces cannot be created here, the grader says so once and keeps the other limits.
"""

from __future__ import annotations

import functools
import grp
import json
import logging
import os
import signal
import subprocess
import sys
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import launcher as sandbox_exec
from grader.sandbox.filesystem import course_material, outermost, python_paths, system_paths
from grader.sandbox.identity import DEFAULT_UIDS, identity
from grader.sandbox.limits import Limits, thread_env
from grader.sandbox.processes import descendants, kill_process, parent_of
from grader.sandbox.syscalls import filter_program
from grader.scratch import scratch_folder

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
)


SANDBOX_USER = "student"

JUDGE_GROUP = "grader-judge"
"""The group a root grader runs the judge in, where the group exists (Gradescope's
``setup.sh`` makes it and gives it the reference module): in a container without namespaces,
file permissions alone keep course material from kernels, which run in groups of their own."""


@dataclass(frozen=True)
class SandboxOptions:
    """How kernels are isolated: on by default; ``enabled=False`` is for debugging only."""

    enabled: bool = True
    limits: Limits = field(default_factory=Limits)
    uids: tuple[int, int] = DEFAULT_UIDS
    """First and last uid a root grader gives its sandboxes, one each (gid = uid; a judge's
    gid is :data:`JUDGE_GROUP`'s where that group exists)."""
    python: str | None = None
    """The interpreter a kernel runs (a rubric's ``[execution] python``); None: the grader's.
    Its installation is shown in the sandbox, and the grader's package on its path."""


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

    def command_via(self, address: str, argv: Sequence[str]) -> list[str]:
        """The launcher in ``--via`` mode: the fork-server at ``address`` runs its program
        with ``argv``, confined as this confinement says (see :mod:`grader.sandbox.zygote`)."""
        launcher = [sys.executable, "-I", "-S", sandbox_exec.__file__]
        return [*launcher, "--via", address, str(self.spec_file), "--", *argv]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process's environment: the grader's allow-listed variables, ``HOME`` in its
        working folder, ``TMPDIR`` the private ``/tmp`` (the working folder without
        namespaces), then ``extra``."""
        private_tmp = Path(sandbox_exec.PRIVATE_TMPFS[0])  # the sandbox's own, not the machine's
        env = kernel_env(self.workdir, tmp=private_tmp if self.namespaces else self.workdir)
        if self.options.python:
            # A course's interpreter imports the grader's kernel runtime from its package (the
            # only part of a source checkout a sandbox shows), and nothing of the grader's path.
            env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
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

    def _pids(self) -> tuple[int, int] | None:
        """The launcher's pid and its init's, as the launcher wrote them (None before)."""
        try:
            pids = json.loads((self.root / "pids.json").read_text(encoding="utf-8"))
            return int(pids["launcher"]), int(pids["init"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def launcher_pid(self) -> int | None:
        """The pid of the launcher whose process tree holds the confined process, once it
        runs: the process the grader started, or a fork-server's child for a process forked
        from one (:mod:`grader.sandbox.zygote`), which is not below the grader's."""
        pids = self._pids()
        return pids[0] if pids else None

    def kill(self) -> bool:
        """SIGKILL everything in the sandbox now; True if it was running.

        Kills the sandbox's init (PID 1 of its namespace: its death ends every process in
        it) and, without namespaces, every process below it. The launcher then reports the
        process as killed by SIGKILL. Safe to call at any time, and more than once.
        """
        pids = self._pids()
        if pids is None:
            return False
        launcher, init = pids
        if parent_of(init) != launcher:  # ended already (its pid may have been reused)
            return False
        below = descendants(init)
        killed = kill_process(init)
        for pid in below:
            kill_process(pid)
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
            "container (see docs/security.md).",
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
        # The sandbox's uid has no passwd entry: without these, getpass.getuser() raises, and
        # PyTorch 2.11 then fails to import torchvision (it names its cache folder after it).
        USER=SANDBOX_USER,
        LOGNAME=SANDBOX_USER,
        TMPDIR=str(tmp or work),
        KERAS_HOME=str(work / ".keras"),
        MPLCONFIGDIR=str(work / ".matplotlib"),
        IPYTHONDIR=str(work / ".ipython"),
        JUPYTER_RUNTIME_DIR=str(work / ".jupyter"),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    # Fixed, never the grader's: the same arithmetic at any -j and on any worker.
    env.update(thread_env())
    return env


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
    group: str | None = None,
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
        group: a group to run in instead of the identity's own, where the grader is root and
            the group exists (the judge's :data:`JUDGE_GROUP`). Never a kernel's.

    Raises:
        ExecutionError: no free identity, the uid lock folder is not safe to use, or the
            seccomp filter cannot be built (no libseccomp).
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
        folder = stack.enter_context(scratch_folder(name))
        ids = None
        if options.enabled and os.geteuid() == 0:
            uid = stack.enter_context(identity(*options.uids))
            ids = (uid, _group_id(group) or uid)
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
        # Whatever still runs in it ends before its identity and folders go: a process forked
        # from a fork-server is not the child of the one the caller killed.
        stack.callback(confinement.kill)
        yield confinement


def _group_id(name: str | None) -> int | None:
    """The id of the group ``name``, or None when there is no such group (or no name)."""
    if name is None:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


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
        python, python_links = python_paths(confinement.options.python)
        shown = outermost([*system, *python])
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
        for secret in sorted(p for s in secrets_ for p in _around(s, revealed)):
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
        # Linux's alone; elsewhere the grader has said once that kernels are barely confined.
        "seccomp": filter_program().hex() if sys.platform.startswith("linux") else None,
    }


def _around(secret: Path, revealed: set[Path]) -> list[Path]:
    """What to cover of ``secret`` so that the revealed paths inside it stay visible.

    The judge sees the reference package, which lives inside the course folder: the course's
    other entries are covered one by one, down the way to each revealed path.
    """
    inner = [r for r in revealed if r != secret and r.is_relative_to(secret)]
    if not inner:
        return [secret]
    if not secret.is_dir():
        return []
    covered: list[Path] = []
    for child in sorted(secret.iterdir()):
        resolved = child.resolve()
        if resolved in revealed:
            continue
        covered += _around(resolved, revealed) if resolved.is_relative_to(secret) else [resolved]
    return covered


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
