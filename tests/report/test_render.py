"""Reports: HTML and Markdown rendering, terminal tables, and the inline SVG chart."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from grader.options import View
from grader.report import render as report
from grader.report.charts import svg_line_chart
from grader.report.class_table import print_table
from grader.report.escape import markdown_code, markdown_fence, markdown_text
from grader.report.render import render_html, render_markdown, templates_dir, write_reports
from grader.report.terminal import print_checks, print_report
from grader.results import (
    CellResult,
    CheckOverride,
    CheckResult,
    DataInfo,
    FitRecord,
    GradeResult,
    ManualAnswer,
)
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "files" / "results"

VOID_ELEMENTS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)

PASS_HINT = "PASS-HINT-never-shown"
FAIL_HINT = "Set base.trainable = False before compiling."
ERROR_HINT = "Save the model with model.save('transfer.keras')."
TRACEBACK = "\n".join(
    [f"  frame {i}" for i in range(40)]
    + ["NameError: name 'x' is not defined <script>alert('tb')</script>"]
)


def _data() -> DataInfo:
    return DataInfo("synthetic", "deterministic synthetic CIFAR-like set", 2000, 500, 500)


def _passing() -> GradeResult:
    return GradeResult(
        assignment="cifar10_transfer",
        submission="alice_good",
        score=4.0,
        max_score=4.0,
        checks=[
            CheckResult("base.trained", "Base model trained", "pass", 2.0, 2.0, "", PASS_HINT),
            CheckResult("transfer.frozen", "Base layers frozen", "pass", 2.0, 2.0, "", PASS_HINT),
        ],
        cells=[CellResult(0, "ok", 0.5, "import keras")],
        fits=[FitRecord("base", 2, 2, 2000, 2000, {"loss": [2.0, 1.5], "accuracy": [0.2, 0.3]})],
        budget="full",
        budget_limits={},
        data=DataInfo("real", "CIFAR-10 from ~/.keras/datasets", 50000, 5000, 5000),
        seed=1234,
        timings={"execute": 10.0, "checks": 1.0, "total": 11.5},
        versions={"grader": "0.1.0", "python": "3.11.9", "keras": "3.8.0"},
    )


def _failing() -> GradeResult:
    return GradeResult(
        assignment="cifar10_transfer",
        submission="bob_broken",
        score=2.5,
        max_score=9.0,
        checks=[
            CheckResult("base.trained", "Base model trained", "pass", 2.5, 2.5, "", PASS_HINT),
            CheckResult(
                "transfer.frozen",
                "Base layers frozen",
                "fail",
                0.0,
                3.0,
                "layer conv1 is trainable\nlayer conv2 | is trainable",
                FAIL_HINT,
            ),
            CheckResult(
                "transfer.accuracy",
                "Transfer accuracy",
                "error",
                0.0,
                2.0,
                "could not load transfer.keras: a < b",
                ERROR_HINT,
            ),
            CheckResult("bonus.augment", "Augmentation", "error", 0.0, 1.5, "", "Try flips."),
        ],
        cells=[
            CellResult(0, "ok", 0.2, "import keras"),
            CellResult(
                3,
                "error",
                0.1,
                "if a < b:\n    print(x)",
                "NameError",
                "name 'x' is not defined",
                TRACEBACK,
            ),
            CellResult(4, "timeout", 60.0, "while True:\n    pass"),
            CellResult(5, "skipped", 0.0, "model.save('m.keras')"),
        ],
        fits=[
            FitRecord(
                "base",
                10,
                3,
                50000,
                2000,
                {
                    "loss": [2.3, 1.9, 1.7],
                    "accuracy": [0.1, 0.25, 0.31],
                    "val_loss": [2.2, math.nan, 1.8],
                    "val_accuracy": [0.12, 0.2, 0.29],
                },
            ),
            FitRecord("transfer", 5, 1, 50000, 2000, {"loss": [1.1], "val_loss": []}),
        ],
        budget="smoke",
        budget_limits={"max_epochs": 3, "max_train_samples": 2000, "max_eval_samples": 500},
        data=_data(),
        seed=7,
        timings={"execute": 42.25, "calibrate": 3.0, "checks": 1.5, "total": 47.0},
        versions={"grader": "0.1.0", "python": "3.11.9", "keras": "3.8.0"},
        notices=["Budget 'smoke': every fit call was capped.", "Graded on synthetic data."],
    )


class _TagStack(HTMLParser):
    """Tracks open non-void elements; anything left open or closed out of order is an error."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <polyline ... /> and friends open and close at once.

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def _assert_well_formed(html: str) -> None:
    parser = _TagStack()
    parser.feed(html)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []


# --- HTML ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [_passing, _failing])
def test_html_is_self_contained_well_formed_and_small(make: Callable[[], GradeResult]) -> None:
    result = make()
    html = render_html(result)
    assert html.startswith("<!DOCTYPE html>")
    for check in result.checks:
        assert check.id in html
    assert f"{result.score:g} / {result.max_score:g}" in html
    assert "<svg" in html
    assert 'src="http' not in html and 'href="http' not in html
    assert "@import" not in html and "<script" not in html and "<link" not in html
    assert "http://" not in html and "https://" not in html
    _assert_well_formed(html)
    assert len(html.encode()) < 2_000_000


def test_html_shows_hints_only_where_a_check_did_not_pass() -> None:
    html = render_html(_failing())
    assert FAIL_HINT in html
    assert "model.save(&#39;transfer.keras&#39;)" in html  # the error check's hint, escaped
    assert PASS_HINT not in html
    assert PASS_HINT not in render_html(_passing())


def test_html_escapes_student_text() -> None:
    html = render_html(_failing())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;tb&#39;)&lt;/script&gt;" in html
    assert "could not load transfer.keras: a &lt; b" in html
    assert "if a &lt; b:" in html


def test_html_header_and_sections() -> None:
    html = render_html(_failing())
    assert "28%" in html  # 2.5 / 9
    assert "max epochs 3, max train samples 2000, max eval samples 500" in html
    assert "deterministic synthetic CIFAR-like set" in html
    assert ">7<" in html  # seed
    assert "execute 42.2 s" in html or "execute 42.3 s" in html
    assert "keras 3.8.0" in html
    assert "Budget &#39;smoke&#39;: every fit call was capped." in html
    assert "no caps" in render_html(_passing())
    # Status is never colour alone: icon and word together.
    for icon_word in ("✔ pass", "✘ fail", "⚠ error"):
        assert icon_word in html
    assert "white-space: pre-wrap" in html
    assert "@media print" in html
    assert "Training runs" in html and "3 / 10" in html and "2000 / 50000" in html
    assert html.count("<svg") == 3  # base: loss + accuracy; transfer: loss
    assert "<title>" in html and 'aria-label="Fit 1 (base), your model: loss per epoch"' in html


def test_html_failed_cells_show_source_error_and_traceback_tail() -> None:
    html = render_html(_failing())
    assert "Cells that failed" in html
    assert "Cell 3" in html and "Cell 4" in html
    assert "Cell 0:" not in html and "Cell 5:" not in html
    assert "NameError: name &#39;x&#39; is not defined" in html
    assert "frame 39" in html
    assert "frame 5\n" not in html  # only the last lines of a long traceback
    assert "earlier lines omitted" in html
    assert "<pre><code>if a &lt; b:\n    print(x)</code></pre>" in html


# --- Markdown -----------------------------------------------------------------------------------


def test_markdown_has_the_facts() -> None:
    md = render_markdown(_failing())
    assert md.startswith("# cifar10_transfer: feedback for bob_broken\n")
    assert md.endswith("\n") and not md.endswith("\n\n")
    assert "2.5 / 9 (28%)" in md
    assert "| Check | Status | Points | Message | Hint |" in md
    assert "max epochs 3, max train samples 2000, max eval samples 500" in md
    assert "**Seed:** 7" in md
    assert "Graded on synthetic data." in md
    assert "execute 42.2 s; calibrate 3.0 s" in md
    assert "1 cell was never run" in md
    # Pipes and newlines would break the table row.
    assert "layer conv1 is trainable<br>layer conv2 \\| is trainable" in md
    # The checks table's row (the list of what to fix above it names the check too).
    row = next(line for line in md.splitlines() if line.startswith("| `transfer.frozen`"))
    assert row.startswith("| ") and row.endswith(" |") and "✘ fail" in row and FAIL_HINT in row
    # Free text is escaped for Markdown (every viewer shows "a < b"); code is fenced verbatim.
    assert "could not load transfer.keras: a &lt; b" in md
    assert "```python\nif a < b:\n    print(x)\n```" in md
    assert "**NameError**: name 'x' is not defined" in md
    assert "<script>alert('tb')</script>" in md  # inside a fenced block, shown literally
    assert PASS_HINT not in md
    assert "no caps" in render_markdown(_passing())


def test_markdown_fence_outgrows_backticks_in_the_source() -> None:
    result = _failing()
    cell = CellResult(7, "error", 0.1, "s = '''\n```\n'''", "SyntaxError", "bad")
    md = render_markdown(GradeResult(**{**result.__dict__, "cells": [cell]}))
    assert "````python\ns = '''\n```\n'''\n````" in md


# --- files --------------------------------------------------------------------------------------


def test_write_reports_keeps_dotted_stems(tmp_path: Path) -> None:
    paths = write_reports(_failing(), tmp_path / "new", stem="hw.report")
    assert paths == {
        "html": tmp_path / "new" / "hw.report.html",
        "markdown": tmp_path / "new" / "hw.report.md",
    }
    assert paths["html"].read_text(encoding="utf-8") == render_html(_failing())
    assert paths["markdown"].read_text(encoding="utf-8") == render_markdown(_failing())
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "hw.report.html",
        "hw.report.md",
    ]


def test_the_templates_are_inside_the_package() -> None:
    folder = templates_dir()
    assert folder.parent == Path(report.__file__).parent
    assert (folder / report.HTML_TEMPLATE).is_file()
    assert (folder / report.MARKDOWN_TEMPLATE).is_file()


# --- terminal tables ----------------------------------------------------------------------------


def test_print_table_lists_submissions_and_checks() -> None:
    console = Console(record=True, width=160)
    print_table([_passing(), _failing()], console)
    text = console.export_text()
    for name in ("alice_good", "bob_broken"):
        assert name in text
    for check_id in ("base.trained", "transfer.frozen", "transfer.accuracy", "bonus.augment"):
        assert check_id in text
    assert "✔ 2" in text and "✘ 0" in text
    assert "2 submissions" in text


def test_print_table_numbers_the_checks_on_a_narrow_terminal() -> None:
    console = Console(record=True, width=80)
    print_table([_passing(), _failing()], console)
    text = console.export_text()
    assert "1=base.trained" in text and "alice_good" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_print_table_with_no_results() -> None:
    console = Console(record=True, width=160)
    print_table([], console)
    assert "No submissions." in console.export_text()


def test_print_checks_shows_hints_for_non_passing_checks_only() -> None:
    console = Console(record=True, width=160)
    print_checks(_failing(), console)
    text = console.export_text()
    assert "bob_broken" in text
    for check in _failing().checks:
        assert check.id in text
    assert "⚠ error" in text and "Set base.trainable = False" in text
    assert PASS_HINT not in text


def test_print_checks_on_a_narrow_console_keeps_messages_whole() -> None:
    result = _failing()
    long = CheckResult(
        "transfer.architecture",
        "Architecture",
        "fail",
        0,
        15,
        "2 difference(s) from the expected architecture:\n- layer 6 (dense_2, Dense): units is "
        "64, expected 128; output shape is Nonex64, expected Nonex128",
        "Add Dense(128, activation='relu') after the frozen layers.",
    )
    narrow = GradeResult(**{**result.__dict__, "checks": [*result.checks, long]})
    console = Console(record=True, width=80)
    print_checks(narrow, console)
    text = console.export_text()
    assert "transfer.architecture" in text and "units is 64, expected 128" in text
    assert "Hint: Add Dense(128, activation='relu') after the frozen layers." in text
    assert "Hint: Set base.trainable = False before compiling." in text
    assert PASS_HINT not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_print_checks_does_not_interpret_rich_markup() -> None:
    result = _failing()
    odd = GradeResult(
        **{
            **result.__dict__,
            "checks": [
                CheckResult(
                    "x.y", "T", "fail", 0, 1, "shape [bold]mismatch[/bold]", "fix [red]it[/]"
                ),
            ],
        }
    )
    console = Console(record=True, width=160)
    print_checks(odd, console)
    text = console.export_text()
    assert "[bold]mismatch[/bold]" in text and "[red]it[/]" in text


def test_print_checks_shows_written_answers_and_overrides_with_the_final_total() -> None:
    result = _failing()
    written = ManualAnswer("written.why", "Why transfer learning?", 6, "Less data.", "d", [3])
    blank = ManualAnswer("written.how", "How does it help?", 4, "", "e")
    override = CheckOverride(
        "transfer.frozen", 1.5, "froze by name: fine", automatic_status="fail", automatic_score=0
    )
    pending = GradeResult(**{**result.__dict__, "manual": [written, blank]})
    console = Console(record=True, width=160)
    print_checks(pending, console)
    text = console.export_text()
    assert "With the instructor's review: pending/19" in text
    assert "written.why: pending/6, Why transfer learning?" in text
    assert "written.how: pending/4, How does it help? (no answer found)" in text

    graded = GradeResult(
        **{
            **result.__dict__,
            "manual": [dataclasses.replace(written, status="graded", score=5)],
            "overrides": [override],
        }
    )
    console = Console(record=True, width=160)
    print_checks(graded, console)
    text = console.export_text()
    # 2.5 automatic + 1.5 overriding transfer.frozen's 0 + 5 written = 9 of 9 + 6.
    assert "With the instructor's review: 9/15" in text
    assert "transfer.frozen: 1.5 points instead of 0 (fail): froze by name: fine" in text
    assert "written.why: 5/6" in text


# --- SVG chart ----------------------------------------------------------------------------------


def _numbers(svg: str, attr: str) -> list[float]:
    return [float(v) for v in re.findall(rf'\b{attr}="(-?[\d.]+)"', svg)]


def test_svg_chart_scales_values_into_the_box() -> None:
    svg = str(svg_line_chart({"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 0.5]}, "Loss"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'viewBox="0 0 320 160"' in svg
    assert "<title>Loss</title>" in svg and 'aria-label="Loss"' in svg
    assert svg.count("<polyline") == 2
    assert ">loss<" in svg and ">val_loss<" in svg and ">epoch<" in svg
    for points in re.findall(r'points="([^"]+)"', svg):
        for pair in points.split():
            x, y = map(float, pair.split(","))
            assert 0 <= x <= 320 and 0 <= y <= 160
    _assert_well_formed(svg)


def test_svg_chart_handles_empty_input() -> None:
    cases: list[dict[str, list[float]]] = [{}, {"loss": []}, {"loss": [math.nan, math.inf]}]
    for series in cases:
        svg = str(svg_line_chart(series, "Nothing"))
        assert "no data" in svg and "<polyline" not in svg and "nan" not in svg.lower()
        _assert_well_formed(svg)


def test_svg_chart_draws_a_single_point_as_a_dot() -> None:
    svg = str(svg_line_chart({"loss": [0.7]}, "One epoch"))
    assert "<polyline" not in svg and svg.count("<circle") == 1
    assert all(0 <= v <= 320 for v in _numbers(svg, "cx"))
    assert all(0 <= v <= 160 for v in _numbers(svg, "cy"))


def test_svg_chart_skips_nan() -> None:
    svg = str(svg_line_chart({"loss": [1.0, math.nan, 0.5, 0.25]}, "Gappy"))
    (points,) = re.findall(r'points="([^"]+)"', svg)
    assert len(points.split()) == 3
    assert "nan" not in points.lower()


def test_svg_chart_escapes_names() -> None:
    svg = str(svg_line_chart({"<b>": [1.0, 2.0]}, 'say "hi" <script>'))
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;b&gt;" in svg and "&#34;hi&#34;" in svg


# --- hostile student text -----------------------------------------------------------------------

ATTACK = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> <!-- c -->\n"
    "# Score: 100/100\n"
    "| fake | row |\n"
    "1. one\n"
    "[click](javascript:alert(3)) ![pixel](http://evil.example/p.png) <http://evil.example>\n"
    '=HYPERLINK("http://evil.example") [red]rich[/red] **bold** `code` $x$ ~~s~~ &lt;b&gt;\n'
    "\x1b[2J\x1b]8;;http://evil.example\x1b\\osc link\x1b]8;;\x1b\\ over\rwrite \u202eevil"
)
"""Markup for every viewer the reports reach: HTML, Markdown (GitHub, Jupyter, VS Code),
spreadsheets, rich and terminal escape sequences."""
BREAKOUT = "````\n</code></pre><script>alert(4)</script>\n````"
"""A cell source that tries to close the fence around it."""


def _hostile() -> GradeResult:
    """A real result (``not_frozen``) with ATTACK in every field a notebook controls."""
    raw = json.loads((FIXTURES / "not_frozen.json").read_text())
    raw["submission"] = ATTACK
    raw["notices"].append(ATTACK)
    raw["incidents"] = [{"outcome": "timeout", "cell": 0, "detail": ATTACK}]
    for check in raw["checks"]:
        check["message"] = f"{check['message']}\n{ATTACK}"
        check["status"] = "fail"  # messages and hints of failed checks are shown
        for row in check["details"].get("comparison", []):
            if row["actual"]:
                row["actual"]["name"] = ATTACK
                row["actual"]["config"] = {k: ATTACK for k in row["actual"]["config"]}
        if "confusion" in check["details"]:
            check["details"]["confusion"]["names"]["0"] = ATTACK
    raw["cells"] = [
        {
            "index": 0,
            "status": "error",
            "duration_s": 1.0,
            "source": f"{ATTACK}\n{BREAKOUT}",
            "error_name": ATTACK,
            "error_value": ATTACK,
            "traceback": f"{ATTACK}\n{BREAKOUT}",
        }
    ]
    for fit in raw["fits"]:
        fit["model"] = ATTACK
        fit["history"] = {f"{ATTACK} {name}": v for name, v in fit["history"].items()}
    return GradeResult.from_json(json.dumps(raw))


class _Rendered(HTMLParser):
    """Collects the elements and the text of each heading in an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.headings: list[str] = []
        self.tables: list[list[int]] = []
        """Per table, the number of cells in each row."""
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._in_heading = True
            self.headings.append("")
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append(0)
        if tag in ("td", "th"):
            self.tables[-1][-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings[-1] += data


def _markdown_as_html(md: str) -> str:
    """Render as a viewer would, with raw HTML allowed (GitHub and Jupyter pass much of it)."""
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    html: str = renderer.render(md)
    return html


@pytest.mark.parametrize("view", ["instructor", "student"])
def test_markdown_renders_no_student_markup(view: View) -> None:
    """Issue 10: error values, layer names, names... rendered raw in report.md."""
    result = _hostile()
    md = render_markdown(result, view)
    rendered = _Rendered()
    rendered.feed(_markdown_as_html(md))
    allowed = {"h1", "h2", "h3", "p", "strong", "em", "ul", "ol", "li", "table", "thead",
               "tbody", "tr", "th", "td", "code", "pre", "br"}  # fmt: skip
    assert set(rendered.tags) <= allowed, set(rendered.tags) - allowed
    assert "ol" not in rendered.tags  # "1. one" stayed text
    assert rendered.attributes == [] or set(rendered.attributes) <= {"style", "class"}
    assert rendered.tags.count("h1") == 1 and rendered.headings[0].startswith("cifar10_transfer")
    assert not any("Score: 100/100" in h and h.startswith("Score") for h in rendered.headings)
    # Every row has as many cells as its header, and each table as many rows as it should:
    # no row or column was injected.
    assert all(len(set(rows)) == 1 for rows in rendered.tables), rendered.tables
    checks_table = rendered.tables[0]
    assert len(checks_table) == 1 + len(result.checks)
    assert len(rendered.tables) == md.count("\n| ---")  # the report's own tables, no more
    assert "\x1b" not in md and "\r" not in md and "\u202e" not in md
    # The words are all there, shown as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md and "\\# Score: 100/100" in md
    assert "\\[red\\]rich\\[/red\\]" in md


def test_markdown_fence_holds_a_source_that_tries_to_close_it() -> None:
    md = render_markdown(_hostile())
    html = _markdown_as_html(md)
    assert "<script>" not in html
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(4)&lt;/script&gt;" in html
    assert "`````python\n" in md  # a fence longer than the source's four backticks


@pytest.mark.parametrize("view", ["instructor", "student"])
def test_html_escapes_every_student_field(view: View) -> None:
    html = render_html(_hostile(), view)
    rendered = _Rendered()
    rendered.feed(html)
    assert "script" not in rendered.tags and "img" not in rendered.tags and "a" not in rendered.tags
    assert "onerror" not in rendered.attributes and "src" not in rendered.attributes
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8
    assert "\x1b" not in html or "&#27;" not in html  # ESC is inert in HTML text either way
    _assert_well_formed(html)


def test_markdown_text_and_code_helpers() -> None:
    assert markdown_text("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert markdown_text("# h\n- item\n1. n\n2.5 x") == "\\# h<br>\\- item<br>1\\. n<br>2.5 x"
    assert markdown_text("max_epochs _x_ *y* [l](u) !| ~ $ \\ `") == (
        "max_epochs \\_x\\_ \\*y\\* \\[l\\](u) \\!\\| \\~ \\$ \\\\ \\`"
    )
    assert markdown_text("a\x1b(b\x07\rc\u202ed") == "a\ufffd(b\ufffd\ufffdc\ufffdd"
    assert markdown_text("  indented ; spaced  ") == "  indented ; spaced  "
    assert markdown_code("a`b|c\nd") == "``a`b\\|c d``"
    assert markdown_code("`x") == "`` `x ``"
    assert markdown_fence("x\n```\ny", "python") == "````python\nx\n```\ny\n````"


def test_terminal_report_prints_student_text_without_markup_or_escape_sequences() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=160)
    result = _hostile()
    print_report(result, "instructor", console)
    print_checks(result, console)
    print_table([result], console)
    printed = out.getvalue()
    # Only rich's own colour codes (SGR) remain: no OSC link, no screen clearing, no \\r.
    assert re.sub(r"\x1b\[[0-9;]*m", "", printed).count("\x1b") == 0
    assert "\r" not in printed and "\u202e" not in printed
    assert "[red]rich[/red]" in printed and "<script>alert(1)</script>" in printed
