"""Grade a whole class: discover, skip what is done, grade the rest anywhere, export.

The output folder is the batch's state. A submission is finished when ``OUT/<id>/.grader-key``
holds its cache key; that file is written last, after ``result.json``, the reports, the
executed notebook and ``results.json``, each of them atomically. Killing the grader (even with
SIGKILL) and running the same command again therefore re-grades only unfinished submissions,
and never leaves a half-written file. Results are also kept in the cache
(:mod:`grader.result_cache`), so an unchanged notebook is not executed again, whatever folder
it is graded into.
"""

from __future__ import annotations

import dataclasses
import json
import time
import typing as t
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import data as datasets
from grader.batch import Submission, discover, read_roster
from grader.exceptions import InputError
from grader.export import BatchEntry, EntryStatus, gradescope_json, write_class_outputs
from grader.feedback import View
from grader.limits import Limits
from grader.report import write_reports
from grader.result_cache import CachedResult, ResultCache, grading_context, result_key
from grader.results import CheckResult, DataInfo, GradeResult, write_atomic
from grader.review.answers import missing_answers
from grader.review.export import review_batch
from grader.rubric import Assignment, load_assignment
from grader.scheduler import Outcome, Task, cores, open_executor
from grader.secret import grader_secret

MARKER = ".grader-key"
STAGING = ".inputs"


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


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did."""

    entries: list[BatchEntry]
    """One per submission, sorted by student id."""
    ignored: list[str]
    """Files in the hand-in that are not notebooks."""
    outputs: dict[str, Path]
    """``gradebook``, ``canvas`` and ``report`` paths."""
    seconds: float
    where: str
    """Where notebooks were executed (``this process``, local workers, a scheduler)."""


def grade_batch(
    sources: Sequence[Path],
    *,
    assignment: str | Path,
    out: Path,
    budget: str = "standard",
    jobs: int = 1,
    scheduler: str | None = None,
    roster: Path | None = None,
    force: bool = False,
    cell_timeout: float | None = None,
    total_timeout: float | None = None,
    data_dir: Path | None = None,
    canvas_column: str | None = None,
    view: View = "instructor",
    limits: Limits | None = None,
    sandboxed: bool = True,
    observer: BatchObserver | None = None,
    weights_dir: Path | None = None,
) -> BatchSummary:
    """Grade every submission in ``sources`` and write the class's outputs into ``out``.

    Args:
        sources: notebooks, folders, Canvas zips and Gradescope exports (folder or zip).
        assignment: assignment id or folder (on remote workers, an id or a shared path).
        out: gets ``<student id>/`` per submission, ``gradebook.csv``, ``canvas.csv``,
            ``index.html`` and ``batch.json``.
        budget: ``smoke``, ``standard`` or ``full``.
        jobs: local worker processes; 1 grades in this process.
        scheduler: a Dask scheduler address; overrides ``jobs``.
        roster: a CSV mapping student ids to names (a Canvas gradebook export works).
        force: grade every notebook again, ignoring earlier runs and the cache.
        cell_timeout: seconds per cell; the rubric's value when None.
        total_timeout: seconds per notebook; the rubric's value when None.
        data_dir: real ``cifar-10-batches-py`` (on the workers); Keras' cache when None.
        canvas_column: header of the score column in ``canvas.csv``; the assignment's title
            when None.
        view: whom each submission's report.html/report.md is for (``student`` hides what
            hidden checks say); results.json for Gradescope always uses the student view.
        limits: each kernel's resource limits; the rubric's ``[sandbox]`` table when None.
        sandboxed: run kernels in the sandbox; False only for debugging.
        observer: told about progress.
        weights_dir: ImageNet weights files (on the workers); Keras' cache when None.

    Returns:
        The summary; the files it names are written.

    Raises:
        InputError: a source is missing or unreadable, or the budget is unknown.
        SchedulerError: the Dask scheduler could not be reached.
    """
    started = time.monotonic()
    spec = load_assignment(assignment)
    spec.plan(budget)  # an unknown budget is refused before anything is extracted or run
    out = Path(out)
    found = discover(sources, out / STAGING, exclude=[out])
    names = read_roster(roster) if roster is not None else {}
    limits = limits or spec.limits
    secret = grader_secret()
    context = grading_context(
        spec,
        budget=budget,
        cell_timeout=cell_timeout,
        total_timeout=total_timeout,
        data_dir=data_dir,
        weights_dir=weights_dir,
        limits=limits,
        sandboxed=sandboxed,
        secret=secret,
    )
    cache = ResultCache()
    entries: dict[str, BatchEntry] = {}
    pending: list[tuple[Submission, str, str]] = []
    for sub in found.submissions:
        key = result_key(sub.digest, context)
        name = sub.name or (names[sub.student_id].name if sub.student_id in names else "")
        reused = None if force else _reuse(out / sub.student_id, key, cache, view)
        if reused is None:
            pending.append((sub, key, name))
            continue
        status, result = reused
        entries[sub.student_id] = _entry(sub, name, status, result)
    if observer:
        observer.reused(sorted(entries.values(), key=lambda e: e.student_id))

    where = "nowhere (nothing to execute)"
    if pending:
        by_id = {item[0].student_id: item for item in pending}
        # Starting workers costs seconds: never more of them than notebooks to grade.
        jobs = min(jobs, len(pending))
        assignment_ref = spec.id if _is_installed(spec) else str(spec.folder.resolve())
        with open_executor(jobs=jobs, scheduler=scheduler) as executor:
            where = executor.description
            if observer:
                observer.begin(len(pending), where)
            if jobs > 1 or scheduler:
                executor.prepare(
                    assignment_ref, budget, str(data_dir) if data_dir else None, secret
                )
            threads = None if scheduler else max(1, cores() // max(1, jobs))

            def tasks() -> Iterator[Task]:
                # Lazily: a notebook's bytes are read only when a worker is about to get it.
                for sub, _, _ in pending:
                    if observer:
                        observer.running(sub.student_id)
                    yield Task(
                        student_id=sub.student_id,
                        notebook=sub.path.read_bytes(),
                        assignment=assignment_ref,
                        budget=budget,
                        cell_timeout=cell_timeout,
                        total_timeout=total_timeout,
                        data_dir=str(data_dir) if data_dir else None,
                        threads=threads,
                        source=str(sub.path),
                        weights_dir=str(weights_dir) if weights_dir else None,
                        limits=limits,
                        sandboxed=sandboxed,
                        secret=secret,
                    )

            for outcome in executor.run(tasks()):
                sub, key, name = by_id[outcome.student_id]
                entry = _store(outcome, sub, name, key, spec, budget, out, cache, data_dir, view)
                entries[sub.student_id] = entry
                if observer:
                    observer.finished(entry)

    ordered = [entries[k] for k in sorted(entries)]
    # Issue 17: decisions made in `grader review` (OUT/review.sqlite) still apply to what was
    # re-graded, and look-alike submissions are listed in the class report.
    review = review_batch(out, ordered, template=spec.student_notebook, view=view)
    ordered = review.entries
    outputs = write_class_outputs(
        ordered,
        out,
        title=spec.title,
        budget=budget,
        canvas_column=canvas_column or spec.title,
        points_possible=spec.max_score + sum(item.points for item in spec.manual),
        roster=names,
        lookalikes=review.lookalikes.pairs if review.lookalikes else (),
    )
    summary = BatchSummary(ordered, found.ignored, outputs, time.monotonic() - started, where)
    write_atomic(
        out / "batch.json", _batch_json(summary, spec, budget, view, canvas_column or spec.title)
    )
    return summary


def _reuse(
    folder: Path, key: str, cache: ResultCache, view: View
) -> tuple[EntryStatus, GradeResult] | None:
    """A finished result for ``key``: from the output folder, else restored from the cache."""
    marker = folder / MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == key:
        try:
            return "done", GradeResult.from_json((folder / "result.json").read_text("utf-8"))
        except (OSError, ValueError, TypeError, KeyError):
            pass  # tampered with or from another schema version: restore or grade again
    cached = cache.get(key)
    if cached is None:
        return None
    result = GradeResult.from_json(cached.result_json)
    _write_submission(folder, result, cached.executed, key=key, view=view)
    return "cached", result


def _store(
    outcome: Outcome,
    sub: Submission,
    name: str,
    key: str,
    spec: Assignment,
    budget: str,
    out: Path,
    cache: ResultCache,
    data_dir: Path | None,
    view: View,
) -> BatchEntry:
    folder = out / sub.student_id
    if outcome.failure:
        result = failed_result(spec, sub.student_id, outcome.failure, budget, data_dir)
        # No marker and no cache entry: the next run tries this notebook again.
        _write_submission(folder, result, "", key=None, failure=outcome.failure, view=view)
        entry = _entry(sub, name, "failed", result, reason=outcome.failure)
        return dataclasses.replace(entry, seconds=outcome.duration_s, worker=outcome.worker)
    result = GradeResult.from_json(outcome.result_json)
    _write_submission(folder, result, outcome.executed, key=key, view=view)
    cache.put(key, CachedResult(outcome.result_json, outcome.executed))
    return dataclasses.replace(_entry(sub, name, "graded", result), worker=outcome.worker)


def _write_submission(
    folder: Path,
    result: GradeResult,
    executed: str,
    *,
    key: str | None,
    view: View,
    failure: str = "",
) -> None:
    """Write one submission's files, the completion marker last."""
    (folder / MARKER).unlink(missing_ok=True)
    result.write(folder / "result.json")
    write_reports(result, folder, view=view)
    if executed:
        write_atomic(folder / "executed.ipynb", executed)
    else:
        (folder / "executed.ipynb").unlink(missing_ok=True)
    write_atomic(folder / "results.json", gradescope_json(result, failure=failure))
    if key is not None:
        write_atomic(folder / MARKER, key + "\n")


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
    )


def failed_result(
    spec: Assignment, submission: str, reason: str, budget: str, data_dir: Path | None = None
) -> GradeResult:
    """The result of a notebook that could not be graded: every check ``error``, no points.

    Args:
        spec: the assignment.
        submission: the student id.
        reason: one line saying why; it becomes every check's message and the first notice.
        budget: the budget the batch ran at.
        data_dir: as given to the batch (decides which data source is reported).
    """
    try:
        source: t.Literal["real", "synthetic"] = (
            "real" if datasets.find_real(spec.dataset, data_dir) else "synthetic"
        )
    except InputError:
        source = "synthetic"
    checks = [
        CheckResult(
            id=c.id,
            title=c.title,
            status="error",
            score=0.0,
            max_score=c.points,
            message=f"Not graded: {reason}",
            hint="",
        )
        for c in spec.checks
    ]
    plan = spec.plan(budget)
    return GradeResult(
        assignment=spec.id,
        submission=submission,
        score=0.0,
        max_score=spec.max_score,
        checks=checks,
        cells=[],
        fits=[],
        budget=budget,
        budget_limits=plan.limits(),
        data=DataInfo(source, "not graded: the notebook was not run to completion", 0, 0, 0),
        seed=spec.seed,
        timings={},
        versions={},
        notices=[f"This submission could not be graded: {reason}"],
        manual=missing_answers(spec.manual),
    )


def _is_installed(spec: Assignment) -> bool:
    try:
        return load_assignment(spec.id).folder.resolve() == spec.folder.resolve()
    except InputError:
        return False


def _batch_json(
    summary: BatchSummary, spec: Assignment, budget: str, view: View, canvas_column: str
) -> str:
    return (
        json.dumps(
            {
                "assignment": spec.id,
                # What `grader review OUT --export` needs to write the class outputs again.
                "assignment_folder": str(spec.folder.resolve()),
                "title": spec.title,
                "view": view,
                "canvas_column": canvas_column,
                "budget": budget,
                "where": summary.where,
                "seconds": round(summary.seconds, 3),
                "ignored": summary.ignored,
                "submissions": [
                    {
                        "student_id": e.student_id,
                        "name": e.name,
                        "status": e.status,
                        "score": e.result.score,
                        "max_score": e.result.max_score,
                        "seconds": round(e.seconds, 3),
                        "reason": e.reason,
                        "source": e.source,
                        "worker": e.worker,
                    }
                    for e in summary.entries
                ],
            },
            indent=2,
        )
        + "\n"
    )
