"""``grader grade --help`` and the README name the same output files and folders."""

from __future__ import annotations

import re

from click.testing import CliRunner

from grader.cli import main
from tests.conftest import ROOT

OUTPUTS = ("gradebook.csv", "canvas.csv", "index.html", "canvas_feedback.zip", "moodle.csv")


def test_grade_help_and_readme_agree_on_output_names() -> None:
    help_text = " ".join(CliRunner().invoke(main, ["grade", "--help"]).output.split())
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("What `out/` holds:") :]
    for name in (*OUTPUTS, "blackboard.csv"):
        assert name in help_text, name
        assert f"`{name}`" in table, name
    assert "OUT/<student id>/" in help_text
    # The README calls the per-submission folder by the same name everywhere.
    assert re.findall(r"out/<(\w[\w ]*)>/", readme) and set(
        re.findall(r"out/<(\w[\w ]*)>/", readme)
    ) == {"student id"}
