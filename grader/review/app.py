"""``grader review OUT``: the instructor's review desk, a Flask app on 127.0.0.1.

Safe by construction:

- **Token.** Every request needs the access token printed at start: in the URL once (it is
  then moved into an ``HttpOnly``, ``SameSite=Strict`` cookie and the URL is cleaned), or in
  that cookie. Without it: 403.
- **Host header.** Only ``127.0.0.1:PORT``, ``localhost:PORT`` and ``[::1]:PORT`` are served,
  so a web page whose name an attacker re-points at 127.0.0.1 (DNS rebinding) gets 403.
- **Writes.** Every ``POST`` carries a CSRF secret derived from the token (a header from the
  app's script, a hidden field in its forms), and a cross-site ``Origin`` is refused.
- **What students wrote** is only ever text: Jinja2 autoescapes every page, answers sit in
  ``<pre>``, and the Content-Security-Policy allows no inline script at all (the app's one
  script is a static file). The generated ``report.html`` is shown in a sandboxed iframe,
  served with its own ``sandbox`` CSP: no script, no form, no navigation of the app.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import threading
import typing as t
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import flask
import jinja2
from werkzeug.wrappers import Response

from grader.batch.entry import BatchEntry
from grader.exceptions import ReviewConflictError, ReviewError
from grader.results import GradeResult, ManualAnswer
from grader.review.db import ReviewDB, StoredManual, StoredOverride, active
from grader.review.export import ClassInfo, export_review, read_class
from grader.review.merge import ManualDecision, OverrideDecision, final_score, merged
from grader.review.rubric import ManualItem
from grader.review.similarity import Findings, load_findings

HERE = Path(__file__).parent
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
REPORT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
"""The generated report is inline CSS and SVG only; ``sandbox`` gives it an opaque origin
with no script, forms or top navigation, even opened on its own."""
MAX_TEXT = 10_000
"""Longest comment or reason accepted, in characters."""


def cookie_name(port: int) -> str:
    """The token cookie's name: cookies ignore ports, so two review desks must not share one."""
    return f"grader_review_{port}"


@dataclass
class _Class:
    """The graded class, as loaded from the output folder (reloaded after an export)."""

    info: ClassInfo
    items: list[ManualItem]
    lookalikes: Findings | None
    by_id: dict[str, int]
    stamp: tuple[int, int]
    """``batch.json``'s modification time and size: ``grader grade`` rewrites it last."""

    @classmethod
    def load(cls, out: Path) -> _Class:
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


def create_app(out: Path, *, token: str, port: int) -> flask.Flask:
    """The review app for one graded class.

    Args:
        out: the output folder ``grader grade`` wrote.
        token: the access token every request must carry.
        port: the port it is served on (the Host header must name it).

    Raises:
        ReviewError: ``out`` is not a graded class.
    """
    out = Path(out)
    db = ReviewDB.in_folder(out)
    state = {"class": _Class.load(out)}
    lock = threading.RLock()
    csrf = hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()
    allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    app = flask.Flask("grader.review", static_folder=None, template_folder=str(HERE / "templates"))
    app.config.update(MAX_CONTENT_LENGTH=256 * 1024)
    app.secret_key = secrets.token_bytes(32)
    # Flask autoescapes only templates named *.html; these are *.html.j2, so say it outright.
    app.jinja_options = {
        **app.jinja_options,
        "autoescape": True,
        "undefined": jinja2.StrictUndefined,
    }

    def klass() -> _Class:
        # A `grader grade` run while the desk is open (a late submission graded) shows at the
        # next page: answers and verdicts must be the ones the decisions are checked against.
        if _stamp(out) != state["class"].stamp:
            with lock:
                if _stamp(out) != state["class"].stamp:
                    state["class"] = _Class.load(out)
        return state["class"]

    @app.before_request
    def guard() -> Response | None:
        if request_host() not in allowed_hosts:
            return _text(403, "Forbidden: unexpected Host header.")
        given = flask.request.args.get("token", "")
        if given and hmac.compare_digest(given, token):
            # The token leaves the URL (history, screenshots) for a cookie only this app reads.
            args = {k: v for k, v in flask.request.args.items() if k != "token"}
            target = flask.request.path + ("?" + _query(args) if args else "")
            response = flask.redirect(target, code=303)
            response.set_cookie(
                cookie_name(port), token, httponly=True, samesite="Strict", path="/"
            )
            return response
        if not hmac.compare_digest(flask.request.cookies.get(cookie_name(port), ""), token):
            return _text(403, "Forbidden: open the URL with the token that grader review printed.")
        if flask.request.method == "POST":
            origin = flask.request.headers.get("Origin")
            if origin is not None and origin.removeprefix("http://") not in allowed_hosts:
                return _text(403, "Forbidden: cross-site request.")
            sent = (
                flask.request.headers.get("X-CSRF-Token")
                or flask.request.form.get("csrf")
                # A tab closing sends its last change as a beacon, which cannot set headers.
                or str((flask.request.get_json(silent=True) or {}).get("csrf", ""))
            )
            if not hmac.compare_digest(sent, csrf):
                return _text(403, "Forbidden: missing or wrong CSRF token; reload the page.")
        return None

    def request_host() -> str:
        return flask.request.headers.get("Host", "")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers["X-Content-Type-Options"] = "nosniff"
        # same-origin, not no-referrer: with no-referrer a form POST says "Origin: null".
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response

    def render(template: str, **context: t.Any) -> str:
        return flask.render_template(
            template, csrf=csrf, title=klass().info.title, items=klass().items, **context
        )

    @app.get("/static/<name>")
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            flask.abort(404)
        return Response((HERE / "static" / name).read_bytes(), mimetype=STATIC_FILES[name])

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)  # browsers ask; an error in their console helps nobody

    @app.get("/")
    def index() -> str:
        c = klass()
        manual_rows, override_rows = _grouped(db)
        all_rows = [_row(e, c, manual_rows, override_rows) for e in c.info.entries]
        rows = all_rows
        show = flask.request.args.get("show", "")
        check = flask.request.args.get("check", "")
        if show == "pending":
            rows = [r for r in rows if r["pending"]]
        elif show == "flagged":
            rows = [r for r in rows if r["flags"] or r["lookalike"]]
        elif show == "failed" or check:
            rows = [
                r
                for r in rows
                if any(
                    ch.status != "pass" and (not check or ch.id == check)
                    for ch in r["entry"].result.checks
                )
            ]
        progress = {
            item.id: sum(
                1 for r in all_rows for m in r["manual"] if m["id"] == item.id and m["graded"]
            )
            for item in c.items
        }
        checks = [ch.id for ch in c.info.entries[0].result.checks] if c.info.entries else []
        return render(
            "index.html.j2",
            rows=rows,
            show=show,
            check=check,
            checks=checks,
            total=len(c.info.entries),
            progress=progress,
            pairs=c.lookalikes.pairs if c.lookalikes else [],
            messages=flask.get_flashed_messages(),
        )

    @app.get("/q/<item_id>")
    def question(item_id: str) -> str | Response:
        c = klass()
        item = next((i for i in c.items if i.id == item_id), None)
        if item is None:
            flask.abort(404)
        students = [e.student_id for e in c.info.entries if _answer(e.result, item_id)]
        if not students:
            flask.abort(404)
        sid = flask.request.args.get("s") or students[0]
        if sid not in students:
            flask.abort(404)
        at = students.index(sid)
        answer = t.cast(ManualAnswer, _answer(c.info.entries[c.by_id[sid]].result, item_id))
        stored = db.manual(sid, item_id, answer.answer_digest)
        earlier = [
            r for r in db.manual_for(sid) if r.item == item_id and r.digest != answer.answer_digest
        ]
        graded = sum(
            1
            for s in students
            if db.manual(
                s,
                item_id,
                t.cast(
                    ManualAnswer, _answer(c.info.entries[c.by_id[s]].result, item_id)
                ).answer_digest,
            )
        )
        return render(
            "question.html.j2",
            item=item,
            sid=sid,
            name=c.info.entries[c.by_id[sid]].name,
            answer=answer,
            stored=stored,
            earlier=earlier[-1] if earlier else None,
            position=at + 1,
            count=len(students),
            graded=graded,
            previous=students[at - 1] if at > 0 else None,
            next=students[at + 1] if at + 1 < len(students) else None,
        )

    @app.post("/q/<item_id>/save")
    def save_manual(item_id: str) -> Response:
        c = klass()
        form = _form()
        sid = str(form.get("student", ""))
        if sid not in c.by_id:
            flask.abort(404)
        answer = _answer(c.info.entries[c.by_id[sid]].result, item_id)
        item = next((i for i in c.items if i.id == item_id), None)
        if answer is None or item is None:
            flask.abort(404)
        if form.get("digest") != answer.answer_digest:
            return _json_or_redirect(
                409,
                {"error": "the answer changed since this page was made; reload"},
                flask.request.path,
            )
        ticked = [int(n) for n in _list(form, "criteria") if str(n).isdigit()]
        criteria = tuple(item.criteria[n].text for n in ticked if 0 <= n < len(item.criteria))
        try:
            points = float(str(form.get("points", "")).strip() or "nan")
        except ValueError:
            points = float("nan")
        if not (0 <= points <= answer.max_score):
            return _json_or_redirect(
                400, {"error": f"points must be between 0 and {answer.max_score:g}"}, None
            )
        decision = ManualDecision(points, criteria, str(form.get("comment", ""))[:MAX_TEXT])
        try:
            version = db.save_manual(
                sid,
                item_id,
                answer.answer_digest,
                decision,
                expected_version=int(str(form.get("version", "0")) or 0),
                session=flask.request.headers.get("X-Review-Tab", "form"),
            )
        except ReviewConflictError as exc:
            return _json_or_redirect(409, {"error": exc.message, "version": exc.current}, None)
        nxt = str(form.get("next", ""))
        target = flask.url_for("question", item_id=item_id, s=nxt or sid)
        return _json_or_redirect(200, {"version": version, "saved": True}, target)

    @app.get("/s/<sid>")
    def submission(sid: str) -> str:
        c = klass()
        if sid not in c.by_id:
            flask.abort(404)
        entry = c.info.entries[c.by_id[sid]]
        overrides = {o.check: o for o in db.overrides_for(sid)}
        manual_rows, override_rows = _grouped(db, sid)
        result = _merged(entry.result, manual_rows.get(sid, []), override_rows.get(sid, []))
        pairs = [p for p in (c.lookalikes.pairs if c.lookalikes else []) if sid in (p.a, p.b)]
        return render(
            "submission.html.j2",
            entry=entry,
            result=result,
            final=final_score(result),
            overrides=overrides,
            active=active,
            applied={o.check for o in result.overrides},
            pairs=pairs,
            has_report=(out / sid / "report.html").is_file(),
        )

    @app.get("/s/<sid>/report")
    def report(sid: str) -> Response:
        c = klass()
        if sid not in c.by_id:
            flask.abort(404)
        path = out / sid / "report.html"
        if not path.is_file():
            flask.abort(404)
        response = Response(path.read_bytes(), mimetype="text/html")
        response.headers["Content-Security-Policy"] = REPORT_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    @app.post("/s/<sid>/override")
    def save_override(sid: str) -> Response:
        c = klass()
        if sid not in c.by_id:
            flask.abort(404)
        form = _form()
        check_id = str(form.get("check", ""))
        check = next(
            (ch for ch in c.info.entries[c.by_id[sid]].result.checks if ch.id == check_id), None
        )
        if check is None:
            flask.abort(404)
        target = flask.url_for("submission", sid=sid)
        decision: OverrideDecision | None = None
        if not form.get("clear"):
            try:
                score = float(str(form.get("score", "")).strip() or "nan")
            except ValueError:
                score = float("nan")
            reason = str(form.get("reason", "")).strip()[:MAX_TEXT]
            if not (0 <= score <= check.max_score) or not reason:
                return _json_or_redirect(
                    400,
                    {"error": f"give points between 0 and {check.max_score:g} and a reason"},
                    None,
                )
            decision = OverrideDecision(score, reason, check.status, check.score)
        try:
            version = db.save_override(
                sid,
                check_id,
                decision,
                expected_version=int(str(form.get("version", "0")) or 0),
                session=flask.request.headers.get("X-Review-Tab", "form"),
            )
        except ReviewConflictError as exc:
            return _json_or_redirect(409, {"error": exc.message, "version": exc.current}, None)
        return _json_or_redirect(200, {"version": version, "saved": True}, target)

    @app.get("/pair/<a>/<b>")
    def pair(a: str, b: str) -> str:
        c = klass()
        found = next(
            (p for p in (c.lookalikes.pairs if c.lookalikes else []) if (p.a, p.b) == (a, b)), None
        )
        if found is None:
            flask.abort(404)
        return render("pair.html.j2", pair=found)

    @app.post("/export")
    def export() -> Response:
        with lock:
            try:
                done = export_review(out)
            except ReviewError as exc:
                flask.flash(f"Export failed: {exc.message}")
                return flask.redirect(flask.url_for("index"), code=303)
            state["class"] = _Class.load(out)
        flask.flash(
            f"Exported: {len(done.updated)} result(s) rewritten; gradebook.csv, canvas.csv and "
            f"index.html written; {done.pending} answer(s) still pending."
        )
        return flask.redirect(flask.url_for("index"), code=303)

    return app


# --- helpers ---------------------------------------------------------------------------------


def _stamp(out: Path) -> tuple[int, int]:
    try:
        found = (out / "batch.json").stat()
    except OSError:
        return (0, 0)
    return (found.st_mtime_ns, found.st_size)


def _answer(result: GradeResult, item_id: str) -> ManualAnswer | None:
    return next((m for m in result.manual if m.id == item_id), None)


def _grouped(
    db: ReviewDB, sid: str | None = None
) -> tuple[dict[str, list[StoredManual]], dict[str, list[StoredOverride]]]:
    manual: dict[str, list[StoredManual]] = {}
    overrides: dict[str, list[StoredOverride]] = {}
    for row in db.manual_for(sid) if sid is not None else db.all_manual():
        manual.setdefault(row.student, []).append(row)
    for o in db.overrides_for(sid) if sid is not None else db.all_overrides():
        if active(o):
            overrides.setdefault(o.student, []).append(o)
    return manual, overrides


def _merged(
    result: GradeResult, rows: Sequence[StoredManual], overrides: Sequence[StoredOverride]
) -> GradeResult:
    digests = {(m.id, m.answer_digest) for m in result.manual}
    out, _ = merged(
        result,
        manual={(r.item, r.digest): r.decision for r in rows},
        earlier_answers={r.item for r in rows if (r.item, r.digest) not in digests},
        overrides={o.check: o.decision for o in overrides},
    )
    return out


def _row(
    entry: BatchEntry,
    c: _Class,
    manual: dict[str, list[StoredManual]],
    overrides: dict[str, list[StoredOverride]],
) -> dict[str, t.Any]:
    sid = entry.student_id
    result = _merged(entry.result, manual.get(sid, []), overrides.get(sid, []))
    final = final_score(result)
    pairs = c.lookalikes.pairs if c.lookalikes else []
    return {
        "entry": dataclasses.replace(entry, result=result),
        "final": final,
        "pending": bool(final.pending),
        "flags": result.flags,
        "lookalike": [p for p in pairs if entry.student_id in (p.a, p.b)],
        "manual": [
            {
                "id": m.id,
                "graded": m.status == "graded",
                "score": m.score,
                "changed": m.answer_changed,
            }
            for m in result.manual
        ],
        "overridden": len(result.overrides),
    }


def _form() -> dict[str, t.Any]:
    if flask.request.is_json:
        data = flask.request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    form = flask.request.form
    return {k: (form.getlist(k) if k == "criteria" else form.get(k)) for k in form}


def _list(form: dict[str, t.Any], key: str) -> Sequence[t.Any]:
    value = form.get(key, [])
    return value if isinstance(value, list) else [value]


def _json_or_redirect(status: int, body: dict[str, t.Any], target: str | None) -> Response:
    if flask.request.is_json or target is None:
        return flask.make_response(flask.jsonify(body), status)
    return flask.redirect(target, code=303)


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _query(args: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(args)
