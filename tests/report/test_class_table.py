"""The class's table after a batch never cuts a score or a check's points, at any width
(issue 25, item 7: ``100/1…`` at the end of a demo)."""

from __future__ import annotations

import dataclasses

import pytest
from rich.console import Console

from grader.report.class_table import print_table
from grader.report.formats import status_icon
from grader.results import GradeResult
from tests.conftest import ROOT

RESULTS = [
    GradeResult.from_json(
        (ROOT / "tests" / "files" / "results" / f"{name}.json").read_text(encoding="utf-8")
    )
    for name in ("full_marks", "not_frozen", "name_error")
]


@pytest.mark.parametrize("width", [40, 60, 80, 200])
def test_every_score_and_point_is_whole_at_any_width(width: int) -> None:
    results = [
        dataclasses.replace(r, submission=f"a_rather_long_student_identifier_{i}")
        for i, r in enumerate(RESULTS)
    ]
    console = Console(width=width, record=True, force_terminal=False)
    print_table(results, console)
    text = console.export_text()
    lines = text.splitlines()
    assert "…" not in text
    assert max(len(line) for line in lines) <= width
    for result in results:
        assert f"{result.score:g}/{result.max_score:g}" in text
    # Every check's cell of every submission is there, points and all.
    cells = [f"{status_icon(c.status)} {c.score:g}" for r in results for c in r.checks]
    for cell in set(cells):
        assert text.count(cell) >= cells.count(cell), cell
    # The caption and the legend say everything, however they wrap.
    flat = " ".join(text.split())
    assert "checks: ✔ 20 pass, ✘ 4 fail, ⚠ 0 error" in flat
    for check in results[0].checks:
        assert check.id in flat


def test_ids_fold_rather_than_lose_their_end() -> None:
    # Two students whose ids differ only at the end must still be told apart.
    results = [
        dataclasses.replace(RESULTS[0], submission="group_seven_submission_alpha"),
        dataclasses.replace(RESULTS[1], submission="group_seven_submission_omega"),
    ]
    console = Console(width=60, record=True, force_terminal=False)
    print_table(results, console)
    text = console.export_text()
    assert "alpha" in text and "omega" in text
