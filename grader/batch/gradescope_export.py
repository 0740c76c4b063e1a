"""A Gradescope export: ``submission_metadata.yml`` and one ``submission_<n>/`` folder per
submission; the metadata names the submitters and their student ids (``:sid:``)."""

from __future__ import annotations

import stat
import typing as t
from pathlib import Path

from grader.batch.submission import Submission, hidden
from grader.exceptions import InputError
from grader.export.layout import safe_id

GRADESCOPE_METADATA = "submission_metadata.yml"


def find_gradescope_metadata(folder: Path) -> Path | None:
    # Gradescope's export zip wraps everything in one top-level folder.
    for candidate in (folder / GRADESCOPE_METADATA, *folder.glob(f"*/{GRADESCOPE_METADATA}")):
        if candidate.is_file():
            return candidate
    return None


def gradescope_submissions(metadata_path: Path) -> tuple[list[Submission], list[str]]:
    metadata = read_gradescope_metadata(metadata_path)
    root = metadata_path.parent
    subs: list[Submission] = []
    ignored: list[str] = []
    for folder_name, record in sorted(metadata.items()):
        folder = root / folder_name
        if not folder.is_dir():
            continue
        files = [p for p in sorted(folder.rglob("*")) if not hidden(p.relative_to(root))]
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
