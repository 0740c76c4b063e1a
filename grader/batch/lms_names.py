"""How each LMS names the files of its bulk download, and who handed each one in.

Each parser reads the student from a path *relative to the hand-in folder* and returns None when
the path is not in that platform's shape; :mod:`grader.batch.discover` tries them in turn.

- **Canvas** "Download Submissions": ``<sortable name>[_LATE]_<user id>_<attachment id>_<file>``.
  The sortable name is Canvas' slug of "Last, First" and may hold any letters
  (``müllerjürgen``, ``王小明``) or underscores; with anonymous grading it is ``anon_<anonymous
  id>`` and no user id follows. Canvas itself reads the ids back (re-uploading feedback) as the
  first two parts of ``name.split("_")`` that are all digits
  (``Assignment#infer_comment_context_from_filename`` in instructure/canvas-lms,
  ``split_filename.grep(/^\\d+$/).take(2)``); we do the same, so any name Canvas produces parses.
  A re-submitted file's display name gets ``-1``, ``-2`` before its extension.
- **Moodle** "Download all submissions" (mod/assign, ``download_submissions`` in
  moodle/moodle ``mod/assign/locallib.php``): one folder per participant,
  ``<Full Name>_<participant id>_assignsubmission_file_/<file>``, or, with "download
  submissions in folders" off, flat files
  ``<Full Name>_<participant id>_assignsubmission_file_<file>``.
  With blind marking the name is ``Participant``. The participant id is what the grading
  worksheet's ``Identifier`` column holds (``Participant 123456``).
- **nbgrader** (jupyter/nbgrader's exchange and course directory):
  ``submitted/<student id>/<assignment>/<notebook>.ipynb``.
- **Blackboard** Learn's "Download Assignment":
  ``<assignment>_<username>_attempt_<YYYY-MM-DD-hh-mm-ss>_<file>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

_DIGITS = re.compile(r"^\d+$")
_MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$",
    re.DOTALL,
)
_RESUBMITTED = re.compile(r"-\d+$")


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
    """The file's own name as the student uploaded it (Canvas' and Moodle's prefix removed)."""
    late: bool = False
    """Canvas' ``_LATE`` marker."""
    upload: int = 0
    """Canvas' attachment id, Blackboard's attempt time: a later upload has a larger one."""


def canvas_owner(relative: PurePath) -> Owner | None:
    """The Canvas user (or anonymous id) of a file from Canvas' submissions zip.

    >>> canvas_owner(PurePath("müllerjürgen_LATE_12345_67890_hw-1.ipynb"))
    Owner(platform='canvas', student_id='12345', name='', file_name='hw-1.ipynb', late=True, upload=67890)
    >>> canvas_owner(PurePath("anon_x7Kq9_67890_hw.ipynb")).student_id
    'anon_x7Kq9'
    >>> canvas_owner(PurePath("hw3.ipynb")) is None
    True
    """  # noqa: E501
    parts = relative.name.split("_")
    if len(parts) >= 4 and parts[0].lower() == "anon" and parts[1]:
        # Anonymous grading: Canvas hides the user id; the anonymous id is the only key.
        rest = parts[2:]
        late = bool(rest) and rest[0] == "LATE"
        rest = rest[1:] if late else rest
        if len(rest) >= 2 and _DIGITS.match(rest[0]) and rest[1]:
            return Owner("canvas", f"anon_{parts[1]}", "", "_".join(rest[1:]), late, int(rest[0]))
        return None
    numbers = [i for i, part in enumerate(parts) if _DIGITS.match(part)]
    # Canvas always writes the user id and the attachment id side by side after a name, and a
    # file name after them: anything else is a student's own file name with digits in it.
    if len(numbers) < 2 or numbers[0] == 0 or numbers[1] != numbers[0] + 1:
        return None
    user, upload = numbers[0], numbers[1]
    if upload + 1 >= len(parts) or not "_".join(parts[upload + 1 :]):
        return None
    late = parts[user - 1] == "LATE"
    return Owner("canvas", parts[user], "", "_".join(parts[upload + 1 :]), late, int(parts[upload]))


def moodle_owner(relative: PurePath) -> Owner | None:
    """The Moodle participant of a file from "Download all submissions".

    >>> moodle_owner(PurePath("Ada Lovelace_4411_assignsubmission_file_/hw.ipynb"))
    Owner(platform='moodle', student_id='4411', name='Ada Lovelace', file_name='hw.ipynb', late=False, upload=0)
    >>> moodle_owner(PurePath("Ada Lovelace_4411_assignsubmission_file_hw.ipynb")).file_name
    'hw.ipynb'
    """  # noqa: E501
    for depth, part in enumerate(relative.parts):
        match = _MOODLE.match(part)
        if match is None:
            continue
        inner = relative.parts[depth + 1 :]
        file_name = "/".join(inner) if inner else match["rest"]
        if not file_name:
            return None
        name = match["name"]
        return Owner("moodle", match["participant"], name, file_name)
    return None


def nbgrader_owner(relative: PurePath, *, folder_name: str = "") -> Owner | None:
    """The nbgrader student of ``submitted/<student>/<assignment>/<notebook>``.

    Args:
        relative: the path inside the hand-in folder.
        folder_name: the hand-in folder's own name (the instructor may point at
            ``submitted/`` itself).

    >>> nbgrader_owner(PurePath("course/submitted/ada/ps1/ps1.ipynb")).student_id
    'ada'
    >>> nbgrader_owner(PurePath("ada/ps1/ps1.ipynb"), folder_name="submitted").student_id
    'ada'
    """
    parts = ((folder_name,) if folder_name else ()) + relative.parts
    if len(parts) < 4 or parts[-4] != "submitted" or not parts[-3] or not parts[-2]:
        return None
    return Owner("nbgrader", parts[-3], "", parts[-1])


def plain_name(file_name: str) -> str:
    """A file name without Canvas' re-submission suffix, lower case: ``HW-2.ipynb`` -> ``hw.ipynb``.

    >>> plain_name("Transfer-12.IPYNB")
    'transfer.ipynb'
    """
    path = PurePath(file_name.lower())
    return _RESUBMITTED.sub("", path.stem) + path.suffix


_BLACKBOARD = re.compile(
    r"^(?P<assignment>.+)_(?P<user>[^_]+)_attempt_"
    r"(?P<when>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+))?$",
    re.DOTALL,
)


def blackboard_owner(relative: PurePath) -> Owner | None:
    """The Blackboard user of a file from Grade Center's "Download Assignment" zip.

    Blackboard Learn names each file ``<assignment>_<username>_attempt_<YYYY-MM-DD-hh-mm-ss>_
    <file>`` (and writes a ``.txt`` receipt without the ``_<file>`` part). The attempt's time
    orders re-submissions.

    >>> blackboard_owner(PurePath("HW 3_jsmith_attempt_2024-03-01-10-00-00_hw.ipynb"))
    Owner(platform='blackboard', student_id='jsmith', name='', file_name='hw.ipynb', late=False, upload=20240301100000)
    """  # noqa: E501
    match = _BLACKBOARD.match(relative.name)
    if match is None or not match["file"]:
        return None
    when = int(match["when"].replace("-", ""))
    return Owner("blackboard", match["user"], "", match["file"], upload=when)
