"""The review desk as an instructor uses it, in headless Chromium.

Grade a written question across three submissions with the keyboard, override a check,
reload and find everything kept, export and find the points in gradebook.csv and canvas.csv;
two sessions at once; an answer holding ``<script>`` never runs; no page without the token.
Saves the review desk's screenshot in the docs (docs/review.md) with ``--update-goldens``.
"""

from __future__ import annotations

import csv
import io
import threading
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from grader.review.cli import open_server
from tests.chromium import Chromium, find_or_install
from tests.review.browser import Tab
from tests.review.fixtures import HOSTILE, ROOT, GradedClass, build_class

pytestmark = pytest.mark.browser
TOKEN = "browser-test-token"
SCREENSHOT = ROOT / "docs" / "review-desk.png"


@pytest.fixture(scope="module")
def browser() -> t.Iterator[Chromium]:
    try:
        executable = find_or_install()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    with Chromium(executable, reachable=["127.0.0.1"]) as chromium:
        yield chromium


@dataclass(frozen=True)
class Desk:
    graded: GradedClass
    base: str

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def desk(tmp_path: Path) -> t.Iterator[Desk]:
    graded = build_class(tmp_path)
    server = open_server(graded.out, port=0, token=TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Desk(graded, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def signed_in(browser: Chromium, desk: Desk, *, isolated: bool = False) -> Tab:
    tab = Tab(browser, isolated=isolated)
    tab.goto(desk.url(f"/?token={TOKEN}"))
    # The token moved into a cookie and out of the address bar.
    assert tab.eval("location.href") == desk.url("/")
    return tab


def saved(tab: Tab) -> None:
    tab.wait_until("document.getElementById('save-status').textContent === 'Saved.'")


def on(tab: Tab, desk: Desk, path: str) -> None:
    tab.wait_until(f"location.href === {desk.url(path)!r} && document.readyState === 'complete'")


def test_grading_with_the_keyboard_overriding_reloading_and_exporting(
    browser: Chromium, desk: Desk, request: pytest.FixtureRequest
) -> None:
    tab = signed_in(browser, desk)
    assert tab.eval("document.querySelectorAll('#class-table tbody tr').length") == 3

    # Question 1, student by student, with the keys only.
    tab.goto(desk.url("/q/written.transfer"))
    assert tab.eval("document.getElementById('student').textContent").startswith("alice")
    tab.press("1")
    tab.press("2")  # 4 + 3: the points follow the ticked criteria
    assert tab.eval("document.getElementById('points').value") == "7"
    saved(tab)
    tab.press("c")
    tab.type("Clear and complete.")
    tab.press("Escape")
    tab.press("j")  # saves the comment, then the next student
    on(tab, desk, "/q/written.transfer?s=bob")
    tab.press("1")
    tab.press("3")
    tab.press("p")
    tab.eval("document.getElementById('points').select()")
    tab.type("6")  # the grader's own judgement overrides the proposed 7
    tab.press("Escape")
    tab.press("ArrowRight")
    on(tab, desk, "/q/written.transfer?s=carol")

    # Carol's answer is a script: shown as text, never run.
    assert tab.eval("document.getElementById('answer').textContent") == HOSTILE
    assert tab.eval("document.getElementById('injected')") is None
    assert tab.eval("document.querySelectorAll('main script, main img').length") == 0
    tab.press("2")
    saved(tab)
    assert tab.eval("document.getElementById('graded-count').textContent") == "2"
    tab.press("k")
    on(tab, desk, "/q/written.transfer?s=bob")
    assert tab.eval("document.getElementById('points').value") == "6"
    assert tab.eval(
        "[...document.querySelectorAll('input[name=criteria]')].map(b => b.checked)"
    ) == [True, False, True]
    assert tab.eval("document.getElementById('progress').textContent").startswith(
        "Answer 2 of 3 · 3 graded"
    )
    if request.config.getoption("--update-goldens"):
        _save_screenshot(tab)

    # Question 2 for alice, so that her total is complete.
    tab.goto(desk.url("/q/written.why"))
    for key in ("1", "2", "3"):
        tab.press(key)
    saved(tab)

    # Override bob's frozen check, with a reason; the verdict stays beside it.
    tab.goto(desk.url("/s/bob"))
    tab.eval(
        "(() => { const f = document.querySelector('#check-transfer\\\\.frozen form');"
        " f.elements.score.value = '12'; f.elements.reason.value = 'froze after compiling';"
        " f.requestSubmit(); })()"
    )
    tab.wait_until("document.querySelector('#check-transfer\\\\.frozen .overridden') !== null")
    assert "fail 0/15" in tab.eval(
        "document.querySelector('#check-transfer\\\\.frozen').textContent"
    ).replace("\n", " ").replace("  ", " ")
    # The report is framed in a sandbox: an opaque origin the app's page cannot reach into.
    assert tab.eval("document.querySelector('iframe.report').contentDocument") is None

    # Reload everything: all kept.
    tab.send("Page.reload")
    tab.wait_until("document.querySelector('#check-transfer\\\\.frozen .overridden') !== null")
    tab.goto(desk.url("/q/written.transfer?s=alice"))
    assert tab.eval("document.getElementById('points').value") == "7"
    assert tab.eval("document.getElementById('comment').value") == "Clear and complete."

    # Export, then read the gradebooks.
    tab.goto(desk.url("/"))
    tab.eval("document.getElementById('export-button').click()")
    tab.wait_until(
        "(document.querySelector('.notice') || {textContent: ''}).textContent"
        ".startsWith('Exported')"
    )
    book = {
        r["student_id"]: r
        for r in csv.DictReader(io.StringIO((desk.graded.out / "gradebook.csv").read_text("utf-8")))
    }
    assert [book[s]["written.transfer"] for s in ("alice", "bob", "carol")] == ["7", "6", "3"]
    assert (book["alice"]["written.why"], book["alice"]["total"]) == ("6", "113")
    assert (book["bob"]["transfer.frozen"], book["bob"]["total"]) == ("12", "pending")
    canvas = list(csv.reader(io.StringIO((desk.graded.out / "canvas.csv").read_text("utf-8"))))
    assert [(row[1], row[-1]) for row in canvas[2:]] == [
        ("alice", "113"),
        ("bob", ""),
        ("carol", ""),
    ]
    assert tab.problems() == []


def _save_screenshot(tab: Tab) -> None:
    tab.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1100, "height": 640, "deviceScaleFactor": 1, "mobile": False},
    )
    png = Image.open(io.BytesIO(tab.screenshot())).convert("RGB")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    png.quantize(colors=64).save(SCREENSHOT, optimize=True)
    tab.send("Emulation.clearDeviceMetricsOverride")


def test_two_sessions_at_once_lose_nothing(browser: Chromium, desk: Desk) -> None:
    one = signed_in(browser, desk, isolated=True)
    two = signed_in(browser, desk, isolated=True)
    one.goto(desk.url("/q/written.transfer?s=alice"))
    two.goto(desk.url("/q/written.transfer?s=bob"))
    one.press("1")
    two.press("3")
    saved(one)
    saved(two)
    # Both open the same answer; the first saves; the second, from its stale page, is told so.
    two.goto(desk.url("/q/written.transfer?s=alice"))
    one.press("2")
    saved(one)
    two.press("3")
    two.wait_until(
        "document.getElementById('save-status').textContent.includes('changed elsewhere')"
    )
    for tab in (one, two):
        tab.goto(desk.url("/q/written.transfer?s=alice"))
        assert tab.eval("document.getElementById('points').value") == "7"
    two.goto(desk.url("/q/written.transfer?s=bob"))
    assert two.eval("document.getElementById('points').value") == "3"
    assert one.problems() == []
    # The refused save is the only thing the second session's console reports.
    assert two.problems() == [
        "log: Failed to load resource: the server responded with a status of 409 (CONFLICT)"
    ]


def test_no_token_no_page_and_no_inline_script(browser: Chromium, desk: Desk) -> None:
    stranger = Tab(browser, isolated=True)
    stranger.send("Page.navigate", {"url": desk.url("/")})
    stranger.wait_until("document.body && document.body.innerText.startsWith('Forbidden')")
    stranger.send("Page.navigate", {"url": desk.url("/q/written.transfer?s=carol")})
    stranger.wait_until(
        "location.href.endsWith('s=carol') && document.body.innerText.startsWith('Forbidden')"
    )
    assert set(stranger.statuses().values()) == {403}
    # Signed in, the policy still forbids any inline script a page could be tricked into.
    tab = signed_in(browser, desk, isolated=True)
    tab.eval(
        "(() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.appendChild(s); })()"
    )
    assert tab.eval("window.ran === undefined")
    tab.wait_until("true")
    assert any("Content Security Policy" in p for p in tab.problems())
