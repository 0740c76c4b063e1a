"""kit.check()'s report and its refusals (the verdicts themselves: test_kit.py's parity test)."""

from __future__ import annotations

import pytest

from grader import kit
from grader.exceptions import KitError
from grader.kit.live import LiveReport
from grader.results import CheckResult


def result(status: str, message: str) -> CheckResult:
    return CheckResult(
        id="base.architecture",
        title="Base <b>CNN</b>",
        status=status,  # type: ignore[arg-type]
        score=20.0 if status == "pass" else 0.0,
        max_score=20.0,
        message=message,
        hint="Conv2D 32 4x4 relu & co",
        details={},
    )


def test_the_report_shows_hints_of_failed_checks_and_keeps_student_text_as_text() -> None:
    report = LiveReport(
        "cifar10_transfer",
        [result("fail", "- layer 1 (<script>alert(1)</script>): units is 64, expected 256")],
        0.123,
        ["base.accuracy: judged by kit.full_check()"],
    )
    page = report._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Base &lt;b&gt;CNN&lt;/b&gt;" in page and "Hint:</b> Conv2D 32 4x4 relu &amp; co" in page
    text = str(report)
    assert "✘ fail    base.architecture: Base <b>CNN</b> (0/20)" in text
    assert "hint: Conv2D 32 4x4 relu & co" in text and "0.12 s" in text
    assert "- base.accuracy: judged by kit.full_check()" in text
    passed = LiveReport("a", [result("pass", "all 7 layers match")], 0.1)
    assert "Hint" not in passed._repr_html_() and "hint:" not in str(passed)


def test_check_refuses_a_course_that_is_not_a_kit() -> None:
    with pytest.raises(KitError, match="not a student kit"):
        kit.check({}, assignment="cifar10_transfer")
