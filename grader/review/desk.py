"""The review desk's state: the graded class it shows (reloaded when ``grader grade`` wrote it
again), its decisions' database, its token; :func:`desk` gives a request's view its desk."""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from pathlib import Path

import flask

from grader.lookalikes.finder import Findings, load_findings
from grader.review.db import ReviewDB
from grader.review.export import ClassInfo, ReviewState, export_review, read_class
from grader.rubric.manual import ManualItem

HERE = Path(__file__).parent


@dataclass
class Class:
    """The graded class, as loaded from the output folder (reloaded after an export)."""

    info: ClassInfo
    items: list[ManualItem]
    lookalikes: Findings | None
    by_id: dict[str, int]
    stamp: tuple[int, int]
    """``batch.json``'s modification time and size: ``grader grade`` rewrites it last."""

    @classmethod
    def load(cls, out: Path) -> Class:
        info = read_class(out)
        items = list(info.manual)
        if not items:
            # Without the rubric (moved, renamed), the items come from the results: no criteria.
            seen: dict[str, ManualItem] = {}
            for entry in info.entries:
                for m in entry.result.manual:
                    seen.setdefault(m.id, ManualItem(m.id, m.title, m.max_score, prompt=m.title))
            items = list(seen.values())
        by_id = {e.student_id: n for n, e in enumerate(info.entries)}
        return cls(info, items, load_findings(out), by_id, _stamp(out))


@dataclass
class Desk:
    """One graded class's review desk: where it is, its decisions, and who may use it."""

    out: Path
    db: ReviewDB
    token: str
    port: int
    loaded: Class
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def csrf(self) -> str:
        """The secret every write carries, derived from the token."""
        return hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()

    @property
    def hosts(self) -> set[str]:
        """The Host headers served: anything else is a page re-pointed at 127.0.0.1."""
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}", f"[::1]:{self.port}"}

    def klass(self) -> Class:
        """The class as graded now."""
        # A `grader grade` run while the desk is open (a late submission graded) shows at the
        # next page: answers and verdicts must be the ones the decisions are checked against.
        if _stamp(self.out) != self.loaded.stamp:
            with self.lock:
                if _stamp(self.out) != self.loaded.stamp:
                    self.loaded = Class.load(self.out)
        return self.loaded

    def export(self) -> ReviewState:
        """Write the decisions into the results and the class files, then reload the class.

        Raises:
            ReviewError: the export could not be written.
        """
        with self.lock:
            done = export_review(self.out)
            self.loaded = Class.load(self.out)
        return done


def desk() -> Desk:
    """The desk of the app serving this request."""
    return flask.current_app.extensions["review"]  # type: ignore[no-any-return]


def _stamp(out: Path) -> tuple[int, int]:
    try:
        found = (out / "batch.json").stat()
    except OSError:
        return (0, 0)
    return (found.st_mtime_ns, found.st_size)
