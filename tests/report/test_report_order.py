"""The student report answers "what do I fix?" first (issue 25, item 8): the score, the checks
that did not pass with their hints and the first cell that failed come before the evidence,
and the grading metadata (budget, data, seed, timings, versions) after it, in every format."""

from __future__ import annotations

import typing as t

import pytest
from rich.console import Console

from grader.report.render import render_html, render_markdown
from grader.report.terminal import print_report
from grader.results import GradeResult
from tests.conftest import ROOT

# A real result: cell 16 raised NameError, so transfer.frozen and transfer.accuracy failed.
RESULT = GradeResult.from_json(
    (ROOT / "tests" / "files" / "results" / "name_error.json").read_text(encoding="utf-8")
)
HINT = "Set layer.trainable = False on each of the first five layers"
CELL = "First cell that failed"


def terminal(result: GradeResult, view: t.Literal["student", "instructor"]) -> str:
    console = Console(width=100, record=True, force_terminal=False)
    print_report(result, view, console)
    return " ".join(console.export_text().split())


FORMATS: dict[str, tuple[t.Callable[[GradeResult, t.Any], str], list[str], list[str]]] = {
    # format: (render, where the metadata starts, evidence that must come after the hint)
    "html": (render_html, ["How this submission was graded", ">Seed<", ">Versions<"],
             ['<table class="checks">', "Cells that failed"]),
    "markdown": (render_markdown, ["## How this submission was graded", "**Seed:**"],
                 ["| Check | Status |", "## Cells that failed"]),
    "terminal": (terminal, ["Student view. Budget", "Instructor view. Budget"],
                 ["base.architecture: all 7 layers match", "Cell 16: ⚠ error"]),
}  # fmt: skip


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("view", ["student", "instructor"])
def test_what_to_fix_comes_before_the_evidence_and_the_metadata(
    fmt: str, view: t.Literal["student", "instructor"]
) -> None:
    render, metadata, evidence = FORMATS[fmt]
    text = render(RESULT, view)
    hint = text.index(HINT)
    cell = text.index(CELL)
    starts = [text.find(m) for m in metadata if m in text]
    assert starts, metadata
    assert text.index("75") < hint < cell < min(starts)
    for later in evidence:
        assert cell < text.index(later), later


def test_a_passing_report_says_there_is_nothing_to_fix() -> None:
    passing = GradeResult.from_json(
        (ROOT / "tests" / "files" / "results" / "full_marks.json").read_text(encoding="utf-8")
    )
    for text in (render_html(passing, "student"), render_markdown(passing, "student")):
        assert "Nothing: every check passed." in text and CELL not in text
