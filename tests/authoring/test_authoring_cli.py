"""grader list and grader validate's refusals: one line, a documented exit code, no kernel."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from grader.cli import main
from grader.rubric.load import assignments_root, available, load_assignment


def test_list_shows_every_assignment_with_its_checks_and_points() -> None:
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    for name in available():
        assert name in result.output
        for check in load_assignment(name).checks:
            assert check.id in result.output
    assert "model.frozen_blocks" in result.output and "35" in result.output


def test_validate_reports_a_builder_missing_from_the_reference(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(assignments_root() / "cifar10_transfer_v2", folder)
    rubric = folder / "assignment.toml"
    rubric.write_text(rubric.read_text().replace('builder = "build_base_cnn"', 'builder = "nope"'))
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 8, result.output
    assert "base.architecture: reference.cifar10_transfer_v2 has no builder 'nope'" in result.output
    assert "Traceback" not in result.output


def test_validate_of_a_malformed_rubric_names_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(assignments_root() / "mnist_transfer", folder)
    rubric = folder / "assignment.toml"
    rubric.write_text(rubric.read_text().replace("points = 15", 'points = "15"', 1))
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 3
    assert "[checks[1].points] expected int or float" in result.output


def test_validate_of_an_unknown_assignment_is_bad_input() -> None:
    result = CliRunner().invoke(main, ["validate", "no_such_assignment"])
    assert result.exit_code == 2 and "unknown assignment" in result.output
