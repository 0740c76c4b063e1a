"""How each LMS names the files of its bulk download, and who handed each one in.

Each parser reads the student from a path *relative to the hand-in folder*, from the part of
the path the platform itself wrote, and returns None when the path is not in that platform's
shape. :mod:`grader.batch.discover` chooses one platform per hand-in and parses every file with
that platform's parser only: a student's own file name (everything after the platform's
prefix) is never read as an identity.

- **Canvas** "Download Submissions" (``ContentZipper#get_filename`` and
  ``#add_upload_submission`` in instructure/canvas-lms ``lib/content_zipper.rb``): a flat zip of
  ``[<sortable name>_][LATE_]<user id>_<attachment id>_<file>``; with anonymous grading the
  name is left out and the id is ``anon_<anonymous id>``, so ``[LATE_]anon_<id>_<attachment
  id>_<file>``. The name is Canvas' slug of "Last, First" with every non-word character
  removed (it may hold letters of any script and ``_``). Canvas reads the ids back
  (re-uploading feedback) as the first two parts of ``name.split("_")`` that are all digits
  (``Assignment#infer_comment_context_from_filename``); we do the same.
- **Moodle** "Download all submissions" (mod/assign, ``download_submissions`` in
  moodle/moodle ``mod/assign/locallib.php``): one folder per participant at the top of the zip,
  ``<Full Name>_<participant id>_assignsubmission_file_/<file>``, or, with "download
  submissions in folders" off, flat files ``<Full Name>_<participant id>_assignsubmission_
  file_<file>``. With blind marking the name is ``Participant``. The participant id is what
  the grading worksheet's ``Identifier`` column holds (``Participant 123456``).
- **nbgrader** (jupyter/nbgrader's course directory): ``submitted/<student id>/<assignment>/
  <notebook>.ipynb``, ``submitted/`` directly in the course folder (or the folder itself).
- **Blackboard** Learn's "Assignment File Download": a flat zip of
  ``<assignment>_<username>_attempt_<YYYY-MM-DD-hh-mm-ss>_<file>``, and a receipt
  ``<assignment>_<username>_attempt_<time>.txt`` per attempt whose first line is
  ``Name: <full name> (<username>)``. The first ``_attempt_<time>`` is Blackboard's (a
  student's file name comes after it); the username is what lies between the assignment's
  name, the same in every file, and that marker (:func:`blackboard_assignment`).
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath

_DIGITS = re.compile(r"^\d+$")
_MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$",
    re.DOTALL,
)
_RESUBMITTED = re.compile(r"-\d+$")
_BLACKBOARD = re.compile(
    # Lazy: the first `_attempt_<time>` is the one Blackboard wrote.
    r"^(?P<prefix>.+?)_attempt_(?P<when>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})"
    r"(?:_(?P<file>.+)|\.txt)?$",
    re.DOTALL,
)
_RECEIPT_NAME = re.compile(r"^Name:.*\((?P<user>[^()\s]+)\)\s*$")
_RECEIPT_BYTES = 4096

PLATFORMS = ("canvas", "moodle", "blackboard", "nbgrader", "gradescope", "folder")
"""The hand-in shapes ``grader grade --lms`` accepts (``folder``: file stems are the ids)."""


@dataclass(frozen=True)
class Owner:
    """Who handed a file in, as the platform's file names say."""

    platform: str
    """``canvas``, ``moodle``, ``nbgrader`` or ``blackboard``."""
    student_id: str
    """Canvas user id (or ``anon_<id>``), Moodle participant id, nbgrader student id,
    Blackboard username."""
    name: str = ""
    """The student's name where the platform writes it (Moodle's full name)."""
    file_name: str = ""
    """The file's own name as the student uploaded it (the platform's prefix removed)."""
    late: bool = False
    """Canvas' ``LATE`` marker."""
    upload: int = 0
    """Canvas' attachment id, Blackboard's attempt time: a later upload has a larger one."""
    prefix: str = ""
    """What the platform wrote before the student's file name (Canvas: ``lovelace_12345_67890_``),
    to name a feedback file the platform attaches to the same submission."""


def canvas_owner(relative: PurePath) -> Owner | None:
    """The Canvas user (or anonymous id) of a file from Canvas' submissions zip.

    >>> canvas_owner(PurePath("müllerjürgen_LATE_12345_67890_hw-1.ipynb")).student_id
    '12345'
    >>> canvas_owner(PurePath("LATE_anon_x7Kq9_67890_hw.ipynb")).student_id
    'anon_x7Kq9'
    >>> canvas_owner(PurePath("hw3.ipynb")) is None
    True
    """
    if len(relative.parts) != 1:
        return None  # Canvas' zip is flat
    parts = relative.name.split("_")
    late = parts[0] == "LATE"
    rest = parts[1:] if late else parts
    if (
        len(rest) >= 4
        and rest[0] == "anon"
        and rest[1]
        and not _DIGITS.match(rest[1])
        and _DIGITS.match(rest[2])
        and "_".join(rest[3:])
    ):
        # Anonymous grading: no name, and the anonymous id instead of the user id. (An id of
        # digits only is read as Canvas itself reads it back: a user id.)
        prefix = "_".join(parts[: len(parts) - len(rest) + 3]) + "_"
        return Owner(
            "canvas", f"anon_{rest[1]}", "", "_".join(rest[3:]), late, int(rest[2]), prefix
        )
    numbers = [i for i, part in enumerate(parts) if _DIGITS.match(part)]
    # The user id and the attachment id side by side, a file name after them; a name (or LATE)
    # may come before: anything else is a student's own file name with digits in it.
    if len(numbers) < 2 or numbers[1] != numbers[0] + 1:
        return None
    user, upload = numbers[0], numbers[1]
    if upload + 1 >= len(parts) or not "_".join(parts[upload + 1 :]):
        return None
    late = user >= 1 and parts[user - 1] == "LATE"
    prefix = "_".join(parts[: upload + 1]) + "_"
    file_name = "_".join(parts[upload + 1 :])
    return Owner("canvas", parts[user], "", file_name, late, int(parts[upload]), prefix)


def moodle_owner(relative: PurePath) -> Owner | None:
    """The Moodle participant of a file from "Download all submissions".

    Only the top of the path is Moodle's: a folder a student uploaded inside their own folder
    names nobody.

    >>> moodle_owner(PurePath("Ada Lovelace_4411_assignsubmission_file_/hw.ipynb")).student_id
    '4411'
    >>> moodle_owner(PurePath("Ada Lovelace_4411_assignsubmission_file_hw.ipynb")).file_name
    'hw.ipynb'
    """
    if not relative.parts:
        return None
    match = _MOODLE.match(relative.parts[0])
    if match is None:
        return None
    inner = relative.parts[1:]
    file_name = "/".join(inner) if inner else match["rest"]
    if not file_name:
        return None
    # Flat downloads put Moodle's folder name before the file's own.
    prefix = "" if inner else relative.parts[0][: -len(file_name)]
    return Owner("moodle", match["participant"], match["name"], file_name, prefix=prefix)


def nbgrader_owner(relative: PurePath, *, folder_name: str = "") -> Owner | None:
    """The nbgrader student of ``submitted/<student>/<assignment>/<notebook>``.

    Args:
        relative: the path inside the hand-in folder (the course folder, or ``submitted/``).
        folder_name: the hand-in folder's own name (the instructor may point at
            ``submitted/`` itself).

    >>> nbgrader_owner(PurePath("submitted/ada/ps1/ps1.ipynb")).student_id
    'ada'
    >>> nbgrader_owner(PurePath("ada/ps1/ps1.ipynb"), folder_name="submitted").student_id
    'ada'
    >>> nbgrader_owner(PurePath("submitted/ada/ps1/submitted/bob/ps1/x.ipynb")) is None
    True
    """
    parts = relative.parts
    if folder_name != "submitted":
        # Only `submitted/` directly in the course folder is nbgrader's.
        if len(parts) != 4 or parts[0] != "submitted":
            return None
        parts = parts[1:]
    if len(parts) != 3 or not all(parts):
        return None
    return Owner("nbgrader", parts[0], "", parts[2])


def blackboard_owner(relative: PurePath, assignment: str) -> Owner | None:
    """The Blackboard user of a file from Grade Center's "Assignment File Download" zip.

    Args:
        relative: the path inside the hand-in folder.
        assignment: the assignment's name as Blackboard wrote it at the start of every file
            (:func:`blackboard_assignment`).

    >>> blackboard_owner(PurePath("HW 3_mary_obrien_attempt_2024-03-01-10-00-00_hw.ipynb"), "HW 3")
    ... # doctest: +ELLIPSIS
    Owner(platform='blackboard', student_id='mary_obrien', ..., upload=20240301100000, ...)
    """
    match = _BLACKBOARD.match(relative.name)
    if len(relative.parts) != 1 or match is None or not match["file"]:
        return None
    head = f"{assignment}_"
    if not match["prefix"].startswith(head) or len(match["prefix"]) == len(head):
        return None
    user = match["prefix"][len(head) :]
    when = int(match["when"].replace("-", ""))
    prefix = relative.name[: len(relative.name) - len(match["file"])]
    return Owner("blackboard", user, "", match["file"], upload=when, prefix=prefix)


def blackboard_assignment(folder: Path, names: Iterable[str]) -> str | None:
    """The assignment's name that starts every file of a Blackboard download; None if the
    files are not in Blackboard's shape.

    Blackboard's receipts say the username (``Name: Ada Lovelace (alovelace)``), so a receipt
    ``HW 3_alovelace_attempt_<time>.txt`` gives the assignment ``HW 3`` whatever it and the
    username hold. Without receipts, it is the longest ``_``-ended prefix that every file's
    ``<assignment>_<username>`` shares (a class of one: up to the first ``_``).

    Args:
        folder: the hand-in folder.
        names: the names of the files directly in it.
    """
    prefixes: set[str] = set()
    from_receipts: Counter[str] = Counter()
    for name in names:
        match = _BLACKBOARD.match(name)
        if match is None:
            continue
        prefixes.add(match["prefix"])
        if match["file"] is None and name.endswith(".txt"):
            user = _receipt_user(folder / name)
            if user and match["prefix"].endswith(f"_{user}"):
                from_receipts[match["prefix"][: -len(user) - 1]] += 1
    if from_receipts:
        return from_receipts.most_common(1)[0][0]
    if not prefixes:
        return None
    if len(prefixes) == 1:
        head, sep, _ = next(iter(prefixes)).partition("_")
        return head if sep else None
    # The longest `<head>_` every prefix starts with, leaving a username after it in each.
    shortest = min(prefixes, key=len)
    heads = [shortest[:i] for i, c in enumerate(shortest) if c == "_" and i > 0]
    shared = [h for h in heads if all(p.startswith(f"{h}_") for p in prefixes)]
    return shared[-1] if shared else None


def _receipt_user(path: Path) -> str:
    """The username on the first line of a Blackboard receipt; "" if it has none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return ""
        head = fh.read(_RECEIPT_BYTES).decode("utf-8", "replace")
    match = _RECEIPT_NAME.match(head.splitlines()[0] if head else "")
    return match["user"] if match else ""


def plain_name(file_name: str) -> str:
    """A file name without Canvas' re-submission suffix, lower case: ``HW-2.ipynb`` -> ``hw.ipynb``.

    >>> plain_name("Transfer-12.IPYNB")
    'transfer.ipynb'
    """
    path = PurePath(file_name.lower())
    return _RESUBMITTED.sub("", path.stem) + path.suffix
