"""Find the submissions of a class: a folder, a Canvas zip, or a Gradescope export.

Each submission gets a student id, which names its output folder:

- Canvas' "download submissions" zip names files ``lastname_12345_67890_notebook.ipynb``
  (``lastname_LATE_12345_...`` when late): ``12345`` is the Canvas user id.
- A Gradescope export holds ``submission_metadata.yml`` and one ``submission_<n>/`` folder per
  submission; the metadata names the submitters and their student ids (``:sid:``).
- In a plain folder the notebook's file stem is the id.

A roster CSV maps ids to names and, for the Canvas gradebook, to SIS ids and sections.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import typing as t
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.exceptions import InputError

CANVAS_NAME = re.compile(
    r"^(?P<name>[a-z0-9-]+?)(?:_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$",
    re.IGNORECASE,
)
GRADESCOPE_METADATA = "submission_metadata.yml"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
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
    """Where it was found: ``folder``, ``canvas`` or ``gradescope``."""
    name: str = ""
    """The student's name when the hand-in or the roster says it."""

    @property
    def digest(self) -> str:
        """SHA-256 of the notebook's bytes."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class RosterEntry:
    """A student as the roster knows them; Canvas' gradebook needs every field."""

    id: str
    name: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


@dataclass(frozen=True)
class Discovery:
    """What a class hand-in held."""

    submissions: list[Submission]
    ignored: list[str]
    """Files that are not notebooks (a student's ``.py``, a PDF), named for the summary."""


def safe_id(text: str) -> str:
    """A file-name-safe version of a student id (keeps letters, digits, ``.``, ``_``, ``-``)."""
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._")
    return cleaned if cleaned not in _RESERVED else "submission"


def discover(
    sources: t.Sequence[Path], staging: Path, *, exclude: t.Sequence[Path] = ()
) -> Discovery:
    """List the submissions in notebooks, folders and zip files.

    Args:
        sources: notebooks, folders (plain or Gradescope export) and zip files (Canvas or
            Gradescope), in any mix.
        staging: where zip files are extracted, one sub-folder per zip.
        exclude: folders whose notebooks are never submissions (the grader's output folder,
            which may lie inside a hand-in folder and holds ``executed.ipynb`` copies).

    Returns:
        Submissions sorted by student id; ids are made unique with a ``-2``, ``-3`` suffix.

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
        if source.is_file() and source.suffix.lower() == ".zip":
            source = extract_zip(source, staging)
        if source.is_dir():
            subs, skipped = _discover_folder(source, [Path(p).resolve() for p in exclude])
            if not subs:
                raise InputError(f"{source}: no .ipynb files in this folder")
            found += subs
            ignored += skipped
        else:
            found.append(Submission(safe_id(source.stem), source, "folder"))
    return Discovery(_unique(found), ignored)


def extract_zip(path: Path, staging: Path) -> Path:
    """Extract an LMS zip under ``staging``, refusing members that would land outside it.

    Re-extracting the same zip (same bytes) reuses the earlier folder, so a resumed batch sees
    the very same files.
    """
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        target = staging / f"{safe_id(path.stem)}-{digest}"
        if target.is_dir():
            return target
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                parts = PurePosixPath(member.replace("\\", "/")).parts
                if member.startswith(("/", "\\")) or ".." in parts or ":" in member:
                    raise InputError(
                        f"{path}: holds the unsafe path {member!r}; re-download it from the LMS"
                    )
            partial = staging / f".{target.name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            archive.extractall(partial)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: not a readable zip file ({exc}); re-download it") from exc
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
        match = CANVAS_NAME.match(path.name)
        if match:
            subs.append(Submission(match["user"], path, "canvas"))
        else:
            subs.append(Submission(safe_id(path.stem), path, "folder"))
    return subs, ignored


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
        # One notebook per submission: the assignment is one notebook; extra ones are ignored.
        subs.append(Submission(safe_id(sid), notebooks[0], "gradescope", name))
        ignored += [str(p.relative_to(root)) for p in notebooks[1:]]
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
            sub = Submission(f"{sub.student_id}-{n}", sub.path, sub.origin, sub.name)
        out.append(sub)
    return out


_ROSTER_ID = ("id", "student id", "student_id", "sid", "user id")
_ROSTER_NAME = ("name", "student", "student name")


def read_roster(path: Path) -> dict[str, RosterEntry]:
    """Read a roster CSV: a Canvas gradebook export, or any CSV with ``id`` and ``name`` columns.

    Column names are matched without regard to case. Canvas' ``Points Possible`` row and rows
    without an id are skipped.

    Raises:
        InputError: the file is missing or has no id column.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such roster file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        id_col = next((columns[c] for c in _ROSTER_ID if c in columns), None)
        if id_col is None:
            raise InputError(
                f"{path}: no id column; the roster needs one of: {', '.join(_ROSTER_ID)}"
            )
        name_col = next((columns[c] for c in _ROSTER_NAME if c in columns), None)

        def col(row: dict[str, str], key: str) -> str:
            return (row.get(columns.get(key, ""), "") or "").strip()

        roster: dict[str, RosterEntry] = {}
        for row in reader:
            sid = (row.get(id_col) or "").strip()
            name = (row.get(name_col) or "").strip() if name_col else ""
            if not sid or name.lower() == "points possible":
                continue
            roster[safe_id(sid)] = RosterEntry(
                id=sid,
                name=name,
                sis_user_id=col(row, "sis user id"),
                sis_login_id=col(row, "sis login id"),
                section=col(row, "section"),
            )
    return roster
