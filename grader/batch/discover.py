"""Find the submissions of a class: a folder, a Canvas, Moodle or Blackboard zip, a Gradescope
export, an nbgrader course.

Each submission gets a student id, which names its output folder:

- One platform per hand-in, chosen once: from the export's own structure (Gradescope's
  ``submission_metadata.yml``, nbgrader's ``submitted/``, else the LMS naming that every
  notebook follows), or named by ``grader grade --lms``. Every file is then read with that
  platform's naming only (:mod:`grader.batch.lms_names`), from the part of its path the
  platform wrote; a file not in that shape is listed as ignored, never graded under an id a
  student wrote.
- A Gradescope export holds ``submission_metadata.yml`` and one ``submission_<n>/`` folder per
  submission; the metadata names the submitters and their student ids (``:sid:``)
  (:mod:`grader.batch.gradescope_export`).
- In a plain folder the notebook's file stem is the id.

One student gets one row: when an LMS hand-in holds several notebooks of one student (a
re-upload, a scratch copy), :func:`~grader.batch.choose.choose` keeps one and the others are
listed as set aside, because every gradebook import keys rows by student and would keep an
arbitrary one of two.

Hand-in files are never followed through symbolic links: a link, a device or a pipe in a
hand-in is listed as ignored, and notebooks are read with ``O_NOFOLLOW``
(:func:`~grader.batch.submission.read_handin`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import stat
import typing as t
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.batch.choose import ANY_NOTEBOOK, Expected, one_per_student
from grader.batch.gradescope_export import find_gradescope_metadata, gradescope_submissions
from grader.batch.lms_names import (
    PLATFORMS,
    Owner,
    blackboard_assignment,
    blackboard_owner,
    canvas_owner,
    moodle_owner,
    nbgrader_owner,
)
from grader.batch.submission import Submission, hidden
from grader.exceptions import ArchiveError, InputError
from grader.export.layout import safe_id


@dataclass(frozen=True)
class Discovery:
    """What a class hand-in held."""

    submissions: list[Submission]
    ignored: list[str]
    """Files that are not notebooks (a student's ``.py``, a PDF), named for the summary."""
    set_aside: list[str] = dataclasses.field(default_factory=list)
    """Notebooks not graded because another notebook of the same student is
    (:func:`~grader.batch.choose.choose`), each with the reason."""


def discover(
    sources: t.Sequence[Path],
    staging: Path,
    *,
    exclude: t.Sequence[Path] = (),
    expected: Expected = ANY_NOTEBOOK,
    single: bool = False,
    lms: str | None = None,
) -> Discovery:
    """List the submissions in notebooks, folders and zip files.

    Args:
        sources: notebooks, folders (plain, Gradescope export, Moodle download, nbgrader
            course) and zip files (Canvas, Moodle or Gradescope), in any mix.
        staging: where zip files are extracted, one sub-folder per zip.
        exclude: folders whose notebooks are never submissions (the grader's output folder,
            which may lie inside a hand-in folder and holds ``executed.ipynb`` copies).
        expected: the assignment's notebook, to choose one of a student's notebooks.
        single: every notebook found is one student's (Gradescope's ``/autograder/submission``):
            keep one, set the others aside.
        lms: the platform whose naming every folder follows (one of
            :data:`~grader.batch.lms_names.PLATFORMS`); None: found from each folder's shape.

    Returns:
        Submissions sorted by student id. A student known to an LMS has one submission (see
        :func:`~grader.batch.choose.choose`); the same file stem twice in a plain folder gets a
        ``-2`` suffix.

    Raises:
        InputError: a path does not exist, a zip is unreadable or holds unsafe paths, a
            folder holds no notebooks, or ``lms`` is unknown.
    """
    if lms is not None and lms not in PLATFORMS:
        raise InputError(f"--lms {lms}: unknown; use one of {', '.join(PLATFORMS)}")
    found: list[Submission] = []
    ignored: list[str] = []
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise InputError(f"{source}: no such file")
        given = source
        if source.is_file() and source.suffix.lower() == ".zip":
            source = extract_zip(source, staging)
        if source.is_dir():
            excluded = [Path(p).resolve() for p in exclude]
            # One student's files (Gradescope's): every notebook is a candidate, whatever its name.
            subs, skipped = _discover_folder(source, excluded, lms="folder" if single else lms)
            if not subs:
                # Named as the user gave it: a zip's extracted copy is the grader's business.
                kind = "zip" if given != source else "folder"
                unnamed = [s for s in skipped if ".ipynb (not " in s]
                raise InputError(
                    f"{given}: no .ipynb files in this {kind}"
                    + (
                        f" that name a student ({unnamed[0]}); --lms chooses the platform"
                        if unnamed
                        else ""
                    )
                )
            found += subs
            ignored += skipped
        else:
            # Named by the instructor: a link is theirs to follow.
            found.append(Submission(safe_id(source.stem), source.resolve(), "folder"))
    if single and found:
        found = [dataclasses.replace(f, origin="single", student_id="submission") for f in found]
    found, set_aside = one_per_student(found, expected)
    return Discovery(_unique(found), ignored, set_aside)


def extract_zip(path: Path, staging: Path) -> Path:
    """Extract an LMS zip under ``staging``, refusing members that would land outside it.

    Re-extracting the same zip (same bytes) reuses the earlier folder, so a resumed batch sees
    the very same files.

    Raises:
        ArchiveError: the zip cannot be read, is damaged, encrypted, empty, or holds a path
            that would land outside ``staging``.
    """
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError as exc:
        raise ArchiveError(path, f"cannot be read ({exc.strerror or exc})") from exc
    target = staging / f"{safe_id(path.stem)}-{digest}"
    if target.is_dir():
        return target
    partial = staging / f".{target.name}.partial"
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            if not members:
                raise ArchiveError(path, "it holds no files")
            for member in members:
                parts = PurePosixPath(member.replace("\\", "/")).parts
                if member.startswith(("/", "\\")) or ".." in parts or ":" in member:
                    raise ArchiveError(path, f"it holds the unsafe path {member!r}")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            archive.extractall(partial)
    # What zipfile raises for a damaged archive: a bad header or CRC, a truncated or corrupt
    # member (zlib, EOF), an encrypted one (RuntimeError), an unknown compression method.
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ArchiveError(path, f"not a readable zip file ({exc})") from exc
    # Rename last: a batch killed mid-extraction leaves only the .partial folder behind.
    partial.rename(target)
    return target


def _discover_folder(
    folder: Path, exclude: list[Path], *, lms: str | None
) -> tuple[list[Submission], list[str]]:
    # An excluded folder is skipped where it lies *inside* the hand-in (an output folder kept
    # next to the notebooks). A hand-in inside an excluded folder, such as a zip extracted under
    # the output folder's staging area, is searched like any other.
    inside = folder.resolve()
    exclude = [e for e in exclude if e == inside or not inside.is_relative_to(e)]
    metadata = find_gradescope_metadata(folder)
    if lms in (None, "gradescope") and metadata is not None:
        return gradescope_submissions(metadata)
    notebooks: list[Path] = []
    ignored: list[str] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if hidden(relative) or any(path.resolve().is_relative_to(e) for e in exclude):
            continue
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
            ignored.append(f"{relative} ({kind}: not read)")
        elif path.suffix.lower() != ".ipynb":
            ignored.append(str(relative))
        else:
            notebooks.append(relative)
    platform = lms or _platform(folder, notebooks)
    read = _reader(platform, folder)
    subs: list[Submission] = []
    for relative in notebooks:
        path = folder / relative
        if platform == "folder":
            subs.append(Submission(safe_id(path.stem), path, "folder"))
            continue
        owner = read(relative)
        if owner is None:
            ignored.append(f"{relative} ({_NOT_ITS[platform]})")
            continue
        subs.append(
            Submission(
                safe_id(owner.student_id),
                path,
                owner.platform,
                owner.name,
                late=owner.late,
                upload=owner.upload,
                lms_id=owner.student_id,
                prefix=owner.prefix,
            )
        )
    return subs, ignored


_NOT_ITS = {
    "nbgrader": "not in nbgrader's submitted/",
    "canvas": "not named as Canvas names its files",
    "moodle": "not in a Moodle participant's folder",
    "blackboard": "not named as Blackboard names this assignment's files",
    "gradescope": "not in Gradescope's submission_metadata.yml",
}


def _reader(platform: str, folder: Path) -> t.Callable[[Path], Owner | None]:
    """The parser of ``platform``'s file names, for paths relative to ``folder``."""
    if platform == "blackboard":
        assignment = blackboard_assignment(folder, (p.name for p in folder.iterdir()))
        if assignment is None:
            return lambda relative: None
        return lambda relative: blackboard_owner(relative, assignment)
    if platform == "nbgrader":
        return lambda relative: nbgrader_owner(relative, folder_name=folder.name)
    if platform in ("gradescope", "folder"):
        return lambda relative: None  # Gradescope: only its metadata names anyone
    return {"canvas": canvas_owner, "moodle": moodle_owner}[platform]


_SPECIFIC_FIRST = ("moodle", "blackboard", "canvas")
"""LMS namings from the most to the least specific: Moodle's ``_assignsubmission_`` and
Blackboard's ``_attempt_<time>`` cannot appear by chance, Canvas' two numbers can."""


def _platform(folder: Path, notebooks: t.Sequence[Path]) -> str:
    """The platform whose naming ``folder`` follows, from the hand-in's own structure.

    nbgrader's course has ``submitted/`` at its top (or is that folder). Otherwise the hand-in
    is an LMS download when that LMS's naming fits *every* notebook: the LMS writes the start of
    every name, while a student writes only the end of their own, so a student can make another
    naming fit their own files but never a classmate's (however many files they upload). When
    two namings fit every notebook (a Blackboard assignment ``HW_3`` whose usernames are
    numbers also reads as Canvas' two ids), the more specific wins; when none does, the folder
    is a plain one (no id is read from a name).
    """
    submitted = folder / "submitted"
    if folder.name == "submitted" or (submitted.is_dir() and not submitted.is_symlink()):
        return "nbgrader"
    for lms in _SPECIFIC_FIRST:
        read = _reader(lms, folder)
        if notebooks and all(read(n) is not None for n in notebooks):
            return lms
    return "folder"


def _unique(subs: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    out: list[Submission] = []
    for sub in sorted(subs, key=lambda s: (s.student_id, str(s.path))):
        n = seen.get(sub.student_id, 0) + 1
        seen[sub.student_id] = n
        if n > 1:
            sub = dataclasses.replace(sub, student_id=f"{sub.student_id}-{n}")
        out.append(sub)
    return out
