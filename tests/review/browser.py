"""One browser tab driven like a person: keys, clicks, waits; and what the page did meanwhile.

Built on :class:`tests.chromium.Chromium` (DevTools over a pipe, Debian's chromium). Each
:class:`Tab` can live in its own browser context, which is a separate cookie jar: two contexts
are two review sessions.
"""

from __future__ import annotations

import base64
import json
import time
import typing as t

from tests.chromium import Chromium

_KEYS = {
    "Escape": ("Escape", 27),
    "ArrowRight": ("ArrowRight", 39),
    "ArrowLeft": ("ArrowLeft", 37),
}


class Tab:
    """A page in its own target (and, with ``isolated``, its own cookie jar)."""

    def __init__(self, browser: Chromium, *, isolated: bool = False) -> None:
        self.browser = browser
        params: dict[str, t.Any] = {"url": "about:blank"}
        if isolated:
            params["browserContextId"] = browser.send("Target.createBrowserContext")[
                "browserContextId"
            ]
        self.target = browser.send("Target.createTarget", params)["targetId"]
        self.session = browser.send(
            "Target.attachToTarget", {"targetId": self.target, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        return self.browser.send(method, params, session=self.session)

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})

    # --- acting --------------------------------------------------------------------------

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        where = json.dumps(url.split("?token=")[0])
        self.wait_until(f"location.href.startsWith({where}) && document.readyState === 'complete'")

    def eval(self, expression: str) -> t.Any:
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_until(self, expression: str, timeout_s: float = 30.0) -> t.Any:
        deadline = time.monotonic() + timeout_s
        last: object = None
        while time.monotonic() < deadline:
            try:
                value = self.eval(expression)
                if value:
                    return value
                last = value
            except RuntimeError as exc:  # navigating: the old page's context is gone
                last = exc
            time.sleep(0.1)
        raise TimeoutError(f"never true: {expression} (last: {last})")

    def press(self, key: str) -> None:
        """Press and release one key, as a keyboard would (``j``, ``1``, ``Escape`` ...)."""
        if key in _KEYS:
            code, vk = _KEYS[key]
            down: dict[str, t.Any] = {"key": key, "code": code, "windowsVirtualKeyCode": vk}
        else:
            code = f"Digit{key}" if key.isdigit() else f"Key{key.upper()}"
            down = {
                "key": key,
                "code": code,
                "text": key,
                "windowsVirtualKeyCode": ord(key.upper()),
            }
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", **down})
        self.send(
            "Input.dispatchKeyEvent",
            {"type": "keyUp", **{k: v for k, v in down.items() if k != "text"}},
        )

    def type(self, text: str) -> None:
        self.send("Input.insertText", {"text": text})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    # --- what happened --------------------------------------------------------------------

    def events(self, *methods: str) -> list[dict[str, t.Any]]:
        return [
            e
            for e in self.browser._events
            if e.get("sessionId") == self.session and e.get("method") in methods
        ]

    def problems(self) -> list[str]:
        """Dialogs, console errors, uncaught exceptions and error log entries (CSP reports)."""
        found = []
        for event in self.events(
            "Page.javascriptDialogOpening",
            "Runtime.consoleAPICalled",
            "Runtime.exceptionThrown",
            "Log.entryAdded",
        ):
            method, params = event["method"], event["params"]
            if method == "Page.javascriptDialogOpening":
                found.append(f"dialog: {params.get('message')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console: {params['args']}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']}")
        return found

    def statuses(self) -> dict[str, int]:
        """URL -> HTTP status of every response this tab received."""
        return {
            e["params"]["response"]["url"]: e["params"]["response"]["status"]
            for e in self.events("Network.responseReceived")
        }
