"""The judge's answer, checked against the rubric (in the grader).

Every line the judge printed is checked: check ids in rubric order, known statuses, bounded
text, well-formed fit records. Titles, hints, points and scores come from the rubric, never
from the judge, so the most a judge could misreport is which checks passed. Checks the judge
did not finish fail (it ran out of time) or error (it broke), with why. The answer is read by
:class:`grader.judge.process.Judge`.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

from grader.report.escape import strip_ansi
from grader.results import CheckResult, CheckStatus, FitRecord

if t.TYPE_CHECKING:
    from grader.rubric import Assignment, CheckSpec

MAX_TEXT = 64 * 1024
MAX_FITS = 1000


@dataclass
class JudgeFindings:
    """What the judge said, validated against the rubric."""

    checks: list[CheckResult]
    """One per rubric check, in rubric order."""
    fits: list[FitRecord] = field(default_factory=list)
    role_variables: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Artefacts the judge ignored as malformed."""
    problem: t.Literal["", "judge_timeout", "judge_failed"] = ""
    """Why the judge did not finish, as an outcome; empty when it did."""
    detail: str = ""
    """One line on what went wrong with the judge."""


def parse_findings(
    output: bytes,
    spec: Assignment,
    *,
    timed_out: bool = False,
    timeout: float = 0.0,
    overflow: bool = False,
    exit_code: int | None = 0,
    stderr: str = "",
) -> JudgeFindings:
    """Turn the judge's output into results, line by line, stopping at the first bad line.

    Checks the judge did not finish fail (it ran out of time) or error (it broke), with why.
    """
    expected = list(spec.checks)
    checks: list[CheckResult] = []
    findings = JudgeFindings(checks)
    done = False
    problem = ""
    # A judge that floods its output has gone wrong: none of what it said is believed.
    for line in [] if overflow else output.splitlines():
        try:
            message = json.loads(line)
            if not isinstance(message, dict) or len(message) != 1:
                raise ValueError("not a one-key object")
            if "check" in message and len(checks) < len(expected):
                checks.append(_check(message["check"], expected[len(checks)]))
            elif "artefacts" in message:
                _artefacts(message["artefacts"], findings)
            elif message == {"done": True} and len(checks) == len(expected):
                done = True
                break
            else:
                raise ValueError(f"unexpected message {next(iter(message))!r}")
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            problem = f"the judge answered something malformed ({exc})"
            break
    if not done:
        if timed_out:
            findings.problem = "judge_timeout"
            findings.detail = f"judging took longer than {timeout:.0f} s and was stopped"
        else:
            findings.problem = "judge_failed"
            why = problem or (
                "its answer was too long"
                if overflow
                else f"it ended with exit code {exit_code}"
                + (f": {_last_line(stderr)}" if _last_line(stderr) else "")
            )
            findings.detail = f"the judge did not finish: {why}"
    status: CheckStatus = "fail" if findings.problem == "judge_timeout" else "error"
    checks += [c.result(status, f"not judged: {findings.detail}") for c in expected[len(checks) :]]
    return findings


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _text(value: t.Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{what} must be text of at most {MAX_TEXT} characters")
    return value


def _check(raw: t.Any, spec_check: CheckSpec) -> CheckResult:
    if not isinstance(raw, dict) or set(raw) != {"id", "status", "message", "details"}:
        raise ValueError("a check must have id, status, message and details")
    if raw["id"] != spec_check.id:
        raise ValueError(f"expected check {spec_check.id!r}, got {str(raw['id'])[:100]!r}")
    status = raw["status"]
    if status not in ("pass", "fail", "error", "not_judged"):
        raise ValueError(f"unknown status {str(status)[:20]!r}")
    if not isinstance(raw["details"], dict):
        raise ValueError("details must be an object")
    # A model's error (saved by the kernel, quoted by the judge) may carry terminal colours.
    message = strip_ansi(_text(raw["message"], "a message"))
    return spec_check.result(status, message, raw["details"])


def _artefacts(raw: t.Any, findings: JudgeFindings) -> None:
    if not isinstance(raw, dict) or set(raw) != {"fits", "role_variables", "notes"}:
        raise ValueError("artefacts must have fits, role_variables and notes")
    fits, roles, notes = raw["fits"], raw["role_variables"], raw["notes"]
    if not isinstance(fits, list) or len(fits) > MAX_FITS:
        raise ValueError(f"fits must be a list of at most {MAX_FITS}")
    findings.fits = [_fit(f) for f in fits]
    if not isinstance(roles, dict):
        raise ValueError("role_variables must be an object")
    findings.role_variables = {
        _text(k, "a role")[:100]: _text(v, "a variable")[:200] for k, v in roles.items()
    }
    if not isinstance(notes, list):
        raise ValueError("notes must be a list")
    findings.notes = [_text(n, "a note")[:1000] for n in notes[:100]]


def _count(value: t.Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a count must be an integer")
    return value


def _fit(raw: t.Any) -> FitRecord:
    keys = {"model", "epochs_requested", "epochs_run", "samples_requested", "samples_used"}
    if not isinstance(raw, dict) or set(raw) != keys | {"history"}:
        raise ValueError("malformed fit record")
    history = raw["history"]
    if not isinstance(history, dict) or not all(
        isinstance(v, list) and all(isinstance(x, int | float) for x in v) for v in history.values()
    ):
        raise ValueError("a fit's history must map metrics to lists of numbers")
    return FitRecord(
        model=_text(raw["model"], "a role")[:100],
        epochs_requested=_count(raw["epochs_requested"]),
        epochs_run=_count(raw["epochs_run"]),
        samples_requested=_count(raw["samples_requested"]),
        samples_used=_count(raw["samples_used"]),
        history={_text(k, "a metric")[:100]: [float(x) for x in v] for k, v in history.items()},
    )
