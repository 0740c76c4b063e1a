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

import hmac
import secrets
from pathlib import Path
from urllib.parse import urlencode

import flask
import jinja2
from werkzeug.wrappers import Response

from grader.review import views
from grader.review.db import ReviewDB
from grader.review.desk import HERE, Class, Desk, desk

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def cookie_name(port: int) -> str:
    """The token cookie's name: cookies ignore ports, so two review desks must not share one."""
    return f"grader_review_{port}"


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
    app = flask.Flask("grader.review", static_folder=None, template_folder=str(HERE / "templates"))
    app.config.update(MAX_CONTENT_LENGTH=256 * 1024)
    app.secret_key = secrets.token_bytes(32)
    # Flask autoescapes only templates named *.html; these are *.html.j2, so say it outright.
    app.jinja_options = {
        **app.jinja_options,
        "autoescape": True,
        "undefined": jinja2.StrictUndefined,
    }
    app.extensions["review"] = Desk(out, ReviewDB.in_folder(out), token, port, Class.load(out))
    app.before_request(guard)
    app.after_request(security_headers)
    views.register(app)
    return app


def guard() -> Response | None:
    """Refuse a request without the token, from another host, or a write without CSRF."""
    d = desk()
    request = flask.request
    if request.headers.get("Host", "") not in d.hosts:
        return _text(403, "Forbidden: unexpected Host header.")
    given = request.args.get("token", "")
    if given and hmac.compare_digest(given, d.token):
        # The token leaves the URL (history, screenshots) for a cookie only this app reads.
        args = {k: v for k, v in request.args.items() if k != "token"}
        target = request.path + ("?" + urlencode(args) if args else "")
        response = flask.redirect(target, code=303)
        response.set_cookie(
            cookie_name(d.port), d.token, httponly=True, samesite="Strict", path="/"
        )
        return response
    if not hmac.compare_digest(request.cookies.get(cookie_name(d.port), ""), d.token):
        return _text(403, "Forbidden: open the URL with the token that grader review printed.")
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin is not None and origin.removeprefix("http://") not in d.hosts:
            return _text(403, "Forbidden: cross-site request.")
        sent = (
            request.headers.get("X-CSRF-Token")
            or request.form.get("csrf")
            # A tab closing sends its last change as a beacon, which cannot set headers.
            or str((request.get_json(silent=True) or {}).get("csrf", ""))
        )
        if not hmac.compare_digest(sent, d.csrf):
            return _text(403, "Forbidden: missing or wrong CSRF token; reload the page.")
    return None


def security_headers(response: Response) -> Response:
    """No framing, no sniffing, no caching, and the desk's CSP unless a view set its own."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: with no-referrer a form POST says "Origin: null".
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return response


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")
