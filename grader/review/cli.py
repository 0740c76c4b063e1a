"""``grader review OUT``: serve the review desk, or ``--export`` the decisions without it."""

from __future__ import annotations

import importlib.util
import re
import secrets
import sys
import threading
import typing as t
import webbrowser
from pathlib import Path

import click

from grader.exceptions import GraderError, MissingExtraError, ReviewError

if t.TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

HOST = "127.0.0.1"
_QUERY = re.compile(r"\?[^\s\"]*")


@click.command()
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1; 0 picks a free one.",
)
@click.option("--no-browser", is_flag=True, help="Print the URL without opening a browser.")
@click.option(
    "--export",
    "export_only",
    is_flag=True,
    help="Write the decisions into result.json, the reports and the gradebooks, then exit.",
)
def review(out: Path, port: int, no_browser: bool, export_only: bool) -> None:
    """Review OUT (a folder `grader grade` wrote): written answers, overrides, look-alikes.

    Serves a web app on 127.0.0.1 only, behind an access token printed here (open the URL as
    printed). Every decision is saved at once in OUT/review.sqlite; Export (or --export)
    writes them into result.json, the reports, gradebook.csv, canvas.csv and Gradescope's
    results.json. `grader grade` keeps decisions that still apply when it grades again.
    """
    from grader.review.export import export_review

    try:
        if export_only:
            state = export_review(out)
            click.echo(
                f"{out}: {len(state.updated)} result(s) rewritten; gradebook.csv, canvas.csv and "
                f"index.html written; {state.pending} answer(s) pending"
            )
            for sid, item in state.changed_answers:
                click.secho(f"  {sid}/{item}: the answer changed since it was graded", fg="yellow")
            for sid, check in state.stale_overrides:
                click.secho(
                    f"  {sid}/{check}: override not applied, the verdict changed", fg="yellow"
                )
            return
        serve(out, port=port, open_browser=not no_browser)
    except GraderError as exc:
        click.secho(f"error: {exc.message.splitlines()[0]}", fg="red", err=True)
        sys.exit(exc.exit_code)


def serve(out: Path, *, port: int = 0, open_browser: bool = True) -> None:
    """Serve the review app on 127.0.0.1 until interrupted.

    Raises:
        MissingExtraError: Flask (the ``[review]`` extra) is not installed.
        ReviewError: ``out`` is not a graded class, or the port is taken.
    """
    if importlib.util.find_spec("flask") is None:
        raise MissingExtraError("grader review", "review", "Flask")
    token = secrets.token_urlsafe(32)
    server = open_server(out, port=port, token=token)
    url = f"http://{HOST}:{server.server_port}/?token={token}"
    click.echo(
        f"Review desk for {out}:\n    {url}\nCtrl-C stops it; every decision is already saved."
    )
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


def open_server(out: Path, *, port: int, token: str) -> BaseWSGIServer:
    """A threaded WSGI server on 127.0.0.1 serving the review app (not started yet).

    Raises:
        ReviewError: ``out`` is not a graded class, or the port is taken.
    """
    from werkzeug.serving import make_server

    from grader.review.app import create_app

    try:
        # Bound first, so that the app knows the port a 0 picked (its Host check needs it).
        server = make_server(HOST, port, _Late(), threaded=True, request_handler=_handler())
    except OSError as exc:
        raise ReviewError(f"cannot listen on {HOST}:{port} ({exc}); pick another --port") from exc
    try:
        server.app = create_app(out, token=token, port=server.server_port)
    except BaseException:
        server.server_close()
        raise
    return server


def redact(line: str) -> str:
    """A log line without the query strings of the URLs in it (the first holds the token)."""
    return _QUERY.sub("?…", line)


def _handler() -> type[WSGIRequestHandler]:
    """werkzeug's request handler, whose access and error log (on stderr) carry no token."""
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: t.Any) -> None:
            super().log(type, "%s", redact(message % args))

    return Handler


class _Late:
    """A WSGI placeholder until the app exists (never called: replaced before serving)."""

    def __call__(self, environ: object, start_response: object) -> list[bytes]:
        raise RuntimeError("the review app was not installed")
