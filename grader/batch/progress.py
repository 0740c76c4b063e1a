"""A progress display for batches: count, current submission, ETA, and failures as they come."""

from __future__ import annotations

import types
from collections.abc import Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from grader.batch.entry import BatchEntry
from grader.report.formats import format_number


class RichObserver:
    """Shows a batch's progress on the terminal (stderr), and removes the bar when done."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.task: TaskID | None = None
        self.running_ids: list[str] = []

    def __enter__(self) -> RichObserver:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.progress.stop()

    def reused(self, entries: Sequence[BatchEntry]) -> None:
        done = sum(e.status == "done" for e in entries)
        cached = len(entries) - done
        if entries:
            self.progress.console.print(
                f"{done} submissions already graded in the output folder, {cached} from the cache"
            )

    def begin(self, total: int, where: str) -> None:
        self.progress.console.print(f"grading {total} notebooks in {where}")
        self.task = self.progress.add_task("starting", total=total)

    def running(self, student_id: str) -> None:
        self.running_ids.append(student_id)
        self._describe()

    def finished(self, entry: BatchEntry) -> None:
        if entry.student_id in self.running_ids:
            self.running_ids.remove(entry.student_id)
        if entry.status == "failed":
            # Text, not markup: a reason may quote the student's code, brackets and all.
            reason = Text(f"not graded: {entry.student_id}: {entry.reason}", style="yellow")
            self.progress.console.print(reason)
        if self.task is not None:
            self.progress.advance(self.task)
        self._describe(
            f"{entry.student_id} {format_number(entry.result.score)}/"
            f"{format_number(entry.result.max_score)}"
        )

    def _describe(self, last: str = "") -> None:
        if self.task is None:
            return
        now = ", ".join(self.running_ids[-3:]) or "-"
        text = f"grading {now}" + (f" (last: {last})" if last else "")
        self.progress.update(self.task, description=text)
