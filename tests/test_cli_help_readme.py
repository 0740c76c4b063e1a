"""``grader grade --help`` and the documentation (README and docs/) name the same output files and
folders."""

from __future__ import annotations

import re

from click.testing import CliRunner

from grader.cli import main
from tests.conftest import ROOT

OUTPUTS = ("gradebook.csv", "canvas.csv", "index.html", "canvas_feedback.zip", "moodle.csv")


def test_grade_help_and_docs_agree_on_output_names() -> None:
    help_text = " ".join(CliRunner().invoke(main, ["grade", "--help"]).output.split())
    grading = (ROOT / "docs" / "grading.md").read_text()
    table = grading[grading.index("What `out/` holds:") :]
    for name in (*OUTPUTS, "blackboard.csv"):
        assert name in help_text, name
        assert f"`{name}`" in table, name
    assert "OUT/<student id>/" in help_text
    # The README and every docs page call the per-submission folder by the same name.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    text = "\n".join(page.read_text() for page in pages)
    assert re.findall(r"out/<(\w[\w ]*)>/", text) and set(
        re.findall(r"out/<(\w[\w ]*)>/", text)
    ) == {"student id"}
