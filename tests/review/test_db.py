"""The review database: transactions, versions, two writers, re-grading."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from grader.exceptions import ReviewConflictError, ReviewError
from grader.review.db import ReviewDB, active
from grader.review.merge import ManualDecision, OverrideDecision


def test_a_decision_round_trips_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    db = ReviewDB.in_folder(tmp_path)
    version = db.save_manual(
        "s1", "w", "d", ManualDecision(4, ("a", "b"), "ok"), expected_version=0
    )
    assert version == 1
    stored = db.manual("s1", "w", "d")
    assert stored is not None and stored.decision == ManualDecision(4.0, ("a", "b"), "ok")
    with sqlite3.connect(tmp_path / "review.sqlite") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # A second handle (another tab's request, the app restarted) sees it.
    assert ReviewDB.in_folder(tmp_path).manual("s1", "w", "d") == stored


def test_a_write_from_a_stale_page_is_refused_not_lost(tmp_path: Path) -> None:
    db = ReviewDB.in_folder(tmp_path)
    db.save_manual("s1", "w", "d", ManualDecision(4, (), "tab A"), expected_version=0)
    with pytest.raises(ReviewConflictError) as caught:
        db.save_manual("s1", "w", "d", ManualDecision(9, (), "tab B"), expected_version=0)
    assert caught.value.current == 1
    assert db.manual("s1", "w", "d").decision.comment == "tab A"  # type: ignore[union-attr]
    # Nothing is ever lost: the log keeps every accepted write.
    assert [e["payload"]["comment"] for e in db.log("s1")] == ["tab A"]


def test_overrides_are_kept_removed_and_still_versioned(tmp_path: Path) -> None:
    db = ReviewDB.in_folder(tmp_path)
    decision = OverrideDecision(10, "froze after compile", "fail", 0.0)
    assert db.save_override("s1", "transfer.frozen", decision, expected_version=0) == 1
    [stored] = db.overrides_for("s1")
    assert active(stored) and stored.decision == decision
    assert db.save_override("s1", "transfer.frozen", None, expected_version=1) == 2
    [removed] = db.overrides_for("s1")
    assert not active(removed) and removed.version == 2
    with pytest.raises(ReviewConflictError):
        db.save_override("s1", "transfer.frozen", decision, expected_version=1)


def test_an_unreadable_database_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "review.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ReviewError, match="review database"):
        ReviewDB.in_folder(tmp_path)


def _writer(folder: str, worker: int, count: int) -> None:
    db = ReviewDB(Path(folder) / "review.sqlite")
    for n in range(count):
        db.save_manual(
            f"s{n}",
            "w",
            f"d{worker}",
            ManualDecision(n, (), f"worker {worker}"),
            expected_version=0,
        )
        # Both also fight over one shared answer: each read-modify-write is one transaction.
        while True:
            current = db.manual("shared", "w", "d")
            try:
                db.save_manual(
                    "shared",
                    "w",
                    "d",
                    ManualDecision(n, (), f"{worker}-{n}"),
                    expected_version=current.version if current else 0,
                )
                break
            except ReviewConflictError:
                continue


def test_two_sessions_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    """Two processes (two review sessions on one folder) write 2 x 60 decisions concurrently."""
    ReviewDB.in_folder(tmp_path)
    count = 60
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), w, count)) for w in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    db = ReviewDB.in_folder(tmp_path)
    rows = db.all_manual()
    assert len([r for r in rows if r.student != "shared"]) == 2 * count
    shared = db.manual("shared", "w", "d")
    # Every one of the 120 optimistic updates of the shared answer went through, one at a time.
    assert shared is not None and shared.version == 2 * count
    assert len(db.log()) == 4 * count


def test_threads_of_one_app_share_the_file_safely(tmp_path: Path) -> None:
    db = ReviewDB.in_folder(tmp_path)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            for n in range(25):
                db.save_override(
                    f"t{worker}-{n}", "c", OverrideDecision(1, "r", "fail", 0), expected_version=0
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(db.all_overrides()) == 100
