"""Open a page in headless Chromium and report what a person (and the console) would see.

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe`` (commands on
file descriptor 3, replies on 4, each a JSON message ended by a NUL byte): no port, no
websocket library, and no browser download, only Debian's ``chromium`` package. Every host name
resolves to nothing and the proxy points to a closed port, so a page that tries to reach the
network is recorded and never gets through.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
APT_PACKAGE = "chromium"


def find_or_install() -> str:
    """The ``chromium`` executable; installed with apt when missing and running as root.

    Raises:
        RuntimeError: Chromium is missing and cannot be installed here.
    """
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "chromium is not installed: run `apt-get install chromium` as root (make test does)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", APT_PACKAGE], check=True, env=env)
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("apt-get installed chromium, but no `chromium` is on PATH")
    return found


@dataclass
class PageReport:
    """What loading one page produced."""

    requests: list[str] = field(default_factory=list)
    """Every URL the page asked for, the page itself included."""
    console_errors: list[str] = field(default_factory=list)
    """console.error calls, uncaught exceptions and browser log entries of level error."""
    visible: dict[str, bool] = field(default_factory=dict)
    """CSS selector -> whether its first match is rendered with a non-empty box."""
    print_visible: dict[str, bool] = field(default_factory=dict)
    """The same, with the print stylesheet applied."""
    screenshot: bytes = b""
    """PNG of the whole page."""
    pdf: bytes = b""
    """The page printed to PDF."""
    fits_width: bool = False
    """Nothing sticks out sideways: the page needs no horizontal scrolling."""
    unlabelled: list[str] = field(default_factory=list)
    """Images without alt text, charts without an accessible name, tables without headers."""

    @property
    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]


_LAYOUT_JS = """
({
  fitsWidth: document.documentElement.scrollWidth <= document.documentElement.clientWidth,
  unlabelled: [
    ...[...document.querySelectorAll("img:not([alt])")].map(e => "img " + e.src),
    ...[...document.querySelectorAll("svg:not([aria-label])")]
        .map(e => "svg " + e.outerHTML.slice(0, 60)),
    ...[...document.querySelectorAll("table")].filter(t => !t.querySelector("th"))
        .map(t => "table " + (t.id || t.className)),
  ],
})
"""

_VISIBLE_JS = """
(selectors => Object.fromEntries(selectors.map(sel => {
  const el = document.querySelector(sel);
  if (!el) return [sel, false];
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return [sel, box.width > 0 && box.height > 0 && style.visibility !== "hidden"
               && style.display !== "none" && Number(style.opacity) > 0];
})))(%s)
"""


class Chromium:
    """One headless Chromium process, driven over the DevTools pipe."""

    def __init__(
        self, executable: str, timeout_s: float = 60.0, reachable: t.Sequence[str] = ()
    ) -> None:
        """Start the browser.

        Args:
            executable: the ``chromium`` binary.
            timeout_s: how long to wait for any one reply.
            reachable: hosts left out of the resolver's block, e.g. ``127.0.0.1`` for a test
                server on the loopback (the review desk); every other name still resolves to
                nothing.
        """
        self.timeout_s = timeout_s
        rules = "MAP * ~NOTFOUND" + "".join(f", EXCLUDE {host}" for host in reachable)
        self._profile = tempfile.TemporaryDirectory(prefix="grader-chromium-")
        commands_r, self._commands_w = _high_pipe()
        self._replies_r, replies_w = _high_pipe()
        args = [
            executable,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile.name}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            # No request may leave the machine: names resolve to nothing, the proxy is closed.
            f"--host-resolver-rules={rules}",
            "--proxy-server=127.0.0.1:9",
            "--window-size=1280,1600",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to start its sandbox as root.
        # The protocol's descriptors must be exactly 3 and 4 in the browser; the shell puts them
        # there without disturbing whatever the test process holds at those numbers.
        wrapper = f'exec "$0" "$@" 3<&{commands_r} 4>&{replies_w}'
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the browser
        self.process = subprocess.Popen(
            ["bash", "-c", wrapper, *args],
            pass_fds=(commands_r, replies_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(commands_r)
        os.close(replies_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, t.Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            if self.process.poll() is None:
                self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._commands_w, self._replies_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._log.close()
        self._profile.cleanup()

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    # --- protocol ---------------------------------------------------------------------------

    def send(
        self, method: str, params: dict[str, t.Any] | None = None, session: str | None = None
    ) -> dict[str, t.Any]:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, t.Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands_w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return t.cast(dict[str, t.Any], reply.get("result", {}))
            self._events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, t.Any]:
        """Wait for an event of one session; earlier events stay available."""
        for event in self._events:
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        while True:
            event = self._receive()
            self._events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event

    def _receive(self) -> dict[str, t.Any]:
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._replies_r], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"chromium did not answer in {self.timeout_s} s:\n{self.log()}")
            chunk = os.read(self._replies_r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited:\n{self.log()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return t.cast(dict[str, t.Any], json.loads(message))

    # --- what a test asks -------------------------------------------------------------------

    def inspect(self, page: Path, selectors: t.Sequence[str]) -> PageReport:
        """Load ``page``, then collect requests, console errors, visibility, screenshot, PDF."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self._events.clear()
        self.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        self.wait_for("Page.loadEventFired", session)
        report = PageReport()
        report.visible = self._visible(selectors, session)
        layout = self._evaluate(_LAYOUT_JS, session)
        report.fits_width, report.unlabelled = layout["fitsWidth"], layout["unlabelled"]
        report.screenshot = base64.b64decode(
            self.send(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True},
                session=session,
            )["data"]
        )
        self.send("Emulation.setEmulatedMedia", {"media": "print"}, session=session)
        report.print_visible = self._visible(selectors, session)
        report.pdf = base64.b64decode(
            self.send("Page.printToPDF", {"printBackground": False}, session=session)["data"]
        )
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                text = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                report.console_errors.append(f"console.{params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                description = details.get("exception", {}).get("description", details["text"])
                report.console_errors.append(f"exception: {description}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                report.console_errors.append(f"log: {entry['text']} {entry.get('url', '')}")
        self.send("Target.closeTarget", {"targetId": target})
        return report

    def _visible(self, selectors: t.Sequence[str], session: str) -> dict[str, bool]:
        return t.cast(
            dict[str, bool], self._evaluate(_VISIBLE_JS % json.dumps(list(selectors)), session)
        )

    def _evaluate(self, expression: str, session: str) -> t.Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating a check failed: {result['exceptionDetails']}")
        return result["result"]["value"]


def _high_pipe() -> tuple[int, int]:
    """A pipe whose two ends sit above 9, clear of the numbers 3 and 4 the browser needs."""
    r, w = os.pipe()
    high = (fcntl.fcntl(r, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(w, fcntl.F_DUPFD_CLOEXEC, 10))
    os.close(r)
    os.close(w)
    return high
