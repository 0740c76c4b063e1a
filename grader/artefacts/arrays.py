"""Read ``.npz`` files: a student's kernel's within a memory bound decided before reading, and
the grader's own (the data a kernel was given) mapped instead of read.

``np.load`` trusts each array's header: a 3 MB file can declare a 3 GiB array, and reading it
allocates that much. Here every member's header is read first, its declared size added up
against the bound, and only then are the arrays read (never with pickles).
"""

from __future__ import annotations

import math
import typing as t
import zipfile
from pathlib import Path

import numpy as np

MAX_MEMBERS = 10_000


class UnreadableArrays(ValueError):  # a finding about a student's file, not a grader error
    """An ``.npz`` file is malformed, holds objects, or declares more data than allowed."""


def read_npz(path: Path, *, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of ``path`` by name, if together they declare at most ``max_bytes``.

    Raises:
        UnreadableArrays: not an npz of plain numeric arrays within the bound.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise UnreadableArrays(f"{path.name} holds {len(members)} arrays")
            declared = 0
            for member in members:
                if not member.filename.endswith(".npy"):
                    raise UnreadableArrays(f"{path.name}: {member.filename!r} is not an array")
                with archive.open(member) as fh:
                    declared += _declared_bytes(fh, member.filename)
                if declared > max_bytes:
                    raise UnreadableArrays(
                        f"{path.name} declares more than {max_bytes:,} bytes of arrays"
                    )
            arrays = {}
            for member in members:
                with archive.open(member) as fh:
                    arrays[member.filename[: -len(".npy")]] = np.lib.format.read_array(
                        fh, allow_pickle=False
                    )
            return arrays
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise UnreadableArrays(f"{path.name} is not a readable npz file ({exc})") from exc
    except ValueError as exc:
        if isinstance(exc, UnreadableArrays):
            raise
        raise UnreadableArrays(f"{path.name}: {exc}") from exc


def _declared_bytes(fh: t.IO[bytes], name: str) -> int:
    header = _npy_header(fh)
    if header is None:
        raise UnreadableArrays(f"{name}: unknown npy format")
    shape, _, dtype = header
    if dtype.hasobject:
        raise UnreadableArrays(f"{name}: holds Python objects, not numbers")
    return math.prod(int(d) for d in shape) * dtype.itemsize


def mapped_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` the grader wrote, by name, those stored uncompressed
    (:func:`grader.data.sets.save_arrays`) mapped read-only instead of read.

    A judge loads the data its kernel was given (150 MB of CIFAR-10 images) to check the split:
    read, each judge of a batch copied and checksummed it; mapped, it uses the page cache's
    pages, shared by every judge. numpy maps an ``.npy`` file but not an ``.npz``'s members, so
    a member's place in the file is taken from its zip header. A compressed member is read.
    """
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, path.open("rb") as raw:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            mapped = _mapped(path, raw, info) if info.compress_type == zipfile.ZIP_STORED else None
            if mapped is None:
                with archive.open(info) as member:
                    mapped = np.lib.format.read_array(member, allow_pickle=False)
            arrays[name] = mapped
    return arrays


def _mapped(path: Path, raw: t.IO[bytes], info: zipfile.ZipInfo) -> np.ndarray | None:
    """A stored member's array mapped read-only; None for what only reading handles."""
    raw.seek(info.header_offset)
    local = raw.read(30)  # the local file header; its name and extra field follow
    raw.seek(
        info.header_offset
        + 30
        + int.from_bytes(local[26:28], "little")
        + int.from_bytes(local[28:30], "little")
    )
    header = _npy_header(raw)
    if header is None:
        return None
    shape, fortran, dtype = header
    if dtype.hasobject or 0 in shape:
        return None  # refused, or nothing to map: reading says so, or makes it
    order: t.Literal["C", "F"] = "F" if fortran else "C"
    mapped = np.memmap(path, dtype=dtype, mode="r", offset=raw.tell(), shape=shape, order=order)
    plain: np.ndarray = mapped.view(np.ndarray)
    return plain


def _npy_header(fh: t.IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[t.Any]] | None:
    """An ``.npy`` header's shape, Fortran order and dtype; None for a format numpy reads
    headers of only privately (3.0: names beyond Latin-1)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh)
    return None
