"""The review desk's access log (werkzeug's, on stderr) never carries the token."""

from __future__ import annotations

import contextlib
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from grader.review.cli import open_server
from tests.review.fixtures import build_class

TOKEN = "log-test-token-6f1c"


def test_the_access_log_leaves_the_token_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    graded = build_class(tmp_path)
    server = open_server(graded.out, port=0, token=TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in (f"/?token={TOKEN}", f"/s/alice?x=1&token={TOKEN}", f"/?%74oken={TOKEN}"):
                # A redirect to a page that wants the cookie: the log is what counts.
                with contextlib.suppress(urllib.error.HTTPError):
                    urllib.request.urlopen(base + path, timeout=10).close()
    finally:
        server.shutdown()
        server.server_close()
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert not any(TOKEN in line for line in lines), lines
    assert len(lines) >= 3 and any("GET /?… HTTP" in line for line in lines)
