"""Every review decision, in one SQLite file in the output folder (``OUT/review.sqlite``).

Each write is one transaction (``BEGIN IMMEDIATE``) in WAL mode with ``synchronous=FULL``: a
decision the app acknowledged survives a crash of the app or the machine, and readers never
see half of one. Writes carry the version the writer last read (optimistic concurrency): a
second tab or a second session that edits the same answer from a stale page gets a
:class:`~grader.exceptions.ReviewConflictError` with the current decision, instead of silently
overwriting it. Every write is also appended to ``log``, so nothing is ever lost, only
superseded.

Manual grades are keyed by ``(student, item, answer digest)``: after a re-grade, a decision
still applies to an unchanged answer, and an answer that changed is pending again (its old
decision stays in the database and is shown beside it).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sqlite3
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.exceptions import ReviewConflictError, ReviewError
from grader.review.merge import ManualDecision, OverrideDecision

FILENAME = "review.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 15_000
"""How long a writer waits for another writer's transaction before giving up."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS manual (
    student TEXT NOT NULL, item TEXT NOT NULL, digest TEXT NOT NULL,
    points REAL NOT NULL, criteria TEXT NOT NULL, comment TEXT NOT NULL,
    version INTEGER NOT NULL, updated_at TEXT NOT NULL, session TEXT NOT NULL,
    PRIMARY KEY (student, item, digest)
);
CREATE TABLE IF NOT EXISTS overrides (
    student TEXT NOT NULL, check_id TEXT NOT NULL,
    score REAL NOT NULL, reason TEXT NOT NULL,
    automatic_status TEXT NOT NULL, automatic_score REAL NOT NULL,
    version INTEGER NOT NULL, updated_at TEXT NOT NULL, session TEXT NOT NULL,
    PRIMARY KEY (student, check_id)
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, session TEXT NOT NULL,
    kind TEXT NOT NULL, student TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredManual:
    """A manual grade as stored, with its version."""

    student: str
    item: str
    digest: str
    decision: ManualDecision
    version: int
    updated_at: str


@dataclass(frozen=True)
class StoredOverride:
    """A check override as stored, with its version."""

    student: str
    check: str
    decision: OverrideDecision
    version: int
    updated_at: str


class ReviewDB:
    """The review database of one output folder.

    Args:
        path: the SQLite file (created with its tables when missing).

    Raises:
        ReviewError: the file is not a review database of this version.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self._connect() as db:
            # WAL lets the app's readers go on while one writer commits; FULL makes every
            # acknowledged commit durable.
            db.execute("PRAGMA journal_mode=WAL")
            with _transaction(db):
                # executescript would commit first: one statement at a time stays inside.
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row is None:
                    db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif row[0] != str(SCHEMA_VERSION):
                    raise ReviewError(
                        f"{self.path}: review database version {row[0]}, this grader reads "
                        f"{SCHEMA_VERSION}; use the grader version that wrote it"
                    )

    @classmethod
    def in_folder(cls, out: Path) -> ReviewDB:
        """The database of an output folder, ``OUT/review.sqlite``."""
        return cls(Path(out) / FILENAME)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise ReviewError(f"{self.path}: cannot open the review database ({exc})") from exc
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        except sqlite3.DatabaseError as exc:
            raise ReviewError(f"{self.path}: review database error ({exc})") from exc
        finally:
            db.close()

    # --- manual grades -----------------------------------------------------------------------

    def manual(self, student: str, item: str, digest: str) -> StoredManual | None:
        """The grade of one answer, if any."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM manual WHERE student = ? AND item = ? AND digest = ?",
                (student, item, digest),
            ).fetchone()
        return _manual_row(row) if row else None

    def manual_for(self, student: str) -> list[StoredManual]:
        """Every grade of one student's answers, current and earlier answers alike."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM manual WHERE student = ? ORDER BY item, updated_at", (student,)
            ).fetchall()
        return [_manual_row(r) for r in rows]

    def all_manual(self) -> list[StoredManual]:
        """Every manual grade in the database."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM manual ORDER BY student, item").fetchall()
        return [_manual_row(r) for r in rows]

    def save_manual(
        self,
        student: str,
        item: str,
        digest: str,
        decision: ManualDecision,
        *,
        expected_version: int,
        session: str = "",
    ) -> int:
        """Store the grade of one answer, if nobody changed it since ``expected_version``.

        Args:
            student: the student id.
            item: the ``[[manual]]`` item id.
            digest: the answer's digest (:func:`grader.answers.answer_digest`).
            decision: points, criteria ticked and comment.
            expected_version: the version the writer last read; 0 for none.
            session: who writes (for the log).

        Returns:
            The new version.

        Raises:
            ReviewConflictError: the stored version is not ``expected_version``.
        """
        with self._connect() as db, _transaction(db):
            row = db.execute(
                "SELECT version FROM manual WHERE student = ? AND item = ? AND digest = ?",
                (student, item, digest),
            ).fetchone()
            current = row[0] if row else 0
            if current != expected_version:
                raise ReviewConflictError(
                    f"{student}/{item}: changed elsewhere (version {current}, this page had "
                    f"{expected_version}); reload to see it",
                    current=current,
                )
            version = current + 1
            now = _now()
            db.execute(
                "INSERT OR REPLACE INTO manual VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    student,
                    item,
                    digest,
                    decision.points,
                    json.dumps(list(decision.criteria)),
                    decision.comment,
                    version,
                    now,
                    session,
                ),
            )
            _log(db, now, session, "manual", student, f"{item}@{digest[:12]}", decision.__dict__)
        return version

    # --- overrides ---------------------------------------------------------------------------

    def overrides_for(self, student: str) -> list[StoredOverride]:
        """One student's check overrides."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM overrides WHERE student = ? ORDER BY check_id", (student,)
            ).fetchall()
        return [_override_row(r) for r in rows]

    def all_overrides(self) -> list[StoredOverride]:
        """Every check override in the database."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM overrides ORDER BY student, check_id").fetchall()
        return [_override_row(r) for r in rows]

    def save_override(
        self,
        student: str,
        check: str,
        decision: OverrideDecision | None,
        *,
        expected_version: int,
        session: str = "",
    ) -> int:
        """Store (or, with ``decision=None``, remove) one check's override.

        Returns:
            The new version (a removal keeps counting, so a stale page still conflicts).

        Raises:
            ReviewConflictError: the stored version is not ``expected_version``.
        """
        with self._connect() as db, _transaction(db):
            row = db.execute(
                "SELECT version FROM overrides WHERE student = ? AND check_id = ?",
                (student, check),
            ).fetchone()
            current = row[0] if row else 0
            if current != expected_version:
                raise ReviewConflictError(
                    f"{student}/{check}: changed elsewhere (version {current}, this page had "
                    f"{expected_version}); reload to see it",
                    current=current,
                )
            now = _now()
            version = current + 1
            if decision is None:
                # A removed override is kept as a row with no effect (reason says so), so that
                # its version goes on counting.
                db.execute(
                    "UPDATE overrides SET score = -1, reason = '', version = ?, updated_at = ?,"
                    " session = ? WHERE student = ? AND check_id = ?",
                    (version, now, session, student, check),
                )
                _log(db, now, session, "override-removed", student, check, {})
                return version
            db.execute(
                "INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    student,
                    check,
                    decision.score,
                    decision.reason,
                    decision.automatic_status,
                    decision.automatic_score,
                    version,
                    now,
                    session,
                ),
            )
            _log(db, now, session, "override", student, check, decision.__dict__)
        return version

    def log(self, student: str | None = None) -> list[dict[str, t.Any]]:
        """The write log, oldest first (every decision ever made, superseded ones too)."""
        query = "SELECT at, session, kind, student, key, payload FROM log"
        args: tuple[str, ...] = ()
        if student is not None:
            query, args = query + " WHERE student = ?", (student,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        keys = ("at", "session", "kind", "student", "key", "payload")
        return [{**dict(zip(keys, r, strict=True)), "payload": json.loads(r[5])} for r in rows]


def active(override: StoredOverride) -> bool:
    """Whether a stored override is in force (a removed one stays as a row, with no effect)."""
    return override.decision.score >= 0


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock at the start: two writers never both read version N and
    # both write N + 1.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _log(
    db: sqlite3.Connection,
    at: str,
    session: str,
    kind: str,
    student: str,
    key: str,
    payload: dict[str, t.Any],
) -> None:
    db.execute(
        "INSERT INTO log (at, session, kind, student, key, payload) VALUES (?, ?, ?, ?, ?, ?)",
        (at, session, kind, student, key, json.dumps(payload, default=list)),
    )


def _manual_row(row: tuple[t.Any, ...]) -> StoredManual:
    student, item, digest, points, criteria, comment, version, updated_at, _ = row
    return StoredManual(
        student,
        item,
        digest,
        ManualDecision(float(points), tuple(json.loads(criteria)), comment),
        int(version),
        updated_at,
    )


def _override_row(row: tuple[t.Any, ...]) -> StoredOverride:
    student, check, score, reason, status, automatic, version, updated_at, _ = row
    return StoredOverride(
        student,
        check,
        OverrideDecision(float(score), reason, status, float(automatic)),
        int(version),
        updated_at,
    )


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
