"""The folder a command writes into, proved writable before any work is done."""

from __future__ import annotations

import tempfile
from pathlib import Path

from grader.exceptions import OutputFolderError


def prepare_output_folder(path: Path, *, advice: str = "") -> Path:
    """Create ``path`` if it is missing and prove that a file can be written in it.

    A permission check (``os.access``) is not enough: it answers yes to root for a read-only
    file system, ``/proc`` or ``/sys``, so a file is really created and removed.

    Args:
        path: the folder.
        advice: what the user should do instead (the error's default names ``--out``).

    Returns:
        ``path``.

    Raises:
        OutputFolderError: ``path`` is a file, or cannot be created or written in.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputFolderError(path, "it is a file, not a folder", advice=advice)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(
            path, f"cannot create it: {exc.strerror or exc}", advice=advice
        ) from exc
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".grader-probe-"):
            pass
    except OSError as exc:
        raise OutputFolderError(
            path, f"cannot write in it: {exc.strerror or exc}", advice=advice
        ) from exc
    return path
