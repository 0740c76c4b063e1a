"""Review decisions into every file a class's graders and students read.

``result.json`` on disk is always ``merged(automatic result, OUT/review.sqlite)``
(:mod:`grader.review.merge`). Two paths lead there, and they compose:

- ``grader grade`` (:func:`review_batch`, called by :func:`grader.batch.run.grade_batch`
  before it writes the class outputs): a re-graded submission gets the decisions that still
  apply to it, and the look-alike finder runs over the class.
- ``grader review OUT --export`` and the app's Export button (:func:`export_review`): the
  decisions made since are written into ``result.json``, ``report.html``/``report.md``,
  Gradescope's ``results.json``, PrairieLearn's ``prairielearn.json``, ``gradebook.csv``,
  ``canvas.csv``, ``canvas_feedback.zip``, ``moodle.csv``, ``blackboard.csv`` and
  ``index.html``.

Neither reads its own output as input: both start from each result's automatic part, so
running them again, in any order, gives the same files.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.exceptions import GraderError, ReviewError
from grader.lookalikes.finder import find_in_folder
from grader.report.escape import csv_text
from grader.results import GradeResult
from grader.review.db import FILENAME as DB_FILENAME
from grader.review.db import ReviewDB, StoredManual, StoredOverride, active
from grader.review.merge import merged
from grader.rubric.manual import ManualItem
from grader.score import final_score

if t.TYPE_CHECKING:
    from grader.export.entry import BatchEntry
    from grader.export.roster import RosterEntry
    from grader.options import View


@dataclass(frozen=True)
class ReviewState:
    """What the review adds to a class's outputs."""

    entries: list[BatchEntry]
    """The batch, each result merged with the decisions that apply to it."""
    points_possible: float
    """The most a submission can score: automatic checks and manual items."""
    updated: list[str]
    """Students whose ``result.json`` changed."""
    stale_overrides: list[tuple[str, str]]
    """``(student, check)`` overrides made against another automatic verdict: not applied."""
    changed_answers: list[tuple[str, str]]
    """``(student, item)`` answers that changed since they were graded: pending again."""

    @property
    def pending(self) -> int:
        """Manual items still waiting for a person, across the class."""
        return sum(len(final_score(e.result).pending) for e in self.entries)


def review_batch(
    out: Path,
    entries: Sequence[BatchEntry],
    *,
    view: View = "instructor",
    reveals: Mapping[str, str] | None = None,
) -> ReviewState:
    """Merge the review database into a batch's results and rewrite what changed.

    Without ``OUT/review.sqlite`` nothing is merged (and no file is rewritten). Look-alikes are
    found after the gradebooks are written (:func:`grader.lookalikes.finder.find_in_folder`):
    however long the finder takes, it never delays a grade.

    Args:
        out: the class's output folder.
        entries: the batch.
        view: whom the rewritten reports are for.
        reveals: hidden checks' Gradescope visibility, as the batch wrote ``results.json``.

    Returns:
        The merged batch and what the review found.
    """
    out = Path(out)
    updated: list[str] = []
    stale: list[tuple[str, str]] = []
    changed: list[tuple[str, str]] = []
    merged_entries = list(entries)
    decisions = Decisions.in_folder(out)
    if decisions is not None:
        merged_entries, updated, stale, changed = _merge_all(out, entries, decisions, view, reveals)
    possible = max((final_score(e.result).max_score for e in merged_entries), default=0.0)
    return ReviewState(merged_entries, possible, updated, stale, changed)


@dataclass(frozen=True)
class Decisions:
    """A class's review decisions (``OUT/review.sqlite``), read once, applied to any result."""

    manual: tuple[StoredManual, ...]
    overrides: tuple[StoredOverride, ...]
    """The overrides in force."""

    @classmethod
    def in_folder(cls, out: Path) -> Decisions | None:
        """The decisions of the class graded into ``out``; None without a review database."""
        if not (Path(out) / DB_FILENAME).is_file():
            return None
        db = ReviewDB.in_folder(out)
        return cls(tuple(db.all_manual()), tuple(o for o in db.all_overrides() if active(o)))

    def apply(self, student: str, full: GradeResult) -> tuple[GradeResult, list[str]]:
        """``full`` merged with ``student``'s decisions, and the stale overrides' check ids.

        A batch applies them to a result it has just graded before writing its files, so that
        they are rendered and written once, already reviewed.
        """
        digests = {(m.id, m.answer_digest) for m in full.manual}
        mine = [r for r in self.manual if r.student == student]
        return merged(
            full,
            manual={(r.item, r.digest): r.decision for r in mine},
            earlier_answers={r.item for r in mine if (r.item, r.digest) not in digests},
            overrides={o.check: o.decision for o in self.overrides if o.student == student},
        )


def _merge_all(
    out: Path,
    entries: Sequence[BatchEntry],
    decisions: Decisions,
    view: View,
    reveals: Mapping[str, str] | None,
) -> tuple[list[BatchEntry], list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    from grader.export.submission_files import render_submission
    from grader.results import write_atomic

    result_entries: list[BatchEntry] = []
    updated: list[str] = []
    stale: list[tuple[str, str]] = []
    changed: list[tuple[str, str]] = []
    for entry in entries:
        sid = entry.student_id
        path = out / sid / "result.json"
        try:
            full = GradeResult.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError, KeyError):
            result_entries.append(entry)
            continue
        result, stale_here = decisions.apply(sid, full)
        stale += [(sid, c) for c in stale_here]
        changed += [(sid, m.id) for m in result.manual if m.answer_changed]
        text = result.to_json()
        if text != path.read_text(encoding="utf-8"):
            # Every file rendered from the result, as `grader grade` wrote them: no report or
            # platform file keeps the score the review changed. (A submission the batch has
            # just graded was written with these decisions already: it is not rendered again.)
            rendered = render_submission(
                result, view=view, reveals=reveals, failure=entry.not_graded
            )
            for name, content in rendered.items():
                write_atomic(out / sid / name, content)
            result.write(path)
            updated.append(sid)
        result_entries.append(
            dataclasses.replace(
                entry, result=dataclasses.replace(result, cells=[], fits=[], notices=[])
            )
        )
    return result_entries, updated, stale, changed


# --- from the app or the command line: the folder alone ------------------------------------


@dataclass(frozen=True)
class ClassInfo:
    """What ``batch.json`` says about a graded class, and where its files are."""

    out: Path
    assignment: str
    title: str
    budget: str
    view: View
    canvas_column: str
    template: Path | None
    entries: list[BatchEntry]
    manual: tuple[ManualItem, ...] = ()
    """The rubric's ``[[manual]]`` items with their criteria (empty when the rubric is gone)."""
    reveals: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Hidden checks' Gradescope visibility, by check id (see ``Assignment.reveals``)."""
    blackboard_column: str | None = None
    """The Grade Center Column ID ``blackboard.csv`` updates (``--blackboard-column``)."""


def read_class(out: Path) -> ClassInfo:
    """Read a graded class's folder: ``batch.json`` and every ``result.json``.

    Raises:
        ReviewError: the folder has no ``batch.json`` (``grader grade`` was not run into it).
    """
    from grader.export.entry import BatchEntry
    from grader.rubric.load import load_assignment

    out = Path(out)
    try:
        batch = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewError(
            f"{out}: no readable batch.json; run `grader grade ... --out {out}` first"
        ) from exc
    assignment = str(batch.get("assignment", ""))
    title = str(batch.get("title", "")) or assignment
    template = None
    manual: tuple[ManualItem, ...] = ()
    reveals: Mapping[str, str] = {}
    for where in (batch.get("assignment_folder"), assignment):
        try:
            spec = load_assignment(str(where))
        except GraderError:
            continue  # moved or renamed: the class can be reviewed without it, less criteria
        title = str(batch.get("title", "")) or spec.title
        template, manual, reveals = spec.student_notebook, spec.manual, spec.reveals()
        break
    entries = []
    for row in batch.get("submissions", []):
        sid = str(row["student_id"])
        path = out / sid / "result.json"
        try:
            result = GradeResult.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError, KeyError):
            continue
        entries.append(
            BatchEntry(
                student_id=sid,
                name=str(row.get("name", "")),
                status=row.get("status", "done"),
                result=dataclasses.replace(result, cells=[], fits=[], notices=[]),
                seconds=float(row.get("seconds", 0.0)),
                reason=str(row.get("reason", "")),
                source=str(row.get("source", "")),
                worker=str(row.get("worker", "")),
                origin=str(row.get("origin", "")),
                lms_id=str(row.get("lms_id", "")),
                prefix=str(row.get("prefix", "")),
            )
        )
    view = batch.get("view", "instructor")
    return ClassInfo(
        out=out,
        assignment=assignment,
        title=title,
        budget=str(batch.get("budget", "")),
        view=view if view in ("student", "instructor") else "instructor",
        canvas_column=str(batch.get("canvas_column", "")) or title,
        template=template,
        entries=entries,
        manual=manual,
        reveals=reveals,
        blackboard_column=str(batch.get("blackboard_column", "")) or None,
    )


def export_review(out: Path) -> ReviewState:
    """Write every decision in ``OUT/review.sqlite`` into the class's files.

    ``result.json``, the reports, Gradescope's ``results.json`` and PrairieLearn's
    ``prairielearn.json`` of each changed submission, then the gradebooks
    (:func:`~grader.export.class_outputs.write_gradebooks`; ``canvas.csv`` keeps the names,
    SIS ids and sections of the one ``grader grade`` wrote), then the look-alikes and the
    class report.

    Raises:
        ReviewError: the folder is not a graded class.
    """
    from grader.export.class_outputs import write_class_report, write_gradebooks

    info = read_class(out)
    ReviewDB.in_folder(info.out)  # creates it, so that an export without decisions still merges
    state = review_batch(info.out, info.entries, view=info.view, reveals=info.reveals)
    write_gradebooks(
        state.entries,
        info.out,
        title=info.title,
        canvas_column=info.canvas_column,
        points_possible=state.points_possible,
        roster=canvas_roster(info.out / "canvas.csv"),
        blackboard_column=info.blackboard_column,
    )
    found = find_in_folder(info.out, [e.student_id for e in info.entries], template=info.template)
    write_class_report(
        state.entries, info.out, title=info.title, budget=info.budget, lookalikes=found.pairs
    )
    return state


def canvas_roster(path: Path) -> dict[str, RosterEntry]:
    """The students of a ``canvas.csv`` the grader wrote, by ``ID``: names, SIS ids, sections."""
    from grader.export.roster import RosterEntry

    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return {}
    roster = {}
    for row in rows:
        sid = row.get("ID") or ""
        if not sid or (row.get("Student") or "").strip() == "Points Possible":
            continue

        # Cells were neutralised when written (a ' before a formula character); the writer
        # adds it again, so take it off here, and only there, to keep the file stable.
        def clean(key: str, row: dict[str, str] = row) -> str:
            value = row.get(key) or ""
            bare = value[1:]
            return bare if value.startswith("'") and csv_text(bare) == value else value

        roster[clean("ID")] = RosterEntry(
            id=clean("ID"),
            name=clean("Student"),
            sis_user_id=clean("SIS User ID"),
            sis_login_id=clean("SIS Login ID"),
            section=clean("Section"),
        )
    return roster
