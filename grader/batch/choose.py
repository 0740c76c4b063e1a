"""One notebook per student: when a hand-in holds several of one student's (a re-upload, a
scratch copy), the one graded (:func:`choose`) and the others set aside, named for the
summary. Every gradebook import keys rows by student and would keep an arbitrary one of two."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.batch.lms_names import plain_name
from grader.batch.submission import Submission, read_handin
from grader.exceptions import InputError

if t.TYPE_CHECKING:
    from grader.rubric import Assignment


@dataclass(frozen=True)
class Expected:
    """What the assignment's notebook looks like, to choose among one student's notebooks."""

    assignment: str = ""
    """The assignment id the released notebook carries in ``metadata.grader.assignment``."""
    names: tuple[str, ...] = ()
    """File names the notebook is expected to have (lower case), such as ``student.ipynb``."""


ANY_NOTEBOOK = Expected()
"""Nothing known of the assignment's notebook: a student's later upload is graded."""


def choose(notebooks: t.Sequence[Submission], expected: Expected) -> Submission:
    """The one notebook of a student's several that is graded.

    In order: the notebook the assignment released (its ``metadata.grader.assignment`` is the
    assignment's id), then one with the expected file name (Canvas' ``-1`` re-upload suffix
    aside), then the later upload (Canvas' larger attachment id), then the first by path.
    A student who hands in a scratch copy beside the assignment gets the assignment graded;
    one who re-uploads gets the latest graded, as the LMS itself shows it. (Blackboard grades
    the latest attempt: :func:`one_per_student` keeps only its files before choosing.)
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


def one_per_student(
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


def expected_notebook(spec: Assignment) -> Expected:
    """What ``spec``'s notebook looks like: its id in the metadata, its released file name."""
    names = {spec.student_notebook.name.lower(), f"{spec.id}.ipynb".lower()}
    return Expected(spec.id, tuple(sorted(names)))
