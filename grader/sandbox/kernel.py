"""A notebook kernel's sandbox: its folders and its copy of the data.

Built on :func:`grader.sandbox.confine.confine`: the kernel sees its working folder (the
submission and the files the rubric lists), its artefact folder, its IPC sockets and its share
of the data, and nothing of the grader's but the system and Python. Its kernel manager, which
starts the kernel in it, is :mod:`grader.execute.kernel_manager`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.confine import Confinement, Mount, SandboxOptions, confine
from grader.scratch import scratch_folder


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
def kernel_sandbox(
    options: SandboxOptions,
    *,
    submission: Path | None,
    data: Path,
    extra_files: t.Iterable[Path] = (),
    hide: t.Iterable[Path | None] = (),
) -> Iterator[Sandbox]:
    """Create one kernel's folder and confinement, and remove them afterwards.

    Args:
        options: sandbox settings.
        submission: copied into the working folder, so the kernel finds its notebook there;
            None for a kernel started before its submission is known (see
            :func:`place_submission`).
        data: the kernel's share of the data set, linked (or copied) into the sandbox.
        extra_files: files the rubric lists, copied into the working folder.
        hide: secrets to cover should they lie inside the Python installation the kernel
            sees (see :func:`confine`); everything else outside its own folders is not
            mounted at all.
    """
    with scratch_folder("sandbox") as root:
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
        if submission is not None:
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


def place_submission(box: Sandbox, submission: Path) -> None:
    """Copy ``submission`` into the working folder of a kernel started before it was known.

    Only the grader's own code has run in that kernel, but the folder is the kernel's: the
    file is created new, never through a link or over a file found there.

    Args:
        box: the warm kernel's sandbox.
        submission: the notebook to put in its working folder.

    Raises:
        FileExistsError: something already has the submission's name there.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(box.work / submission.name, flags, 0o644)
    uid = box.confinement.uid
    if uid is not None:  # as the sandbox made every file of its writable folders its user's
        os.fchown(fd, uid, box.confinement.gid if box.confinement.gid is not None else uid)
    with os.fdopen(fd, "wb") as dest, submission.open("rb") as source:
        shutil.copyfileobj(source, dest)
