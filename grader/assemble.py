"""A submission's result assembled from its run and its judging (in the grader): the score,
incidents and outcome, the accuracy flags, and the notices the report shows (budget, data,
sandbox, a restored checkpoint, Keras' warnings)."""

from __future__ import annotations

import dataclasses
import typing as t
from dataclasses import dataclass

import nbformat

from grader.authoring.locked_cells import describe as describe_locked
from grader.budget import Budget
from grader.calibrate import Calibration
from grader.data.prepare import PreparedData
from grader.data.sets import DATASETS
from grader.execute.outcomes import first_failure, outcome_of
from grader.execute.run import Execution
from grader.framework import framework_of
from grader.grading import GradingContext
from grader.judge.findings import JudgeFindings
from grader.judge.flags import accuracy_flags
from grader.report.escape import strip_ansi
from grader.report.facts import warning_notices
from grader.results import CellResult, CheckResult, GradeResult, Incident, ManualAnswer
from grader.rubric import Assignment
from grader.sandbox.kernel import Sandbox
from grader.versions import versions


@dataclass(frozen=True)
class Graded:
    """What running and judging one notebook produced, before it becomes a result."""

    execution: Execution
    findings: JudgeFindings
    evidence_notes: list[str]
    sandbox_notices: list[str]
    judge_seconds: float
    restored_from: int | None = None
    """The cell whose checkpoint was judged because the kernel died later (else None)."""
    sandbox_seconds: float = 0.0
    """Setting up the kernel's and the judge's sandboxes (folders, data copy, mounts)."""


def assemble_result(
    ctx: GradingContext,
    stem: str,
    reference: Calibration,
    graded: Graded,
    locked_changes: list[t.Any],
    manual: list[ManualAnswer],
) -> GradeResult:
    """The result of the notebook ``stem``, graded in ``ctx`` against ``reference``."""
    spec, plan, data = ctx.spec, ctx.plan, ctx.data
    execution, findings = graded.execution, graded.findings
    incidents = list(execution.incidents)
    if findings.problem:
        incidents.append(Incident(findings.problem, -1, findings.detail))
    return GradeResult(
        assignment=spec.id,
        submission=stem,
        score=round(sum(c.score for c in findings.checks), 6),
        max_score=spec.max_score,
        checks=_name_first_failure(findings.checks, execution.cells),
        cells=execution.cells,
        fits=findings.fits,
        budget=plan.name,
        budget_limits=plan.limits(),
        data=data.info(),
        seed=spec.seed,
        timings={"execute": execution.duration_s, "checks": graded.judge_seconds},
        versions={**versions(), **framework_of(spec).versions()},
        notices=[
            *_notices(plan, data, execution, findings.role_variables, spec),
            *warning_notices(_stderr_by_cell(execution.notebook)),
            *graded.sandbox_notices,
            *_restored_notice(graded.restored_from),
            *(w.notice() for w in ctx.pretrained),
            *(describe_locked(change) for change in locked_changes),
            *(f"Ignored: {note}" for note in [*graded.evidence_notes, *findings.notes]),
        ],
        reference_fits=reference.fits,
        outcome=outcome_of(incidents),
        incidents=incidents,
        locked_cells=locked_changes,
        manual=manual,
        flags=accuracy_flags(findings.checks, {c.id: c.kind for c in spec.checks}),
    )


def _name_first_failure(checks: list[CheckResult], cells: list[CellResult]) -> list[CheckResult]:
    """Each check that failed for want of its evidence (no model, no variable) names the first
    cell that failed: the likely cause, which the student fixes first."""
    cause = first_failure(cells)
    if not cause:
        return checks
    return [
        dataclasses.replace(c, message=f"{c.message} ({cause})")
        if c.status in ("fail", "error") and c.details.get("missing")
        else c
        for c in checks
    ]


def sandbox_notices(box: Sandbox) -> list[str]:
    if not box.options.enabled:
        return ["The notebook ran without the sandbox (--no-sandbox): no limits, no isolation."]
    if not box.namespaces:
        return [
            "The notebook ran with resource limits but without network and file-system "
            "isolation: this machine does not allow namespaces."
        ]
    return []


def _restored_notice(cell: int | None) -> list[str]:
    if cell is None:
        return []
    return [
        "The kernel died before the end of the notebook: the models and data were judged as "
        f"they stood after cell {cell}, the last finished cell that changed them."
    ]


def _notices(
    plan: Budget,
    data: PreparedData,
    execution: Execution,
    role_variables: dict[str, str],
    spec: Assignment,
) -> list[str]:
    notes = []
    if plan.capped:
        what = framework_of(spec).capped
        notes.append(
            f"Budget '{plan.name}': {what} capped "
            f"({plan.describe()}). Accuracy thresholds come from the reference trained under "
            "the same caps."
        )
    ds = data.visible
    if ds.source == "synthetic":
        label = DATASETS.get(ds.name, ds.name)
        notes.append(f"Graded on {ds.description}. Accuracy figures are not {label} accuracies.")
    else:
        notes.append(f"Graded on real data: {ds.description}.")
    for role, variable in sorted(role_variables.items()):
        notes.append(f"The {role} model was taken from the notebook variable `{variable}`.")
    if execution.finish_error:
        notes.append(f"Saving the models after the last cell failed: {execution.finish_error}")
    return notes


def _stderr_by_cell(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """What each code cell wrote to stderr (where Keras' warnings go)."""
    return [
        (
            index,
            strip_ansi(
                "".join(
                    str(out.get("text", ""))
                    for out in cell.get("outputs", [])
                    if out.get("name") == "stderr"
                )
            ),
        )
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    ]
