"""The shipped rubric parses, and every malformed rubric names the file, the key and what was
expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.budget import Timeouts
from grader.exceptions import RubricError, UnknownAssignmentError
from grader.rubric.load import available, load_assignment, parse_assignment
from tests.conftest import ASSIGNMENT

GOOD = (ASSIGNMENT / "assignment.toml").read_text()


def test_shipped_assignment_parses_with_every_check() -> None:
    a = load_assignment("cifar10_transfer")
    assert "cifar10_transfer" in available()
    assert a.max_score == 100
    assert [c.id for c in a.checks] == [
        "data.split",
        "base.architecture",
        "base.compile",
        "base.accuracy",
        "transfer.architecture",
        "transfer.frozen",
        "transfer.weights_transferred",
        "transfer.accuracy",
    ]
    assert a.roles == {"base": ["model"], "transfer": ["trans_model", "new_model"]}
    assert "x1_train" in a.variables and "y2_val" in a.variables
    assert a.student_notebook.is_file() and a.solution_notebook.is_file()
    assert all(c.hint for c in a.checks)


def test_unknown_assignment_lists_the_known_ones() -> None:
    with pytest.raises(UnknownAssignmentError, match=r"choose one of: .*cifar10_transfer"):
        load_assignment("no_such_assignment")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assignment.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ('kind = "frozen"', 'kind = "frozn"', "checks[5].kind", "unknown check kind 'frozn'"),
        ("points = 20\n", "", "checks[1].points", "is required"),
        ("points = 20\n", 'points = "twenty"\n', "checks[1].points", "expected int or float"),
        ("seed = 2024", "seed = 2024\nsed = 1", "assignment", "unknown key(s) sed"),
        (
            'model = "base", classes',
            'model = "bsae", classes',
            "checks[3].params.model",
            "expected a role",
        ),
        (
            "n_frozen = 5",
            "n_frozen = 5, n_frozne = 5",
            "checks[5].params.n_frozne",
            "unknown parameter",
        ),
        ("cell_timeout = 900", "cell_timeout = true", "execution.cell_timeout", "expected int"),
        ("[budgets.standard]", "[budgets.huge]", "budgets.huge", "budget must be one of"),
    ],
    ids=[
        "unknown-kind",
        "missing-points",
        "wrong-type",
        "unknown-key",
        "unknown-role",
        "unknown-param",
        "bool-for-number",
        "unknown-budget",
    ],
)
def test_malformed_rubric_names_file_key_and_expectation(
    tmp_path: Path, old: str, new: str, key: str, expected: str
) -> None:
    text = GOOD.replace("# [budgets.standard]", "[budgets.standard]").replace(
        "# max_epochs = 2", "max_epochs = 2"
    )
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(RubricError) as info:
        load_assignment(path)
    message = str(info.value)
    assert str(path) in message and f"[{key}]" in message and expected in message


def test_invalid_toml_is_a_rubric_error(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="not valid TOML"):
        load_assignment(_write(tmp_path, "[assignment\nid = 1"))


def test_budget_overrides_apply(tmp_path: Path) -> None:
    text = GOOD.replace(
        "# [budgets.standard]\n# max_epochs = 2", "[budgets.standard]\nmax_epochs = 3"
    )
    a = load_assignment(_write(tmp_path, text))
    assert a.budgets["standard"].max_epochs == 3
    assert a.budgets["standard"].max_train_samples == 4000  # the default for what is not given


def test_the_full_marks_example_is_the_solution_and_the_template_its_skeleton() -> None:
    import nbformat

    solution = nbformat.read(ASSIGNMENT / "solution.ipynb", as_version=4)
    example = nbformat.read(ASSIGNMENT / "submissions" / "full_marks.ipynb", as_version=4)
    student = nbformat.read(ASSIGNMENT / "student.ipynb", as_version=4)
    assert [c.source for c in example.cells] == [c.source for c in solution.cells]
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in solution.cells]
    todo = [c for c in student.cells if c.source.strip() == "### Your code goes here ###"]
    assert len(todo) == 5
    for nb in (solution, student):
        assert nb.metadata["grader"]["assignment"] == "cifar10_transfer"


def test_hidden_checks_are_read_from_the_rubric(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "frozen"', 'kind = "frozen"\nhidden = true', 1)
    checks = {c.id: c for c in load_assignment(_write(tmp_path, text)).checks}
    assert checks["transfer.frozen"].hidden and not checks["base.architecture"].hidden
    bad = GOOD.replace('kind = "frozen"', 'kind = "frozen"\nhidden = "yes"', 1)
    with pytest.raises(RubricError, match=r"\[checks\[5\]\.hidden\] expected bool"):
        load_assignment(_write(tmp_path, bad))


def test_timeouts_scale_with_the_budget_under_the_rubrics_ceiling(tmp_path: Path) -> None:
    """An endless loop at smoke is cut off in minutes, not the full budget's quarter hour."""
    from grader.budget import DEFAULT_TIMEOUTS

    spec = load_assignment("cifar10_transfer")
    assert spec.timeouts("full") == Timeouts(spec.cell_timeout, spec.total_timeout)
    smoke = DEFAULT_TIMEOUTS["smoke"]
    assert smoke is not None and spec.timeouts("smoke") == smoke
    assert spec.timeouts("smoke").cell < spec.timeouts("standard").cell < spec.cell_timeout
    # A rubric may set its own per budget (VGG19 is slow to load), never above [execution].
    vgg = load_assignment("vgg19_finetune")
    assert vgg.timeouts("smoke") == Timeouts(600, 1200)
    text = GOOD.replace("[data]", "[budgets.smoke]\ncell_timeout = 5000\n\n[data]", 1)
    raised = parse_assignment(text, tmp_path / "assignment.toml", check_files=False)
    assert raised.timeouts("smoke").cell == spec.cell_timeout  # capped by [execution]
