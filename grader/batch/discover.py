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
  submission; the metadata names the submitters and their student ids (``:sid:``).
- In a plain folder the notebook's file stem is the id.

One student gets one row: when an LMS hand-in holds several notebooks of one student (a
re-upload, a scratch copy), :func:`choose` keeps one and the others are listed as set aside,
because every gradebook import keys rows by student and would keep an arbitrary one of two.

Hand-in files are never followed through symbolic links: a link, a device or a pipe in a
hand-in is listed as ignored, and notebooks are read with ``O_NOFOLLOW`` (:func:`read_handin`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import typing as t
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.batch.lms_names import (
    PLATFORMS,
    Owner,
    blackboard_assignment,
    blackboard_owner,
    canvas_owner,
    moodle_owner,
    nbgrader_owner,
    plain_name,
)
from grader.exceptions import ArchiveError, InputError
from grader.export.layout import safe_id

if t.TYPE_CHECKING:
    from grader.rubric import Assignment

GRADESCOPE_METADATA = "submission_metadata.yml"


@dataclass(frozen=True)
class Submission:
    """One student's notebook, found in a class hand-in."""

    student_id: str
    """Names the output folder ``OUT/<student_id>/`` and the gradebook row."""
    path: Path
    """The notebook on disk (inside the staging folder when it came from a zip)."""
    origin: str
    """Where it was found: ``folder``, ``canvas``, ``moodle``, ``nbgrader``, ``blackboard``,
    ``gradescope``, or ``single`` (one student's files, :func:`discover`'s ``single``)."""
    name: str = ""
    """The student's name when the hand-in or the roster says it."""
    late: bool = False
    """Canvas marked the file ``LATE``."""
    upload: int = 0
    """Orders one student's uploads, later larger: Canvas' attachment id, Blackboard's attempt
    time; 0 elsewhere."""
    lms_id: str = ""
    """The id exactly as the platform wrote it (Canvas user id or ``anon_<id>``, Moodle
    participant id, Blackboard username, nbgrader or Gradescope id); the LMS files key rows by
    it. "" in a plain folder."""
    prefix: str = ""
    """What the platform wrote before the student's own file name (Canvas, Blackboard)."""

    @property
    def digest(self) -> str:
        """SHA-256 of the notebook's bytes."""
        return hashlib.sha256(read_handin(self.path)).hexdigest()

    @property
    def file_name(self) -> str:
        """The file's name as the student uploaded it (the platform's prefix removed)."""
        name = self.path.name
        return name[len(self.prefix) :] if self.prefix and name.startswith(self.prefix) else name


def read_handin(path: Path) -> bytes:
    """A hand-in file's bytes, read without following a symbolic link.

    Raises:
        InputError: the file is a link, or not a regular file (a device, a pipe).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(
            f"{path}: not read ({exc.strerror}); a hand-in file must be a plain file, not a link"
        ) from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InputError(f"{path}: not a regular file; not read")
        return fh.read()


@dataclass(frozen=True)
class Expected:
    """What the assignment's notebook looks like, to choose among one student's notebooks."""

    assignment: str = ""
    """The assignment id the released notebook carries in ``metadata.grader.assignment``."""
    names: tuple[str, ...] = ()
    """File names the notebook is expected to have (lower case), such as ``student.ipynb``."""


@dataclass(frozen=True)
class Discovery:
    """What a class hand-in held."""

    submissions: list[Submission]
    ignored: list[str]
    """Files that are not notebooks (a student's ``.py``, a PDF), named for the summary."""
    set_aside: list[str] = dataclasses.field(default_factory=list)
    """Notebooks not graded because another notebook of the same student is (:func:`choose`),
    each with the reason."""


def discover(
    sources: t.Sequence[Path],
    staging: Path,
    *,
    exclude: t.Sequence[Path] = (),
    expected: Expected = Expected(),
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
        :func:`choose`); the same file stem twice in a plain folder gets a ``-2`` suffix.

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
    found, set_aside = _one_per_student(found, expected)
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
    metadata = _find_gradescope_metadata(folder)
    if lms in (None, "gradescope") and metadata is not None:
        return _gradescope(metadata)
    notebooks: list[Path] = []
    ignored: list[str] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if _hidden(relative) or any(path.resolve().is_relative_to(e) for e in exclude):
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


def choose(notebooks: t.Sequence[Submission], expected: Expected) -> Submission:
    """The one notebook of a student's several that is graded.

    In order: the notebook the assignment released (its ``metadata.grader.assignment`` is the
    assignment's id), then one with the expected file name (Canvas' ``-1`` re-upload suffix
    aside), then the later upload (Canvas' larger attachment id), then the first by path.
    A student who hands in a scratch copy beside the assignment gets the assignment graded;
    one who re-uploads gets the latest graded, as the LMS itself shows it. (Blackboard grades
    the latest attempt: :func:`_one_per_student` keeps only its files before choosing.)
    """

    if len(notebooks) == 1:
        return notebooks[0]  # nothing to choose: the notebook is not even opened

    def rank(sub: Submission) -> tuple[int, int, int, str]:
        released = bool(expected.assignment) and _assignment_of(sub.path) == expected.assignment
        named = plain_name(sub.file_name) in expected.names
        return (-int(released), -int(named), -sub.upload, str(sub.path))

    return min(notebooks, key=rank)


_METADATA_LIMIT = 64 * 1024 * 1024


def _assignment_of(path: Path) -> str:
    """``metadata.grader.assignment`` of a notebook; "" when it has none or is not JSON."""
    import json

    try:
        if path.lstat().st_size > _METADATA_LIMIT:
            return ""
        data = json.loads(read_handin(path))
        value = data["metadata"]["grader"]["assignment"]
    except (OSError, InputError, ValueError, TypeError, KeyError, RecursionError):
        return ""
    return value if isinstance(value, str) else ""


def _one_per_student(
    subs: list[Submission], expected: Expected
) -> tuple[list[Submission], list[str]]:
    """Keep one notebook per LMS student; name the others for the summary."""
    by_student: dict[tuple[str, str], list[Submission]] = {}
    kept: list[Submission] = []
    for sub in subs:
        if sub.origin == "folder":
            kept.append(sub)  # a plain folder's ids are file stems, not students
        else:
            # Gradescope's ids are its own; the LMS ones cannot collide across platforms in one
            # hand-in, but a Canvas id and a Moodle id of two students may be equal.
            # Keyed by the id the platform wrote: two usernames may map to one safe id.
            by_student.setdefault((sub.origin, sub.lms_id or sub.student_id), []).append(sub)
    ignored: list[str] = []
    for (origin, student), notebooks in sorted(by_student.items()):
        candidates = notebooks
        if origin == "blackboard":
            # Blackboard grades a student's last attempt; its files are the candidates.
            latest = max(n.upload for n in notebooks)
            candidates = [n for n in notebooks if n.upload == latest]
        chosen = choose(candidates, expected)
        kept.append(chosen)
        ignored += [
            f"{n.path.name} (student {student}: {chosen.path.name} is graded)"
            for n in sorted(notebooks, key=lambda n: str(n.path))
            if n is not chosen
        ]
    return kept, ignored


def _hidden(relative: Path) -> bool:
    # macOS zips carry __MACOSX/ resource forks; Jupyter leaves .ipynb_checkpoints/ copies.
    return any(
        part.startswith(".") or part == "__MACOSX" or part == ".ipynb_checkpoints"
        for part in relative.parts
    )


def _find_gradescope_metadata(folder: Path) -> Path | None:
    # Gradescope's export zip wraps everything in one top-level folder.
    for candidate in (folder / GRADESCOPE_METADATA, *folder.glob(f"*/{GRADESCOPE_METADATA}")):
        if candidate.is_file():
            return candidate
    return None


def _gradescope(metadata_path: Path) -> tuple[list[Submission], list[str]]:
    metadata = read_gradescope_metadata(metadata_path)
    root = metadata_path.parent
    subs: list[Submission] = []
    ignored: list[str] = []
    for folder_name, record in sorted(metadata.items()):
        folder = root / folder_name
        if not folder.is_dir():
            continue
        files = [p for p in sorted(folder.rglob("*")) if not _hidden(p.relative_to(root))]
        regular = [p for p in files if stat.S_ISREG(p.lstat().st_mode)]
        notebooks = [p for p in regular if p.suffix.lower() == ".ipynb"]
        ignored += [str(p.relative_to(root)) for p in regular if p.suffix.lower() != ".ipynb"]
        ignored += [
            f"{p.relative_to(root)} (a link or a special file: not read)"
            for p in files
            if not stat.S_ISREG(p.lstat().st_mode) and not stat.S_ISDIR(p.lstat().st_mode)
        ]
        if not notebooks:
            ignored.append(f"{folder_name}/ (no notebook)")
            continue
        submitters = record.get(":submitters") or [{}]
        first = submitters[0] if isinstance(submitters[0], dict) else {}
        sid = str(first.get(":sid") or first.get(":email") or folder_name)
        name = str(first.get(":name") or "")
        # Every notebook is a candidate; one per student is kept (see `choose`).
        subs += [Submission(safe_id(sid), p, "gradescope", name, lms_id=sid) for p in notebooks]
    return subs, ignored


def _tolerant_loader() -> type[t.Any]:
    """A YAML safe loader that reads Ruby-tagged nodes (``!ruby/object``) as plain data."""
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def plain(loader: t.Any, suffix: str, node: t.Any) -> t.Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", plain)
    return Loader


def read_gradescope_metadata(path: Path) -> dict[str, dict[str, t.Any]]:
    """Read ``submission_metadata.yml`` (Ruby-style ``:key:`` names, possibly Ruby tags).

    Raises:
        InputError: the file is not YAML or not a mapping of submission folders.
    """
    import yaml

    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_tolerant_loader())  # noqa: S506
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc}); re-export it from Gradescope") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of submission folders; re-export it")
    return {str(k): v for k, v in raw.items() if isinstance(v, dict)}


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


def expected_notebook(spec: Assignment) -> Expected:
    """What ``spec``'s notebook looks like: its id in the metadata, its released file name."""
    names = {spec.student_notebook.name.lower(), f"{spec.id}.ipynb".lower()}
    return Expected(spec.id, tuple(sorted(names)))
