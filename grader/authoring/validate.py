"""``grader validate``: an assignment is ready when its rubric, notebooks and reference agree.

Checked, in order: the rubric parses (a malformed one raises
:class:`~grader.exceptions.RubricError` naming the file and key); every builder the checks name
exists in the reference; no student hint gives the solution's code
(:mod:`grader.authoring.hints`); the student notebook is the release of the solution notebook
(when the solution marks its solution regions); the solution scores full marks; the student
template scores 0 without a grader error; and every check is covered, that is, passed by the
solution and failed by the template, so none passes whatever is handed in.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.authoring.hints import hint_leaks
from grader.authoring.release import release, strip_solutions
from grader.notebook import grader_metadata, read_notebook
from grader.options import GradeOptions
from grader.results import GradeResult
from grader.rubric import Assignment
from grader.rubric.load import load_assignment
from grader.scratch import scratch_folder


@dataclass
class Validation:
    """What ``validate`` found."""

    assignment: Assignment
    problems: list[str] = field(default_factory=list)
    solution: GradeResult | None = None
    template: GradeResult | None = None
    mutants: dict[str, GradeResult] = field(default_factory=dict)
    """Each ``[[mutants]]`` example's result, when validated with ``mutants=True``."""

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(
    assignment: str | Path,
    *,
    options: GradeOptions = GradeOptions(budget="smoke"),  # noqa: B008 (frozen)
    mutants: bool = False,
) -> Validation:
    """Grade the assignment's solution and student notebooks and report every inconsistency.

    With ``mutants``, also grade each one-defect example of the rubric's ``[[mutants]]``: it
    must lose exactly the points of the checks that name its defect (and the accuracy the
    defect genuinely costs), see :class:`grader.rubric.Mutant`.

    Raises:
        RubricError: the rubric does not parse.
        UnknownAssignmentError: no such assignment.
    """
    from grader.execute.warm import WarmPool, warm_kernels_enabled
    from grader.pipeline import grade

    spec = load_assignment(assignment)
    found = Validation(spec)
    found.problems += _missing_builders(spec)
    found.problems += hint_leaks(spec)
    for path in (spec.solution_notebook, spec.student_notebook):
        if not path.is_file():
            found.problems.append(f"{path}: missing")
    if found.problems:
        return found
    found.problems += stale_template(
        read_notebook(spec.solution_notebook), read_notebook(spec.student_notebook), spec
    )
    examples = [
        (mutant, spec.folder / "submissions" / f"{mutant.example}.ipynb")
        for mutant in (spec.mutants if mutants else ())
    ]
    for mutant, path in examples:
        if not path.is_file():
            found.problems.append(f"mutant {mutant.example}: {path} is missing")
    examples = [(mutant, path) for mutant, path in examples if path.is_file()]
    graded = [("solution", spec.solution_notebook), ("template", spec.student_notebook)]
    graded += [(mutant.example, path) for mutant, path in examples]
    # One notebook after another, as a batch worker grades: each one's kernel is started
    # (Keras imported) while the one before it runs, and used for that notebook alone.
    pool = WarmPool() if warm_kernels_enabled() else None
    results = {}
    try:
        with scratch_folder("validate") as tmp:
            for i, (role, path) in enumerate(graded):
                if pool is not None:
                    pool.ahead = i + 1 < len(graded)
                results[role] = grade(
                    path, assignment=spec, out=tmp / role, options=options, warm=pool
                )
    finally:
        if pool is not None:
            pool.close()
    for mutant, _ in examples:
        found.mutants[mutant.example] = results[mutant.example]
        found.problems += mutant.problems({c.id: c.status for c in results[mutant.example].checks})
    found.solution, found.template = results["solution"], results["template"]
    # A check the budget cannot judge (not_judged) is neither covered nor uncovered here: its
    # message gives the figures, and a larger budget judges it.
    for check in found.solution.checks:
        if check.status not in ("pass", "not_judged"):
            found.problems.append(f"the solution does not pass {check.id}: {check.message}")
    unjudged = sum(c.score for c in found.template.checks if c.status == "not_judged")
    if found.template.score - unjudged != 0:
        found.problems.append(f"the student template scores {found.template.score:g}, not 0")
    for check in found.template.checks:
        if check.status == "error":
            found.problems.append(f"the grader crashed judging {check.id} on the template")
        elif check.status == "pass":
            found.problems.append(
                f"{check.id} passes on the empty template: it does not test the student's work"
            )
    return found


def _missing_builders(spec: Assignment) -> list[str]:
    try:
        reference = spec.reference_module()
    except ImportError as exc:
        return [f"reference module {spec.reference!r} cannot be imported: {exc}"]
    problems = []
    if not callable(getattr(reference, "train", None)):
        problems.append(f"{spec.reference} has no train(x_train, y_train, *, fit) function")
    for check in spec.checks:
        for key in ("builder", "base_builder"):
            name = getattr(check.params, key, None)
            if isinstance(name, str) and not callable(getattr(reference, name, None)):
                problems.append(f"{check.id}: {spec.reference} has no {key} {name!r}")
    return problems


def stale_template(
    solution: nbformat.NotebookNode, student: nbformat.NotebookNode, spec: Assignment
) -> list[str]:
    """The student notebook must be what ``grader release`` makes of the solution today."""
    if not any(
        c.cell_type == "code" and strip_solutions(c.source) is not None for c in solution.cells
    ):
        return []  # a solution without markers was not made to be released
    expected, _, _ = release(solution, assignment=spec.id)

    def sources(nb: nbformat.NotebookNode) -> list[tuple[t.Any, str]]:
        return [(c.get("id"), c.source) for c in nb.cells]

    if sources(expected) != sources(student) or grader_metadata(expected) != grader_metadata(
        student
    ):
        return [
            f"{spec.student_notebook.name} is not the release of {spec.solution_notebook.name}: "
            f"run grader release {spec.solution_notebook} --out {spec.student_notebook}"
        ]
    return []
