"""A batch's progress: count, current submissions, ETA, and failures as they come.

On a terminal, a rich progress bar (:class:`RichObserver`). Elsewhere (a log, CI) rich draws
nothing live, so :class:`LineObserver` prints a plain line per notebook handed out and
finished, and a heartbeat line every few seconds; :func:`batch_observer` picks one.
"""

from __future__ import annotations

import time
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

from grader.export.entry import BatchEntry
from grader.progress import HEARTBEAT_S, Heartbeat, LastPhase, elapsed
from grader.report.formats import format_number


def batch_observer(console: Console | None = None) -> RichObserver | LineObserver:
    """The progress display for ``console`` (stderr when None): a bar on a terminal, plain
    lines elsewhere."""
    console = console or Console(stderr=True)
    return RichObserver(console) if console.is_terminal else LineObserver(console)


def _score(entry: BatchEntry) -> str:
    return f"{format_number(entry.result.score)}/{format_number(entry.result.max_score)}"


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
        self._describe(f"{entry.student_id} {_score(entry)}")

    def _describe(self, last: str = "") -> None:
        if self.task is None:
            return
        now = ", ".join(self.running_ids[-3:]) or "-"
        text = f"grading {now}" + (f" (last: {last})" if last else "")
        self.progress.update(self.task, description=text)


class LineObserver:
    """Shows a batch's progress as plain lines, for a log or CI where nothing is live.

    A line when a notebook is handed to a worker, one when it is finished (score and seconds),
    and every ``interval`` seconds a heartbeat: how many are done, which are still out, and,
    when they are graded in this process (``-j 1``), what the current one is doing.
    """

    def __init__(self, console: Console | None = None, interval: float = HEARTBEAT_S) -> None:
        self.console = console or Console(stderr=True)
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.handed = 0
        self.running_ids: list[str] = []
        self.heartbeat = Heartbeat(self._beat, interval)
        self.phase = LastPhase()

    def __enter__(self) -> LineObserver:
        self.phase.__enter__()
        self.heartbeat.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.heartbeat.__exit__()
        self.phase.__exit__()

    def _line(self, text: str, style: str = "") -> None:
        # Text, not markup, and never wrapped: a log line per event, whatever its length.
        self.console.print(Text(f"[{elapsed(self.started)}] {text}", style=style), soft_wrap=True)

    def reused(self, entries: Sequence[BatchEntry]) -> None:
        done = sum(e.status == "done" for e in entries)
        if entries:
            self._line(
                f"{done} submissions already graded in the output folder, "
                f"{len(entries) - done} from the cache"
            )

    def begin(self, total: int, where: str) -> None:
        self.total = total
        self._line(f"grading {total} notebooks in {where}")

    def running(self, student_id: str) -> None:
        # Handed to an executor, which may hold it a moment before a worker is free.
        self.handed += 1
        self.running_ids.append(student_id)
        self._line(f"{student_id}: handed out ({self.handed}/{self.total})")

    def finished(self, entry: BatchEntry) -> None:
        if entry.student_id in self.running_ids:
            self.running_ids.remove(entry.student_id)
        self.done += 1
        if entry.status == "failed":
            self._line(f"{entry.student_id}: not graded: {entry.reason}", style="yellow")
        else:
            self._line(
                f"{entry.student_id}: {_score(entry)} in {entry.seconds:.0f} s "
                f"({self.done}/{self.total} done)"
            )

    def _beat(self) -> None:
        out = ", ".join(self.running_ids[:5]) + (" …" if len(self.running_ids) > 5 else "")
        # Handed-out notebooks may still wait for a worker: "waiting for", not "grading".
        doing = f"waiting for {out}" if out else "preparing the workers and the reference"
        if out and self.phase.text:
            doing += f"; this process is {self.phase.text} ({elapsed(self.phase.since)})"
        self._line(f"{self.done}/{self.total} done; {doing}")
