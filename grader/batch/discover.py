"""Find the submissions of a class: a folder, a Canvas or Moodle zip, a Gradescope export, an
nbgrader course.

Each submission gets a student id, which names its output folder:

- Canvas, Moodle and nbgrader name files and folders after the student; see
  :mod:`grader.batch.lms_names` for each platform's scheme.
- A Gradescope export holds ``submission_metadata.yml`` and one ``submission_<n>/`` folder per
  submission; the metadata names the submitters and their student ids (``:sid:``).
- In a plain folder the notebook's file stem is the id.

One student gets one row: when an LMS hand-in holds several notebooks of one student (a
re-upload, a scratch copy), :func:`choose` keeps one and the others are listed as ignored,
because every gradebook import keys rows by student and would keep an arbitrary one of two.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import typing as t
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.batch.lms_names import (
    Owner,
    blackboard_owner,
    canvas_owner,
    moodle_owner,
    nbgrader_owner,
    plain_name,
)

# Re-exported: the roster was read here before it had a module of its own.
from grader.batch.roster import RosterEntry as RosterEntry
from grader.batch.roster import read_roster as read_roster
from grader.exceptions import ArchiveError, InputError

if t.TYPE_CHECKING:
    from grader.rubric import Assignment

GRADESCOPE_METADATA = "submission_metadata.yml"
# Letters of any script stay (nbgrader and Blackboard ids may be names); separators, controls
# and punctuation go.
_UNSAFE = re.compile(r"[^\w.-]+")
# Output folders are named after ids; these names would mean something else there.
_RESERVED = {"", ".", ".."}


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

    @property
    def digest(self) -> str:
        """SHA-256 of the notebook's bytes."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


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


def safe_id(text: str) -> str:
    """A file-name-safe version of a student id (keeps letters and digits of any script, ``.``,
    ``_``, ``-``)."""
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._")
    return cleaned if cleaned not in _RESERVED else "submission"


def discover(
    sources: t.Sequence[Path],
    staging: Path,
    *,
    exclude: t.Sequence[Path] = (),
    expected: Expected = Expected(),
    single: bool = False,
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

    Returns:
        Submissions sorted by student id. A student known to an LMS has one submission (see
        :func:`choose`); the same file stem twice in a plain folder gets a ``-2`` suffix.

    Raises:
        InputError: a path does not exist, a zip is unreadable or holds unsafe paths, or a
            folder holds no notebooks.
    """
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
            subs, skipped = _discover_folder(source, [Path(p).resolve() for p in exclude])
            if not subs:
                # Named as the user gave it: a zip's extracted copy is the grader's business.
                kind = "zip" if given != source else "folder"
                raise InputError(f"{given}: no .ipynb files in this {kind}")
            found += subs
            ignored += skipped
        else:
            found.append(Submission(safe_id(source.stem), source, "folder"))
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


def _discover_folder(folder: Path, exclude: list[Path]) -> tuple[list[Submission], list[str]]:
    # An excluded folder is skipped where it lies *inside* the hand-in (an output folder kept
    # next to the notebooks). A hand-in inside an excluded folder, such as a zip extracted under
    # the output folder's staging area, is searched like any other.
    inside = folder.resolve()
    exclude = [e for e in exclude if e == inside or not inside.is_relative_to(e)]
    metadata = _find_gradescope_metadata(folder)
    if metadata is not None:
        return _gradescope(metadata)
    subs: list[Submission] = []
    ignored: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if _hidden(path.relative_to(folder)) or any(
            path.resolve().is_relative_to(e) for e in exclude
        ):
            continue
        if path.suffix.lower() != ".ipynb":
            ignored.append(str(path.relative_to(folder)))
            continue
        owner = _owner(path.relative_to(folder), folder.name)
        if owner is None:
            subs.append(Submission(safe_id(path.stem), path, "folder"))
        else:
            subs.append(
                Submission(
                    safe_id(owner.student_id),
                    path,
                    owner.platform,
                    owner.name,
                    late=owner.late,
                    upload=owner.upload,
                )
            )
    if any(s.origin == "nbgrader" for s in subs):
        # An nbgrader course also holds source/, release/, autograded/ and feedback/ copies in
        # the same layout: only submitted/ holds hand-ins.
        ignored += [
            f"{s.path.relative_to(folder)} (not in nbgrader's submitted/)"
            for s in subs
            if s.origin != "nbgrader"
        ]
        subs = [s for s in subs if s.origin == "nbgrader"]
    return subs, ignored


def _owner(relative: Path, folder_name: str) -> Owner | None:
    # Moodle's and nbgrader's shapes are specific (a fixed folder suffix, a `submitted/` level);
    # Canvas' only needs two numbers in a file name, so it is tried last.
    return (
        moodle_owner(relative)
        or nbgrader_owner(relative, folder_name=folder_name)
        or blackboard_owner(relative)
        or canvas_owner(relative)
    )


def choose(notebooks: t.Sequence[Submission], expected: Expected) -> Submission:
    """The one notebook of a student's several that is graded.

    In order: the notebook the assignment released (its ``metadata.grader.assignment`` is the
    assignment's id), then one with the expected file name (Canvas' ``-1`` re-upload suffix
    aside), then the later upload (Canvas' larger attachment id), then the first by path.
    A student who hands in a scratch copy beside the assignment gets the assignment graded;
    one who re-uploads gets the latest graded, as the LMS itself shows it.
    """

    if len(notebooks) == 1:
        return notebooks[0]  # nothing to choose: the notebook is not even opened

    def rank(sub: Submission) -> tuple[int, int, int, str]:
        released = bool(expected.assignment) and _assignment_of(sub.path) == expected.assignment
        named = plain_name(_display_name(sub)) in expected.names
        return (-int(released), -int(named), -sub.upload, str(sub.path))

    return min(notebooks, key=rank)


def _display_name(sub: Submission) -> str:
    parse = {"canvas": canvas_owner, "blackboard": blackboard_owner}.get(sub.origin)
    owner = parse(Path(sub.path.name)) if parse else None
    return owner.file_name if owner else sub.path.name


_METADATA_LIMIT = 64 * 1024 * 1024


def _assignment_of(path: Path) -> str:
    """``metadata.grader.assignment`` of a notebook; "" when it has none or is not JSON."""
    import json

    try:
        if path.stat().st_size > _METADATA_LIMIT:
            return ""
        data = json.loads(path.read_bytes())
        value = data["metadata"]["grader"]["assignment"]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
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
            by_student.setdefault((sub.origin, sub.student_id), []).append(sub)
    ignored: list[str] = []
    for (_, student), notebooks in sorted(by_student.items()):
        chosen = choose(notebooks, expected)
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
        notebooks = sorted(p for p in folder.rglob("*.ipynb") if not _hidden(p.relative_to(root)))
        ignored += [
            str(p.relative_to(root))
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix.lower() != ".ipynb"
        ]
        if not notebooks:
            ignored.append(f"{folder_name}/ (no notebook)")
            continue
        submitters = record.get(":submitters") or [{}]
        first = submitters[0] if isinstance(submitters[0], dict) else {}
        sid = str(first.get(":sid") or first.get(":email") or folder_name)
        name = str(first.get(":name") or "")
        # Every notebook is a candidate; one per student is kept (see `choose`).
        subs += [Submission(safe_id(sid), p, "gradescope", name) for p in notebooks]
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
