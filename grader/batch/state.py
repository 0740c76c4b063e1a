"""One batch's state, and how each submission gets there: reused, or graded and stored once.

The output folder is the batch's state. A submission is finished when ``OUT/<id>/.grader-key``
holds its cache key; that file is written last, after the reports, the platforms' files, the
executed notebook and ``result.json``, each of them atomically and each once, by
:func:`grader.export.submission_files.write_submission`: the workers write nothing. Killing
the grader (even with SIGKILL) and running the same command again therefore re-grades only
unfinished submissions, and never leaves a half-written file. Results are also kept in the cache
(:mod:`grader.batch.cache`), so an unchanged notebook is not executed again, whatever folder
it is graded into.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.answers import missing_answers
from grader.batch.cache import (
    CachedResult,
    ResultCache,
    grading_context,
    render_key,
    rendering_context,
    result_key,
)
from grader.batch.submission import Submission, read_handin
from grader.batch.workers import Task, TaskResult, open_executor
from grader.data import sets
from grader.exceptions import InputError
from grader.export.entry import BatchEntry, EntryStatus
from grader.export.roster import RosterEntry
from grader.export.submission_files import (
    MARKER,
    RENDERED_FILES,
    SubmissionFiles,
    render_submission,
    submission_files,
    write_submission,
)
from grader.options import GradeOptions
from grader.results import DataInfo, GradeResult, unjudged_result, unreadable
from grader.review.export import Decisions
from grader.review.merge import automatic_part
from grader.rubric import Assignment
from grader.rubric.load import assignment_toml


class BatchObserver(t.Protocol):
    """Told what a batch is doing, for a progress display."""

    def reused(self, entries: Sequence[BatchEntry]) -> None:
        """Submissions taken from an earlier run or the cache, before any grading starts."""

    def begin(self, total: int, where: str) -> None:
        """``total`` notebooks are about to be executed ``where``."""

    def running(self, student_id: str) -> None:
        """A notebook was handed to a worker."""

    def finished(self, entry: BatchEntry) -> None:
        """A notebook was graded (or could not be)."""


RETRIED_OUTCOMES = frozenset({"judge_failed", "judge_timeout", "missing_module"})
"""Outcomes graded again by the next run (see :meth:`BatchState.store`)."""


@dataclass
class BatchState:
    """One batch's state: what it is graded with, and the entries found so far."""

    spec: Assignment
    options: GradeOptions
    out: Path
    cache: ResultCache
    context: str
    """The result-cache key of everything but the notebook (:func:`grading_context`)."""
    rendering: str
    """What the rendered files depend on besides the result (:func:`rendering_context`)."""
    decisions: Decisions | None = None
    """The review's decisions when ``out`` has a review database: a graded submission's files
    are written with them applied, once, rather than written and then rewritten reviewed."""
    entries: dict[str, BatchEntry] = field(default_factory=dict)

    @classmethod
    def open(cls, spec: Assignment, options: GradeOptions, out: Path) -> BatchState:
        """A batch grading ``spec`` with ``options`` into ``out``, with nothing found yet."""
        return cls(
            spec,
            options,
            out,
            ResultCache(),
            grading_context(spec, options),
            rendering_context(spec, options.view),
            Decisions.in_folder(out),
        )

    def grade_all(
        self,
        submissions: Sequence[Submission],
        roster: Mapping[str, RosterEntry],
        *,
        force: bool,
        jobs: int,
        scheduler: str | None,
        observer: BatchObserver | None,
    ) -> str:
        """Reuse what an earlier run or the cache finished, grade the rest; says where."""
        pending = self.not_reused(submissions, roster, force=force)
        if observer:
            observer.reused(sorted(self.entries.values(), key=lambda e: e.student_id))
        if not pending:
            return "nowhere (nothing to execute)"
        return self.grade(pending, jobs=jobs, scheduler=scheduler, observer=observer)

    def reuse(self, sub: Submission, name: str) -> bool:
        """Take ``sub``'s finished result from the output folder, else the cache, if any."""
        key = result_key(sub.digest, self.context)
        folder = self.out / sub.student_id
        marker = folder / MARKER
        result = None
        if marker.is_file() and marker.read_text(encoding="utf-8").strip() == key:
            try:
                result = GradeResult.from_json((folder / "result.json").read_text("utf-8"))
                status: EntryStatus = "done"
            except (OSError, ValueError, TypeError, KeyError):
                pass  # tampered with or from another schema version: restore or grade again
        if result is None:
            cached = self.cache.get(key)
            if cached is None:
                return False
            result, status = self.restore(key, cached, sub.student_id), "cached"
        self.entries[sub.student_id] = _entry(sub, name, status, result)
        return True

    def not_reused(
        self, submissions: Sequence[Submission], roster: Mapping[str, RosterEntry], *, force: bool
    ) -> list[tuple[Submission, str]]:
        """The submissions to grade, with their students' names: those :meth:`reuse` cannot
        take (all of them with ``force``)."""
        pending = []
        for sub in submissions:
            name = sub.name or (roster[sub.student_id].name if sub.student_id in roster else "")
            if force or not self.reuse(sub, name):
                pending.append((sub, name))
        return pending

    def restore(self, key: str, cached: CachedResult, student_id: str) -> GradeResult:
        """Write a cached result's files for ``student_id``; the reports copied when kept."""
        raw = json.loads(cached.result_json)
        result_json = cached.result_json
        if raw["submission"] != student_id:
            # The same notebook handed in by another student (or under another name): the
            # result is theirs, named as a grade of their own would name it.
            result_json = _renamed(cached.result_json, raw["submission"], student_id)
            raw["submission"] = student_id
        result = GradeResult.from_dict(raw)
        rendering = render_key(student_id, self.rendering)
        rendered = self.cache.rendered(key, rendering, RENDERED_FILES)
        if rendered is None:
            rendered = render_submission(
                result,
                view=self.options.view,
                reveals=self.spec.reveals(),
                failure=unreadable(result),
            )
            self.cache.put_rendered(key, rendering, rendered)
        files = SubmissionFiles(result, result_json, rendered, cached.executed)
        write_submission(self.out / student_id, files, key=key)
        return result

    def files(
        self, student_id: str, result: GradeResult, executed: str, failure: str = ""
    ) -> SubmissionFiles:
        """A graded (or failed) submission's files, the review's decisions applied, rendered
        once (see :func:`grader.export.submission_files.submission_files`)."""
        if self.decisions is not None:
            result, _ = self.decisions.apply(student_id, result)
        return submission_files(
            result,
            executed,
            view=self.options.view,
            reveals=self.spec.reveals(),
            failure=failure,
        )

    def grade(
        self,
        pending: list[tuple[Submission, str]],
        *,
        jobs: int,
        scheduler: str | None,
        observer: BatchObserver | None,
    ) -> str:
        """Grade ``pending`` on the executor ``jobs``/``scheduler`` ask for; says where."""
        by_id = {sub.student_id: (sub, name) for sub, name in pending}
        # Starting workers costs seconds: never more of them than notebooks to grade.
        jobs = min(jobs, len(pending))
        ref = self.spec.id if _is_installed(self.spec) else str(self.spec.folder.resolve())
        with open_executor(jobs=jobs, scheduler=scheduler) as executor:
            if observer:
                observer.begin(len(pending), executor.description)
            if jobs > 1 or scheduler:
                executor.calibrate(ref, self.options)

            def tasks() -> Iterator[Task]:
                # Lazily: a notebook's bytes are read only when a worker is about to get it.
                for sub, _ in pending:
                    if observer:
                        observer.running(sub.student_id)
                    yield Task(
                        sub.student_id, read_handin(sub.path), ref, self.options,
                        source=str(sub.path),
                    )  # fmt: skip

            for done in executor.run(tasks()):
                sub, name = by_id[done.student_id]
                entry = self.store(done, sub, name)
                self.entries[sub.student_id] = entry
                if observer:
                    observer.finished(entry)
            return executor.description

    def store(self, done: TaskResult, sub: Submission, name: str) -> BatchEntry:
        """Render and write a graded (or failed) submission's files, once; cache a graded one."""
        folder = self.out / sub.student_id
        if done.result is None or done.failure:
            failure = done.failure or "the grading worker sent no result"
            failed = self.failed_result(sub.student_id, failure)
            files = self.files(sub.student_id, failed, "", failure=failure)
            # No marker and no cache entry: the next run tries this notebook again.
            write_submission(folder, files)
            entry = _entry(sub, name, "failed", files.result, reason=failure)
            return dataclasses.replace(entry, seconds=done.duration_s, worker=done.worker)
        files = self.files(sub.student_id, done.result, done.executed)
        # A judge that broke or ran out of time may have met a loaded or broken machine rather
        # than the notebook, and a missing package is the environment's to fix: such a result
        # is written, but neither cached nor marked done, so the next run judges the notebook
        # again instead of serving the accident forever.
        retry = files.result.outcome in RETRIED_OUTCOMES
        key = None if retry else result_key(sub.digest, self.context)
        write_submission(folder, files, key=key)
        if key is not None:
            self.keep(key, sub.student_id, files)
        return dataclasses.replace(_entry(sub, name, "graded", files.result), worker=done.worker)

    def keep(self, key: str, student_id: str, files: SubmissionFiles) -> None:
        """Cache a graded submission: its automatic result, and the files rendered from it."""
        automatic = files.result_json
        if self.decisions is not None:
            # The cache serves any output folder: it keeps the grade, not this class's review.
            automatic = automatic_part(files.result).to_json()
        self.cache.put(key, CachedResult(automatic, files.executed))
        if automatic == files.result_json:
            # A later restore of this submission copies these files instead of rendering.
            rendering = render_key(student_id, self.rendering)
            self.cache.put_rendered(key, rendering, files.rendered)

    def failed_result(self, student_id: str, reason: str) -> GradeResult:
        """The result of a notebook that could not be graded: every check ``error``."""
        try:
            real = sets.find_real(self.spec.dataset, self.options.data_dir) is not None
        except InputError:
            real = False
        data = DataInfo(
            "real" if real else "synthetic",
            "not graded: the notebook was not run to completion",
            0,
            0,
            0,
        )
        result = unjudged_result(
            self.spec,
            student_id,
            f"not graded: {reason}",
            status="error",
            budget=self.spec.plan(self.options.budget),
            data=data,
        )
        return dataclasses.replace(result, manual=missing_answers(self.spec.manual))


def _renamed(result_json: str, old: str, new: str) -> str:
    """``result.json``'s text with its top-level ``submission`` changed from ``old`` to ``new``.

    The text is what :meth:`GradeResult.to_json` would write for the renamed result: the one
    line changed in place (a top-level key is the only line that starts with exactly two
    spaces and that key; a newline inside a string is escaped), else encoded again.
    """
    line = f'\n  "submission": {json.dumps(old)},\n'
    if result_json.count(line) == 1:
        return result_json.replace(line, f'\n  "submission": {json.dumps(new)},\n')
    raw = json.loads(result_json)
    raw["submission"] = new
    return json.dumps(raw, indent=2) + "\n"


def _entry(
    sub: Submission, name: str, status: EntryStatus, result: GradeResult, reason: str = ""
) -> BatchEntry:
    # The class views need the checks only; dropping cells and fit histories keeps the
    # submitting process's memory flat however large the class.
    slim = dataclasses.replace(result, cells=[], fits=[], notices=[])
    return BatchEntry(
        student_id=sub.student_id,
        name=name,
        status=status,
        result=slim,
        seconds=result.timings.get("total", 0.0),
        reason=reason,
        source=str(sub.path),
        origin=sub.origin,
        lms_id=sub.lms_id,
        prefix=sub.prefix,
    )


def _is_installed(spec: Assignment) -> bool:
    try:
        return assignment_toml(spec.id).parent.resolve() == spec.folder.resolve()
    except InputError:
        return False
