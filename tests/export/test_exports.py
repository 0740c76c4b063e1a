"""Class outputs: gradebook.csv, Canvas' import CSV, Gradescope's results.json, class report."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

from grader.export.canvas import canvas_csv
from grader.export.class_report import histogram, render_class_report
from grader.export.entry import BatchEntry
from grader.export.gradebook import gradebook_csv
from grader.export.gradescope_results import gradescope_results
from grader.export.roster import RosterEntry
from grader.report.escape import csv_text
from grader.results import CheckResult, DataInfo, GradeResult


def result(name: str, statuses: dict[str, str], seconds: float = 10.0) -> GradeResult:
    points = {"data.split": 10.0, "transfer.frozen": 15.0}
    checks = [
        CheckResult(
            cid,
            f"title of {cid}",
            statuses[cid],  # type: ignore[arg-type]
            points[cid] if statuses[cid] == "pass" else 0.0,
            points[cid],
            "" if statuses[cid] == "pass" else f"{cid} <b>went wrong</b>",
            f"fix {cid}",
        )
        for cid in points
    ]
    return GradeResult(
        assignment="cifar10_transfer",
        submission=name,
        score=sum(c.score for c in checks),
        max_score=25.0,
        checks=checks,
        cells=[],
        fits=[],
        budget="smoke",
        budget_limits={},
        data=DataInfo("synthetic", "synthetic", 1, 1, 1),
        seed=1,
        timings={"total": seconds},
        versions={},
        notices=["Graded on synthetic data."],
    )


PASSED = {"data.split": "pass", "transfer.frozen": "pass"}
FROZEN_FAILS = {"data.split": "pass", "transfer.frozen": "fail"}
ENTRIES = [
    BatchEntry("111", "Ada", "graded", result("111", PASSED, 30.0), 30.0),
    BatchEntry("222", "", "cached", result("222", FROZEN_FAILS, 12.0), 12.0),
    BatchEntry(
        "333",
        "",
        "failed",
        result("333", {"data.split": "error", "transfer.frozen": "error"}, 0.0),
        0.0,
        reason="not a Jupyter notebook <script>",
    ),
]


def test_gradebook_has_one_row_per_submission_and_a_column_per_check() -> None:
    rows = list(csv.reader(io.StringIO(gradebook_csv(ENTRIES))))
    assert rows[0] == [
        "student_id",
        "name",
        "status",
        "data.split",
        "transfer.frozen",
        "total",
        "max_score",
    ]
    assert rows[1:] == [
        ["111", "Ada", "graded", "10", "15", "25", "25"],
        ["222", "", "cached", "10", "0", "10", "25"],
        ["333", "", "failed", "0", "0", "0", "25"],
    ]


def test_canvas_csv_has_canvas_columns_points_possible_and_roster_fields() -> None:
    roster = {"111": RosterEntry("111", "Lovelace, Ada", "S-1", "ada", "Sec A")}
    text = canvas_csv(ENTRIES, column="HW 3 (991)", points_possible=25, roster=roster)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 3 (991)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "25"]
    assert rows[2] == ["Lovelace, Ada", "111", "S-1", "ada", "Sec A", "25"]
    assert rows[3] == ["222", "222", "", "", "", "10"]


def test_gradescope_results_follow_the_autograder_specification() -> None:
    data = gradescope_results(ENTRIES[1].result)
    assert set(data) >= {"score", "execution_time", "output", "tests"}
    assert data["score"] == 10.0 and data["execution_time"] == 12
    first, second = data["tests"]
    keys = {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"}
    keys.add("output_format")
    assert set(first) == keys
    assert (first["status"], first["score"], first["max_score"], first["number"]) == (
        "passed",
        10.0,
        10.0,
        "1",
    )
    assert second["status"] == "failed" and "Hint: fix transfer.frozen" in second["output"]
    assert first["tags"] == ["data"] and second["visibility"] == "visible"
    json.dumps(data)  # plain JSON types only
    failed = gradescope_results(ENTRIES[2].result, failure="the kernel died")
    assert failed["output"].startswith("**Not graded:** the kernel died")
    assert all(t["status"] == "failed" for t in failed["tests"])


def test_histogram_counts_full_marks_in_the_last_bin() -> None:
    bins = histogram([0, 2.5, 24.9, 25, 25], 25)
    assert len(bins) == 10 and [b["count"] for b in bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert histogram([1.0], 0) == []


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [v or "" for k, v in attrs if k == "href"]
        self.scripts += tag == "script"


def test_class_report_shows_histogram_pass_rates_slowest_and_failing() -> None:
    html = render_class_report(ENTRIES, title="CIFAR <transfer>", budget="smoke")
    parser = _Links()
    parser.feed(html)
    assert parser.scripts == 0  # the failure reason is escaped, not run
    assert "&lt;script&gt;" in html and "CIFAR &lt;transfer&gt;" in html
    assert "<svg" in html and "Histogram of scores" in html
    # data.split passed by both graded submissions; transfer.frozen by one of two.
    assert "100.0%" in html and "50.0%" in html
    assert "./333/report.html" in parser.links  # could not be graded, with its reason
    assert "./222/report.html" in parser.links  # did not pass every check
    slowest = html.index("Slowest submissions")
    assert html.index("111/report.html", slowest) < html.index("222/report.html", slowest)
    assert "Mean 17.5, median 17.5 of 25 points" in html


# --- student text -------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def _is_formula(cell: str) -> bool:
    """What a spreadsheet would evaluate: a cell starting (maybe after blanks) with = + - @."""
    return cell.lstrip().startswith(("=", "+", "-", "@")) or cell.startswith(("\t", "\r"))


def test_csv_text_neutralises_formula_starts_and_keeps_other_text() -> None:
    for formula in [*FORMULAS, " =1", "\n=1"]:
        assert csv_text(formula).startswith("'"), formula
    assert csv_text("\r=1") == "'\ufffd=1"  # the carriage return itself is gone too
    assert [csv_text(v) for v in ("Ada Lovelace", "3.5", "", "x=1", "a-b")] == [
        "Ada Lovelace",
        "3.5",
        "",
        "x=1",
        "a-b",
    ]


def test_gradebook_and_canvas_neutralise_student_names_and_ids_numbers_stay_numbers() -> None:
    """A name or id from an LMS export or roster must not run as a formula (issue 10)."""
    entries = [
        BatchEntry(sid, name, "graded", result(sid, PASSED), 1.0)
        for sid, name in zip(["-5", "@7", "8", "9", "10", "11"], FORMULAS, strict=True)
    ]
    roster = {"8": RosterEntry("=1+2", "=cmd|' /C calc'!A0", "+S-1", "-login", "@Sec")}
    book = list(csv.reader(io.StringIO(gradebook_csv(entries))))
    canvas = list(
        csv.reader(
            io.StringIO(canvas_csv(entries, column="=HW", points_possible=25, roster=roster))
        )
    )
    assert not any(_is_formula(cell) for row in book for cell in row[:3])
    assert book[1][:2] == ["'-5", "'" + FORMULAS[0]]
    assert [r[-2:] for r in book[1:]] == [["25", "25"]] * 6  # numbers untouched
    assert canvas[0][-1] == "'=HW" and canvas[1] == ["    Points Possible", "", "", "", "", "25"]
    assert canvas[4][:5] == ["'=cmd|' /C calc'!A0", "'=1+2", "'+S-1", "'-login", "'@Sec"]
    assert all(not _is_formula(cell) for row in canvas[2:] for cell in row[:5])
    assert [r[-1] for r in canvas[2:]] == ["25"] * 6


def test_class_report_escapes_student_names_ids_and_reasons() -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    entries = [
        BatchEntry("javascript:alert(1)", evil, "graded", result("a", FROZEN_FAILS, 3.0), 3.0),
        BatchEntry("b", evil, "failed", result("b", PASSED, 0.0), 0.0, reason=evil),
    ]
    html = render_class_report(entries, title=evil, budget=evil)
    parser = _Links()
    parser.feed(html)
    assert parser.scripts == 0 and "<img" not in html and "<script" not in html
    assert html.count("&lt;script&gt;") >= 4  # title, budget, names, reason
    assert all(link.startswith("./") for link in parser.links), parser.links
    assert "./javascript%3Aalert%281%29/report.html" in parser.links
