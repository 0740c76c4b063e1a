"""The review desk's pages and the decisions they save.

:func:`~grader.review.app.create_app` registers them. Every view reads the class through
:func:`grader.review.desk.desk`: the request has passed the desk's guard (token, Host, CSRF)
before any of them runs.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Sequence

import flask
from werkzeug.wrappers import Response

from grader.exceptions import ReviewConflictError, ReviewError
from grader.export.entry import BatchEntry
from grader.results import GradeResult, ManualAnswer
from grader.review.db import ReviewDB, StoredManual, StoredOverride, active
from grader.review.desk import HERE, Class, desk
from grader.review.merge import ManualDecision, OverrideDecision, merged
from grader.score import final_score

STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
MAX_TEXT = 10_000
"""Longest comment or reason accepted, in characters."""

REPORT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
"""The generated report is inline CSS and SVG only; ``sandbox`` gives it an opaque origin
with no script, forms or top navigation, even opened on its own."""


def register(app: flask.Flask) -> None:
    """Add the desk's pages to ``app``, under the endpoint names the templates use."""
    for rule, view, methods in (
        ("/static/<name>", static, ["GET"]),
        ("/favicon.ico", favicon, ["GET"]),
        ("/", index, ["GET"]),
        ("/q/<item_id>", question, ["GET"]),
        ("/q/<item_id>/save", save_manual, ["POST"]),
        ("/s/<sid>", submission, ["GET"]),
        ("/s/<sid>/report", report, ["GET"]),
        ("/s/<sid>/override", save_override, ["POST"]),
        ("/pair/<a>/<b>", pair, ["GET"]),
        ("/export", export, ["POST"]),
    ):
        app.add_url_rule(rule, view_func=view, methods=methods)


def _render(template: str, **context: t.Any) -> str:
    d = desk()
    c = d.klass()
    return flask.render_template(
        template, csrf=d.csrf, title=c.info.title, items=c.items, **context
    )


def static(name: str) -> Response:
    if name not in STATIC_FILES:
        flask.abort(404)
    return Response((HERE / "static" / name).read_bytes(), mimetype=STATIC_FILES[name])


def favicon() -> Response:
    return Response(status=204)  # browsers ask; an error in their console helps nobody


def index() -> str:
    d = desk()
    c = d.klass()
    manual_rows, override_rows = _grouped(d.db)
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
        item.id: sum(1 for r in all_rows for m in r["manual"] if m["id"] == item.id and m["graded"])
        for item in c.items
    }
    checks = [ch.id for ch in c.info.entries[0].result.checks] if c.info.entries else []
    return _render(
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


def question(item_id: str) -> str | Response:
    d = desk()
    c = d.klass()
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
    stored = d.db.manual(sid, item_id, answer.answer_digest)
    earlier = [
        r for r in d.db.manual_for(sid) if r.item == item_id and r.digest != answer.answer_digest
    ]
    graded = sum(
        1
        for s in students
        if d.db.manual(
            s,
            item_id,
            t.cast(ManualAnswer, _answer(c.info.entries[c.by_id[s]].result, item_id)).answer_digest,
        )
    )
    return _render(
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


def save_manual(item_id: str) -> Response:
    d = desk()
    c = d.klass()
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
        version = d.db.save_manual(
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


def submission(sid: str) -> str:
    d = desk()
    c = d.klass()
    if sid not in c.by_id:
        flask.abort(404)
    entry = c.info.entries[c.by_id[sid]]
    overrides = {o.check: o for o in d.db.overrides_for(sid)}
    manual_rows, override_rows = _grouped(d.db, sid)
    result = _merged(entry.result, manual_rows.get(sid, []), override_rows.get(sid, []))
    pairs = [p for p in (c.lookalikes.pairs if c.lookalikes else []) if sid in (p.a, p.b)]
    return _render(
        "submission.html.j2",
        entry=entry,
        result=result,
        final=final_score(result),
        overrides=overrides,
        active=active,
        applied={o.check for o in result.overrides},
        pairs=pairs,
        has_report=(d.out / sid / "report.html").is_file(),
    )


def report(sid: str) -> Response:
    d = desk()
    c = d.klass()
    if sid not in c.by_id:
        flask.abort(404)
    path = d.out / sid / "report.html"
    if not path.is_file():
        flask.abort(404)
    response = Response(path.read_bytes(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def save_override(sid: str) -> Response:
    d = desk()
    c = d.klass()
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
        version = d.db.save_override(
            sid,
            check_id,
            decision,
            expected_version=int(str(form.get("version", "0")) or 0),
            session=flask.request.headers.get("X-Review-Tab", "form"),
        )
    except ReviewConflictError as exc:
        return _json_or_redirect(409, {"error": exc.message, "version": exc.current}, None)
    return _json_or_redirect(200, {"version": version, "saved": True}, target)


def pair(a: str, b: str) -> str:
    c = desk().klass()
    found = next(
        (p for p in (c.lookalikes.pairs if c.lookalikes else []) if (p.a, p.b) == (a, b)), None
    )
    if found is None:
        flask.abort(404)
    return _render("pair.html.j2", pair=found)


def export() -> Response:
    try:
        done = desk().export()
    except ReviewError as exc:
        flask.flash(f"Export failed: {exc.message}")
        return flask.redirect(flask.url_for("index"), code=303)
    flask.flash(
        f"Exported: {len(done.updated)} result(s) rewritten; gradebook.csv, canvas.csv and "
        f"index.html written; {done.pending} answer(s) still pending."
    )
    return flask.redirect(flask.url_for("index"), code=303)


# --- helpers ---------------------------------------------------------------------------------


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
    c: Class,
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
