"""Reports as a person sees them: rendered, opened in headless Chromium, screenshotted.

The results under ``tests/files/results/`` are real ``result.json`` files the grader wrote for
three example submissions (smoke budget, synthetic data): ``full_marks`` passes everything,
``name_error`` has a failing cell and fails ``transfer.frozen`` because its transfer model is
never trained, and ``not_frozen`` fails ``transfer.frozen`` with every reused layer trainable.
Refresh them with ``tools/refresh_report_fixtures.sh`` after a change to the result schema.
"""

from __future__ import annotations

import io
import typing as t
from pathlib import Path

import pytest
from PIL import Image

from grader.report.render import render_html
from grader.results import GradeResult
from tests.chromium import Chromium, find_or_install
from tests.conftest import ROOT
from tests.report.test_render import _assert_well_formed

pytestmark = pytest.mark.browser
RESULTS = ROOT / "tests" / "files" / "results"

# What must be on screen for any report, and for a failing one.
ALWAYS = [
    "#score",
    "#view",
    "table.checks",
    "table.layers",
    "table.layers th[scope=colgroup]",
    "svg.chart",
    "table.confusion td.diag",
]
FAILING = ["tr.row-fail .status-fail", "tr.row-fail td.hint"]
PRINTED = ["#score", "table.checks", "table.layers", "table.confusion td.diag"]


@pytest.fixture(scope="module")
def browser() -> t.Iterator[Chromium]:
    try:
        executable = find_or_install()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    with Chromium(executable) as chromium:
        yield chromium


def _load(name: str) -> GradeResult:
    return GradeResult.from_json((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "view", "extra"),
    [
        ("full_marks", "student", []),
        ("name_error", "student", [*FAILING, ".cell .error-line", ".cell .hint-line"]),
        ("not_frozen", "instructor", [*FAILING, "table.layers mark.diff", "details.evidence"]),
    ],
)
def test_report_opens_cleanly_in_chromium(
    browser: Chromium,
    tmp_path: Path,
    name: str,
    view: t.Literal["student", "instructor"],
    extra: list[str],
) -> None:
    html = render_html(_load(name), view)
    _assert_well_formed(html)
    assert len(html.encode()) < 2_000_000
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")

    report = browser.inspect(page, [*ALWAYS, *extra])

    assert report.console_errors == []
    assert report.outside_requests == []
    assert report.requests == [page.resolve().as_uri()]
    assert report.visible == dict.fromkeys([*ALWAYS, *extra], True)
    if name == "full_marks":  # nothing to fix, so nothing marked as differing
        assert browser.inspect(page, ["mark.diff", ".cell"]).visible == dict.fromkeys(
            ["mark.diff", ".cell"], False
        )
    assert report.fits_width  # the side-by-side tables wrap instead of sticking out
    assert report.unlabelled == []  # alt text, accessible chart names, table headers
    # Printed, the key tables stay; the instructor's raw evidence is left out of the paper copy.
    assert all(report.print_visible[sel] for sel in PRINTED)
    if "details.evidence" in extra:
        assert report.print_visible["details.evidence"] is False
    assert report.pdf.startswith(b"%PDF")

    (tmp_path / f"{name}.png").write_bytes(report.screenshot)
    image = Image.open(io.BytesIO(report.screenshot))
    assert image.format == "PNG" and image.width >= 1200  # the window less its scrollbar
    assert image.height > 1600  # the whole page, not only the first screen
    # Something was drawn: a blank page has a single colour.
    assert len(image.convert("L").getcolors(maxcolors=1 << 16) or []) > 16


def test_student_view_of_a_failing_report_names_the_layers_to_fix(
    browser: Chromium, tmp_path: Path
) -> None:
    page = tmp_path / "not_frozen.html"
    page.write_text(render_html(_load("not_frozen"), "student"), encoding="utf-8")
    report = browser.inspect(page, ["table.layers mark.diff", "details.evidence"])
    assert report.visible == {"table.layers mark.diff": True, "details.evidence": False}


def test_the_harness_catches_errors_and_outside_requests(browser: Chromium, tmp_path: Path) -> None:
    """A page that breaks every rule is caught, so the assertions above can fail."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<h1 id="shown">Hi</h1><p id="gone" style="display:none">x</p>'
        '<img src="https://fonts.example.invalid/x.png">'
        '<div style="width:4000px">wide</div><table><tr><td>no header</td></tr></table>'
        "<script>console.error('boom'); notDefined();</script></body></html>",
        encoding="utf-8",
    )
    report = browser.inspect(page, ["#shown", "#gone", "#absent"])
    assert report.outside_requests == ["https://fonts.example.invalid/x.png"]
    assert any("boom" in e for e in report.console_errors)
    assert any("notDefined" in e for e in report.console_errors)
    assert report.visible == {"#shown": True, "#gone": False, "#absent": False}
    assert not report.fits_width
    assert report.unlabelled == ["img https://fonts.example.invalid/x.png", "table "]
