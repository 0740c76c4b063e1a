"""The sandbox every kernel runs in: its folder, environment, limits and launcher.

Student code is untrusted. Each kernel gets:

* a fresh folder (``work/``) holding only the submission and the files the rubric lists, plus
  its own copy of the kernel's data; the grader's cache, the data folder, the assignment folder
  (rubric, solution), the reference code and the submissions' folder are hidden from it;
* new network, mount and PID namespaces (see :mod:`grader.sandbox_exec`): no network, and every
  process it starts ends with it;
* resource limits (:class:`Limits`) and, when the grader runs as root, an unprivileged user;
* an environment rebuilt from a short allow-list, so no secret of the grader's reaches it.

If namespaces cannot be created here, the grader says so once and keeps the other limits.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from grader import sandbox_exec
from grader.exceptions import ExecutionError
from grader.limits import THREAD_VARIABLES, Limits

log = logging.getLogger("grader")

# Environment variables a kernel keeps; everything else of the grader's is dropped.
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
# The user a root grader runs kernels as.
DEFAULT_USER = "nobody"


@dataclass(frozen=True)
class SandboxOptions:
    """How kernels are isolated: on by default; ``enabled=False`` is for debugging only."""

    enabled: bool = True
    limits: Limits = field(default_factory=Limits)
    user: str = DEFAULT_USER
    """Unprivileged user a root grader runs kernels as."""


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
    status_file: Path
    """Written by the launcher when the kernel ends: ``{"exit": n}`` or ``{"signal": n}``."""
    spec_file: Path
    options: SandboxOptions
    namespaces: bool

    def exit_status(self) -> str:
        """How the kernel ended, e.g. ``exit code 1`` or ``signal SIGKILL``; empty if unknown."""
        try:
            status = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        if isinstance(status.get("signal"), int):
            return f"signal {signal.Signals(status['signal']).name}"
        if isinstance(status.get("exit"), int):
            return f"exit code {status['exit']}"
        return ""


@functools.cache
def namespaces_available() -> bool:
    """Whether this machine lets the grader create namespaces; says why not, once per process."""
    if not sys.platform.startswith("linux"):
        log.warning("sandbox: no Linux namespaces on %s; kernels keep network access", sys.platform)
        return False
    probe = subprocess.run(
        [sys.executable, "-I", "-S", sandbox_exec.__file__, "--probe"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        why = (probe.stdout + probe.stderr).strip().splitlines()[-1:] or ["unknown reason"]
        log.warning(
            "sandbox: cannot create namespaces here (%s); kernels keep network access and the "
            "file system view; resource limits still apply. Grade in a disposable VM or "
            "container (see README, Security model).",
            why[0],
        )
        return False
    return True


def _user_ids(name: str) -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None  # only root can switch users; kernels run as the grader's user
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ExecutionError(
            f"the sandbox user {name!r} does not exist; create it, or grade as a non-root user"
        ) from None
    return entry.pw_uid, entry.pw_gid


def kernel_env(work: Path) -> dict[str, str]:
    """The kernel's environment: an allow-list of the grader's, with ``HOME`` in its folder."""
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOWED or k.startswith("LC_")}
    env.update(
        HOME=str(work),
        TMPDIR=str(work),
        KERAS_HOME=str(work / ".keras"),
        MPLCONFIGDIR=str(work / ".matplotlib"),
        IPYTHONDIR=str(work / ".ipython"),
        JUPYTER_RUNTIME_DIR=str(work / ".jupyter"),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def hidden_paths(
    candidates: t.Iterable[Path | None], keep: t.Iterable[Path]
) -> list[dict[str, t.Any]]:
    """What to hide from the kernel: each candidate that exists, with the paths to keep in it.

    A candidate holding a path the kernel needs (Python in the grader's home, the sandbox in the
    temporary folder) is hidden all the same, and the needed paths are mounted back inside it
    (``expose``). A candidate that *is* a needed path, or ``/``, cannot be hidden.
    """
    needed = sorted({p.resolve() for p in keep if p.exists()})
    out: list[dict[str, t.Any]] = []
    for candidate in candidates:
        if candidate is None or not candidate.exists():
            continue
        path = candidate.resolve()
        if path == Path("/") or path in needed or any(path.is_relative_to(e["path"]) for e in out):
            continue
        inside = [n for n in needed if n.is_relative_to(path)]
        # Keep only the outermost of nested needed paths: mounting one exposes the rest.
        expose = [n for n in inside if not any(n != o and n.is_relative_to(o) for o in inside)]
        out.append({"path": str(path), "expose": [str(n) for n in expose]})
    return out


@contextmanager
def prepare(
    options: SandboxOptions,
    *,
    submission: Path,
    data: Path,
    extra_files: t.Iterable[Path] = (),
    hide: t.Iterable[Path | None] = (),
) -> Iterator[Sandbox]:
    """Create one kernel's folder, and remove it afterwards.

    Args:
        options: sandbox settings.
        submission: copied into the working folder, so the kernel finds its notebook there.
        data: the kernel's share of the data set, linked (or copied) into the sandbox.
        extra_files: files the rubric lists, copied into the working folder.
        hide: folders and files the kernel must not see (cache, data, rubric, reference).
    """
    ids = _user_ids(options.user) if options.enabled else None
    namespaces = options.enabled and namespaces_available()
    with tempfile.TemporaryDirectory(prefix="grader-sandbox-") as tmp:
        root = Path(tmp)
        # Random names: the sandbox folder is traversable but not listable (0711), so another
        # kernel running as the same user cannot find this one's folders.
        token = secrets.token_hex(8)
        work, artefacts, ipc = (root / f"{name}-{token}" for name in ("work", "artefacts", "ipc"))
        for folder in (work, artefacts, ipc):
            folder.mkdir(mode=0o700)
            if ids:
                os.chown(folder, *ids)
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
        if ids:
            for path in work.iterdir():
                os.chown(path, *ids)
        package = Path(__file__).resolve().parent
        # A source checkout (an editable install) holds every assignment's solution and the
        # tests' goldens: it is hidden, and only its grader package (and Python) shown again.
        checkout = package.parent if (package.parent / "pyproject.toml").is_file() else None
        keep = [Path(sys.prefix), Path(sys.base_prefix), package, root]
        keep += [
            Path(p)
            for p in (*sys.path, *os.environ.get("PYTHONPATH", "").split(":"))
            if p and Path(p).resolve() != checkout
        ]
        sandbox = Sandbox(
            root=root,
            work=work,
            artefacts=artefacts,
            ipc=ipc,
            data=kernel_data,
            connection_file=root / f"kernel-{token}.json",
            status_file=root / "status.json",
            spec_file=root / "launch.json",
            options=options,
            namespaces=namespaces,
        )
        spec = {
            "namespaces": namespaces,
            "hide": (
                hidden_paths([*hide, checkout, Path.home(), Path(tempfile.gettempdir())], keep)
                if namespaces
                else []
            ),
            "uid": ids[0] if ids else None,
            "gid": ids[1] if ids else None,
            "chown": [str(sandbox.connection_file)],
            "rlimits": options.limits.rlimits() if options.enabled else {},
            "workdir": str(work),
            "status": str(sandbox.status_file),
        }
        sandbox.spec_file.write_text(json.dumps(spec), encoding="utf-8")
        sandbox.spec_file.chmod(0o600)
        yield sandbox


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel through :mod:`grader.sandbox_exec` when a sandbox is set."""

    sandbox: Sandbox | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd: list[str] = super().format_kernel_cmd(extra_arguments)
        if self.sandbox is None or not self.sandbox.options.enabled:
            return cmd
        launcher = [sys.executable, "-I", "-S", sandbox_exec.__file__, str(self.sandbox.spec_file)]
        return [*launcher, "--", *cmd]


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
