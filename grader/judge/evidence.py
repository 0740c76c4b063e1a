"""Take what a kernel leaves for judging out of its reach, as its cells finish.

The kernel writes fit records, weight snapshots and its final models into its artefact folder
(see :mod:`grader.kernel.runtime`). Everything there is hostile input: names, links, sizes and
timing are the student's to choose. After each cell, the grader copies the new fit records and
snapshots into a folder the kernel cannot see, once: a file already taken is never read again,
so a later cell cannot rewrite the evidence of an earlier ``fit``. The final models, the role
table and the data variables are written by the grader's last cell and taken at the end.

A crash keeps what was done: after each cell that changed a role's model or a data variable,
the kernel writes a numbered checkpoint of them, taken like the fits. When the kernel died
before the last cell (no final role table), the last complete checkpoint taken stands in for
the final files, so the judge sees the models as the last finished cell left them; the crash
itself stays the outcome, with its cell.

Only regular files with the names the runtime writes are copied, opened without following
links, each and all together within a size bound; anything else is ignored and noted.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import typing as t
from pathlib import Path

from grader.framework import every_framework
from grader.kernel import layout

CHUNK = 1 << 20
MAX_EVIDENCE_BYTES = 4 * 2**30
"""All of one notebook's artefacts together: a VGG19 notebook leaves about 0.5 GB."""
MAX_FILES = 2000
MAX_LISTED = 10_000
"""Entries looked at per folder: a kernel may fill its folder with millions."""

_PER_CELL = {sub: names for f in every_framework() for sub, names in f.per_cell.items()}
MAX_CHECKPOINT_BYTES = 2 * 2**30
"""All checkpoints together: a VGG19 notebook's model is about 80 MB a checkpoint."""


class EvidenceCollector:
    """Copies one kernel's artefacts into ``dest``, write-once and bounded.

    Args:
        source: the kernel's artefact folder.
        dest: a folder the kernel cannot reach; the judge reads it.
        roles: the rubric's model roles (``models/<role>.keras`` are the only models taken).
        max_file_bytes: the largest file taken.
        max_total_bytes: all files taken together.
    """

    def __init__(
        self,
        source: Path,
        dest: Path,
        roles: t.Iterable[str],
        *,
        max_file_bytes: int,
        max_total_bytes: int,
    ) -> None:
        self.source = source
        self.dest = dest
        names = (re.escape(layout.model_file(r).split("/", 1)[1]) for r in roles)
        self.models = re.compile("|".join(names) or "(?!)")
        self.roles = set(roles)
        self.checkpoint_bytes = 0
        self.cell = -1
        self.checkpoint_cells: dict[int, int] = {}
        """Checkpoint number -> the index of the cell after which it was taken."""
        self.restored_from: int | None = None
        """The cell whose checkpoint stands in for the final files (the kernel died)."""
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.taken: set[str] = set()
        self.used_bytes = 0
        self.notes: list[str] = []
        """What was refused (links, special files, sizes), one line each, for the report."""
        dest.mkdir(mode=0o755, parents=True, exist_ok=True)

    def after_cell(self, index: int = -1) -> None:
        """Take the fit records, snapshots and checkpoints written since the last call.

        Args:
            index: the cell that just ran (checkpoints taken now are credited to it).
        """
        self.cell = index
        with self._folder(None) as root:
            if root is None:
                return
            for sub, pattern in _PER_CELL.items():
                self._take_matching(root, sub, pattern)
            self._take_checkpoints(root)

    def at_end(self) -> None:
        """Take what is left: the last cell's fits, the final models, roles and variables;
        without a final role table (the kernel died), the last complete checkpoint's."""
        self.after_cell(self.cell)
        with self._folder(None) as root:
            if root is None:
                return
            self._take_matching(root, layout.MODELS, self.models)
            for name in layout.FINAL_FILES:
                self._take(root, name, name)
        if not (self.dest / layout.ROLES).is_file():
            self._restore_checkpoint()

    def _take_checkpoints(self, root: int) -> None:
        with self._folder(root, layout.CHECKPOINTS) as folder:
            if folder is None:
                return
            names = []
            for entry_name in self._listed(folder, layout.CHECKPOINTS):
                found = layout.final_of_checkpoint(entry_name)
                if found is None:
                    continue
                final = found[1]
                role = final[len(layout.MODELS) + 1 : -len(".keras")]
                if final.startswith(f"{layout.MODELS}/") and role not in self.roles:
                    continue
                names.append((found[0], final == layout.ROLES, entry_name))
            # Role tables last: one taken means its checkpoint's other files were taken first.
            for number, _, name in sorted(names):
                relative = f"{layout.CHECKPOINTS}/{name}"
                if relative in self.taken:
                    continue
                before = self.used_bytes
                if self.checkpoint_bytes >= MAX_CHECKPOINT_BYTES:
                    self._note("checkpoints beyond their size bound were ignored")
                    return
                self._take(folder, name, relative)
                self.checkpoint_bytes += self.used_bytes - before
                if name.endswith(f"-{layout.ROLES}") and (self.dest / relative).is_file():
                    self.checkpoint_cells.setdefault(number, self.cell)

    def _restore_checkpoint(self) -> None:
        """Copy the last complete checkpoint (within the grader's own folder) to the final
        names, for the judge."""
        if not self.checkpoint_cells:
            return
        number = max(self.checkpoint_cells)
        folder = self.dest / layout.CHECKPOINTS
        prefix = f"{number}-"
        for path in folder.iterdir():
            found = layout.final_of_checkpoint(path.name)
            if found is None or not path.name.startswith(prefix) or found[0] != number:
                continue
            target = self.dest / found[1]
            target.parent.mkdir(mode=0o755, exist_ok=True)
            shutil.copyfile(path, target)
            target.chmod(0o644)
        self.restored_from = self.checkpoint_cells[number]

    def _take_matching(self, root: int, sub: str, pattern: re.Pattern[str]) -> None:
        with self._folder(root, sub) as folder:
            if folder is None:
                return
            names = [n for n in self._listed(folder, sub) if pattern.fullmatch(n)]
            # In the order the fits happened (numbers sort by length first), so that the
            # size bound, if reached, drops the latest files, whatever the listing order.
            for name in sorted(names, key=lambda n: (len(n), n)):
                self._take(folder, name, f"{sub}/{name}")

    def _listed(self, folder: int, sub: str) -> list[str]:
        """The first :data:`MAX_LISTED` names in ``folder``: a kernel may fill it with
        millions of files to stall the grader, so the listing itself is bounded."""
        names = []
        with os.scandir(folder) as entries:
            for n, entry in enumerate(entries):
                if n >= MAX_LISTED:
                    self._note(f"{sub}/ holds too many files; the rest were ignored")
                    break
                names.append(entry.name)
        return names

    @contextlib.contextmanager
    def _folder(self, parent: int | None, name: str | None = None) -> t.Iterator[int | None]:
        path = str(self.source) if parent is None else name
        try:
            fd = os.open(
                t.cast(str, path),
                os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                dir_fd=parent,
            )
        except OSError:  # absent, or a link or a file where a folder should be
            if parent is not None and os.path.lexists(self.source / t.cast(str, name)):
                self._note(f"{name} is not a folder; ignored")
            yield None
            return
        try:
            yield fd
        finally:
            os.close(fd)

    def _take(self, folder: int, name: str, relative: str) -> None:
        if relative in self.taken:
            return
        if len(self.taken) >= MAX_FILES:
            self._note(f"more than {MAX_FILES} artefacts; {relative} was ignored")
            return
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=folder)
        except FileNotFoundError:
            return
        except OSError:
            self.taken.add(relative)
            self._note(f"{relative} is a link or cannot be opened; ignored")
            return
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            self.taken.add(relative)
            if not stat.S_ISREG(info.st_mode):
                self._note(f"{relative} is not a regular file; ignored")
                return
            room = min(self.max_file_bytes, self.max_total_bytes - self.used_bytes)
            data = _read_at_most(fh, room)
            if data is None:
                self._note(f"{relative} is larger than the {room:,} bytes left for artefacts")
                return
        self.used_bytes += len(data)
        target = self.dest / relative
        target.parent.mkdir(mode=0o755, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        tmp.replace(target)

    def _note(self, line: str) -> None:
        if line not in self.notes:
            self.notes.append(line)


def _read_at_most(fh: t.BinaryIO, limit: int) -> bytes | None:
    """The whole file, or None if it is longer than ``limit`` (it may grow while read)."""
    parts, size = [], 0
    while chunk := fh.read(min(CHUNK, limit + 1 - size)):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(parts)
