"""Read ``.npz`` files a student's kernel wrote, within a memory bound decided before reading.

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
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise UnreadableArrays(f"{name}: unknown npy format {version}")
    if dtype.hasobject:
        raise UnreadableArrays(f"{name}: holds Python objects, not numbers")
    return math.prod(int(d) for d in shape) * dtype.itemsize
