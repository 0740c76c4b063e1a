"""How every report writes numbers and statuses: one icon and one word per status, points
without trailing zeros."""

from __future__ import annotations

from collections.abc import Sequence

from grader.results import CheckResult

STATUS_ICONS: dict[str, str] = {
    "pass": "✔",
    "fail": "✘",
    "error": "⚠",
    "not_judged": "∅",
    "ok": "✔",
    "timeout": "⏱",
}
"""Icon shown next to every status word, so that status never depends on colour alone."""

RICH_STYLES: dict[str, str] = {
    "pass": "green",
    "fail": "bold red",
    "error": "yellow",
    "not_judged": "magenta",
}
"""Terminal styles of check statuses."""


def status_icon(status: str) -> str:
    """The icon that accompanies a check or cell status word (tick, cross, warning, dash)."""
    return STATUS_ICONS.get(status, "?")


def format_number(value: float | int, digits: int = 6) -> str:
    """Format a number compactly: ``10`` not ``10.0``, ``0.8123`` not ``0.812345678``.

    Args:
        value: The number; NaN and infinities are written as ``nan``/``inf``.
        digits: Significant digits kept.

    Returns:
        The text.
    """
    return f"{value:.{digits}g}"


def percent(score: float, max_score: float) -> str:
    if max_score <= 0:
        return "n/a"
    return f"{100 * score / max_score:.0f}%"


def points(check: CheckResult) -> str:
    return f"{format_number(check.score)}/{format_number(check.max_score)}"


def status_counts(checks: Sequence[CheckResult]) -> dict[str, int]:
    counts = dict.fromkeys(("pass", "fail", "error"), 0)
    for check in checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    return counts
