"""A batch's progress outside a terminal: plain lines and a heartbeat (issue 25, item 7).

Rich's live bar draws nothing when its console is not a terminal, so a batch run in a log or CI
printed nothing for minutes.
"""

from __future__ import annotations

import io
import time

from rich.console import Console

from grader.batch.progress import LineObserver, RichObserver, batch_observer
from grader.export.entry import BatchEntry
from grader.progress import phase
from grader.results import GradeResult
from tests.conftest import ROOT

RESULT = GradeResult.from_json(
    (ROOT / "tests" / "files" / "results" / "not_frozen.json").read_text(encoding="utf-8")
)


def console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def entry(student_id: str, status: str = "graded", reason: str = "") -> BatchEntry:
    return BatchEntry(student_id, "", status, RESULT, 41.6, reason=reason)  # type: ignore[arg-type]


def test_a_terminal_gets_the_bar_and_a_log_gets_lines() -> None:
    assert isinstance(batch_observer(console(terminal=True)[0]), RichObserver)
    assert isinstance(batch_observer(console(terminal=False)[0]), LineObserver)


def test_lines_for_each_notebook_and_a_heartbeat_while_they_run() -> None:
    target, out = console(terminal=False)
    with LineObserver(target, interval=0.05) as observer:
        observer.begin(2, "this process")
        observer.running("ada")
        observer.running("bob")
        deadline = time.monotonic() + 10
        while "waiting for ada, bob" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        observer.finished(entry("ada"))
        observer.finished(entry("bob", "failed", "the kernel could not start"))
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    score = f"{RESULT.score:g}/{RESULT.max_score:g}"
    assert lines[:3] == [
        "grading 2 notebooks in this process",
        "ada: handed out (1/2)",
        "bob: handed out (2/2)",
    ]
    assert "0/2 done; waiting for ada, bob" in lines
    assert f"ada: {score} in 42 s (1/2 done)" in lines
    assert "bob: not graded: the kernel could not start" in lines
    # Plain text: no escape sequences in a log.
    assert "\x1b[" not in out.getvalue()


def test_the_heartbeat_stops_with_the_batch() -> None:
    target, out = console(terminal=False)
    with LineObserver(target, interval=0.01) as observer:
        observer.begin(1, "this process")
        time.sleep(0.05)
    after = out.getvalue()
    time.sleep(0.05)
    assert out.getvalue() == after
    assert "0/1 done; preparing the workers and the reference" in after


def test_in_this_process_the_heartbeat_says_what_the_notebook_is_doing() -> None:
    target, out = console(terminal=False)
    with LineObserver(target, interval=0.05) as observer:
        observer.begin(1, "this process")
        observer.running("ada")
        phase("running cell 2/9 (notebook cell 4)")
        deadline = time.monotonic() + 10
        while "this process is running" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "0/1 done; waiting for ada; this process is running cell 2/9 (notebook cell 4)" in (
        out.getvalue()
    )
