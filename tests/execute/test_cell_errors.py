"""What a failed cell becomes in a result (issue 24.5): a missing package is an outcome of its
own, the first failed cell is named in every check it took down, errors carry no terminal
codes and no frame of the grader's own wrappers, and accuracy bounds stay within 0-100%."""

from __future__ import annotations

import json

import nbformat
import pytest

from grader.assemble import _name_first_failure
from grader.checks.thresholds import decide
from grader.execute.cell_run import GRADER_PACKAGE, error_of
from grader.execute.outcomes import cell_incident, first_failure, outcome_of
from grader.judge.findings import parse_findings
from grader.results import CellResult, CheckResult, Incident
from grader.rubric.load import load_assignment
from tests.conftest import ASSIGNMENT


def failed(index: int, name: str, value: str) -> CellResult:
    return CellResult(index, "error", 0.1, "", name, value, f"{name}: {value}")


@pytest.mark.parametrize(
    ("value", "package"),
    [
        ("No module named 'pandas'", "pandas"),
        ("No module named 'sklearn'", "scikit-learn"),
        ("No module named 'PIL'", "pillow"),
    ],
)
def test_a_package_the_environment_lacks_is_an_outcome_naming_it(value: str, package: str) -> None:
    incident = cell_incident(failed(1, "ModuleNotFoundError", value))
    assert incident is not None and incident.outcome == "missing_module"
    assert f"lacks package {package}" in incident.detail and incident.cell == 1
    assert outcome_of([incident]) == "missing_module"
    # A limit hit elsewhere is still the more serious outcome.
    assert outcome_of([incident, Incident("timeout", 2, "")]) == "timeout"


def test_a_module_its_package_no_longer_has_is_an_ordinary_error() -> None:
    # keras is installed; keras.layers.core is Keras 2's module layout (a hint says so).
    assert (
        cell_incident(failed(0, "ModuleNotFoundError", "No module named 'keras.layers.core'"))
        is None
    )


def check(status: str, message: str, missing: bool) -> CheckResult:
    details = {"missing": True} if missing else {}
    return CheckResult("c", "C", status, 0.0, 10.0, message, "", details)  # type: ignore[arg-type]


def test_every_check_a_failed_cell_took_down_names_that_cell() -> None:
    cells = [
        CellResult(0, "ok", 0.1, "import numpy"),
        failed(1, "ModuleNotFoundError", "No module named 'pandas'"),
        failed(2, "NameError", "name 'pd' is not defined"),
    ]
    checks = [
        check("fail", "no model model found in the notebook", True),
        check("fail", "the model has 3 layers, expected 4", False),
        check("pass", "", False),
    ]
    named = _name_first_failure(checks, cells)
    assert named[0].message == (
        "no model model found in the notebook (cell 1 failed: No module named 'pandas' — the "
        "grading environment lacks package pandas)"
    )
    assert named[1:] == checks[1:]  # judged on evidence: nothing to add
    assert first_failure([failed(4, "NameError", "name 'x' is not defined")]) == (
        "cell 4 failed first: NameError: name 'x' is not defined"
    )
    assert _name_first_failure(checks, [CellResult(0, "ok", 0.1, "")]) == checks


def test_a_failed_cells_error_has_no_colour_codes_and_no_grader_frame() -> None:
    frame = (
        f"\x1b[0;32mFile \x1b[0;32m{GRADER_PACKAGE}/framework/pytorch/kernel/runtime.py:560"
        "\x1b[0m, in "
        "\x1b[0;36mPass.__next__\x1b[0;34m(self)\x1b[0m"
    )
    student = "\x1b[0;32mCell \x1b[0;32mIn[3], line 1\x1b[0m\n----> 1 it.next()"
    cell = nbformat.v4.new_code_cell("it.next()")
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="AttributeError",
            evalue="'x' object has no attribute \x1b[1m'next'\x1b[0m",
            traceback=["\x1b[0;31m----\x1b[0m", student, frame, "\x1b[0;31mAttributeError\x1b[0m"],
        )
    ]
    error = error_of(cell)
    assert error is not None
    name, value, tb = error
    assert value == "'x' object has no attribute 'next'"
    assert "\x1b" not in name + value + tb
    assert "In[3], line 1" in tb and "kernel/runtime" not in tb and "Pass.__next__" not in tb


def test_a_judges_message_reaches_the_result_without_colour_codes() -> None:
    spec = load_assignment(ASSIGNMENT)
    lines = [
        json.dumps(
            {
                "check": {
                    "id": c.id,
                    "status": "fail",
                    "message": "the model could not be saved: \x1b[1mValueError\x1b[0m",
                    "details": {},
                }
            }
        )
        for c in spec.checks
    ]
    findings = parse_findings("\n".join([*lines, json.dumps({"done": True})]).encode(), spec)
    assert findings.checks[0].message == "the model could not be saved: ValueError"


def test_accuracy_bounds_stay_between_0_and_100_percent() -> None:
    d = decide(reference=0.02, spread=0.05, images=50, chance=0.01, relative=0.8)
    assert not d.judged
    assert 0.0 <= d.correct_lower <= d.reference and 0.0 <= d.untrained_upper <= 1.0
    assert "-" not in d.explain()
    certain = decide(reference=1.0, spread=0.0, images=10, chance=1.0, relative=0.8)
    assert certain.untrained_upper == 1.0 and not certain.judged


def test_a_dataloader_pass_is_named_as_the_iterator_it_stands_for() -> None:
    from grader.framework.pytorch.kernel.passes import Pass

    loader_pass = Pass(None, {}, None, None)  # type: ignore[arg-type]
    with pytest.raises(AttributeError) as raised:
        loader_pass.next()
    assert str(raised.value) == "'_SingleProcessDataLoaderIter' object has no attribute 'next'"
