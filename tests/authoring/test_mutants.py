"""One mistake costs once: each rubric's one-defect examples lose exactly their defect's points.

``grader validate --mutants`` grades the examples and applies :meth:`grader.rubric.Mutant.problems`;
the notebook tests grade the same examples and hold their verdicts in ``tests/goldens/``. This
test applies the rule to those goldens, so it needs no kernel.
"""

from __future__ import annotations

import json

import pytest

from grader.rubric import Mutant
from grader.rubric.load import available, load_assignment
from tests.conftest import ROOT

GOLDENS = ROOT / "tests" / "goldens"
MUTANTS = [(name, m) for name in available() for m in load_assignment(name).mutants]


def test_every_assignment_has_one_defect_examples() -> None:
    assert {name for name, _ in MUTANTS} == set(available())


@pytest.mark.parametrize(("assignment", "mutant"), MUTANTS, ids=[m.example for _, m in MUTANTS])
def test_a_one_defect_example_loses_only_its_defects_points(
    assignment: str, mutant: Mutant
) -> None:
    spec = load_assignment(assignment)
    assert (spec.folder / "submissions" / f"{mutant.example}.ipynb").is_file()
    golden = json.loads((GOLDENS / assignment / f"{mutant.example}.json").read_text())
    assert mutant.problems(golden["checks"]) == []
    lost = {c.id: c.points for c in spec.checks if golden["checks"][c.id] != "pass"}
    assert set(mutant.charges) <= set(lost)
    charged = sum(lost[c] for c in mutant.charges)
    accuracy = sum(lost.get(c, 0) for c in mutant.costs_accuracy)
    assert golden["score"] == spec.max_score - charged - accuracy


def test_the_rule_catches_a_double_penalty() -> None:
    """name_error's verdicts before issue 12: transfer.frozen charged the missing training too."""
    spec = load_assignment("cifar10_transfer")
    mutant = next(m for m in spec.mutants if m.example == "name_error")
    before = {c.id: "pass" for c in spec.checks}
    before.update({"transfer.frozen": "fail", "transfer.accuracy": "fail"})
    assert mutant.problems(before) == [
        f"name_error: transfer.frozen fails too, but does not name the defect ({mutant.defect})"
    ]
    before["transfer.accuracy"] = "pass"
    assert any("transfer.accuracy passes" in p for p in mutant.problems(before))
