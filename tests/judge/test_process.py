"""The judge's answer is read like any other untrusted input; the grader's secret; the flags."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.data.secret import grader_secret
from grader.judge.findings import parse_findings
from grader.judge.flags import accuracy_flags, accuracy_margin
from grader.judge.process import Judge
from grader.results import CheckResult
from grader.rubric.load import load_assignment
from tests.sandbox.confined import run_confined

SPEC = load_assignment("cifar10_transfer")
IDS = [c.id for c in SPEC.checks]


def line(message: object) -> bytes:
    return json.dumps(message).encode() + b"\n"


def answer(statuses: dict[str, str] | None = None, *, done: bool = True) -> bytes:
    statuses = statuses or {}
    out = b"".join(
        line({"check": {"id": i, "status": statuses.get(i, "pass"), "message": "", "details": {}}})
        for i in IDS
    )
    out += line({"artefacts": {"fits": [], "role_variables": {"base": "model"}, "notes": []}})
    return out + (line({"done": True}) if done else b"")


def test_points_titles_and_hints_come_from_the_rubric_never_from_the_judge() -> None:
    raw = answer({"base.compile": "fail"}).replace(b'"message": ""', b'"message": "m"', 1)
    findings = parse_findings(raw, SPEC)
    assert findings.problem == ""
    assert [c.id for c in findings.checks] == IDS
    assert sum(c.score for c in findings.checks) == SPEC.max_score - 5
    by_id = {c.id: c for c in findings.checks}
    assert by_id["base.compile"].hint == next(c.hint for c in SPEC.checks if c.id == "base.compile")
    assert findings.role_variables == {"base": "model"}


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda raw: raw.replace(b'"data.split"', b'"bonus"', 1), "expected check 'data.split'"),
        (lambda raw: raw.replace(b'"pass"', b'"excellent"', 1), "unknown status"),
        (lambda raw: raw.replace(b'"details": {}', b'"details": 100', 1), "details must be"),
        (lambda raw: raw.replace(b'"message": ""', b'"score": 100, "message": ""', 1), "must have"),
        (lambda raw: b"not json\n" + raw, "malformed"),
        (lambda raw: raw + line({"check": {}}), ""),
    ],
    ids=["unknown-id", "status", "details", "own-score", "garbage", "after-done"],
)
def test_a_malformed_answer_grades_nothing_it_did_not_prove(tamper: object, why: str) -> None:
    findings = parse_findings(tamper(answer()), SPEC)  # type: ignore[operator]
    if why:
        assert findings.problem == "judge_failed" and why in findings.detail
        assert all(c.score == 0 for c in findings.checks[-3:])
    assert len(findings.checks) == len(IDS)
    assert sum(c.score for c in findings.checks) <= SPEC.max_score


def test_a_judge_stopped_at_its_deadline_keeps_what_it_finished() -> None:
    first_three = b"".join(answer().splitlines(keepends=True)[:3])
    findings = parse_findings(first_three, SPEC, timed_out=True, timeout=30)
    assert findings.problem == "judge_timeout"
    assert [c.status for c in findings.checks] == ["pass"] * 3 + ["fail"] * (len(IDS) - 3)
    stopped = "not judged: judging took longer than 30 s and was stopped"
    assert findings.checks[-1].message == stopped


def test_a_judge_still_busy_at_its_deadline_is_killed_and_keeps_what_it_sent() -> None:
    first_three = b"".join(answer().splitlines(keepends=True)[:3])
    busy = (
        "import sys, time\n"
        "sys.stdin.buffer.readline(); sys.stdin.buffer.readline()\n"  # the request, then go
        f"sys.stdout.buffer.write({first_three!r}); sys.stdout.flush()\n"
        "time.sleep(600)\n"
    )
    judge = Judge([sys.executable, "-c", busy], dict(os.environ))
    started = time.monotonic()
    findings = judge.run({}, SPEC, timeout=3)
    judge.close()
    assert time.monotonic() - started < 3 + 10
    assert judge.process.returncode is not None and judge.process.returncode < 0  # killed
    assert findings.problem == "judge_timeout"
    assert [c.status for c in findings.checks] == ["pass"] * 3 + ["fail"] * (len(IDS) - 3)
    stopped = "not judged: judging took longer than 3 s and was stopped"
    assert all(c.message == stopped and c.score == 0 for c in findings.checks[3:])


def test_a_judge_that_floods_its_output_is_killed_and_judges_nothing(tmp_path: Path) -> None:
    flood = "import sys\nwhile True: sys.stdout.write('x' * 65536)\n"
    judge = Judge([sys.executable, "-c", flood], dict(os.environ))
    findings = judge.run({}, SPEC, timeout=60)
    judge.close()
    assert findings.problem == "judge_failed" and "too long" in findings.detail
    assert all(c.status == "error" and c.score == 0 for c in findings.checks)


def test_the_secret_is_created_once_private_and_an_environment_value_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRADER_SECRET", raising=False)
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    first = grader_secret()
    assert len(first) == 64 and grader_secret() == first
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    # Two graders starting at once agree on one secret.
    code = "from grader.data.secret import grader_secret; print(grader_secret())"
    (tmp_path / "secret").unlink()
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    assert len({p.communicate()[0] for p in procs}) == 1
    monkeypatch.setenv("GRADER_SECRET", "given")
    assert grader_secret() == "given"


def accuracy_result(measured: float, reference: float, images: int) -> CheckResult:
    details = {"accuracy": measured, "reference_accuracy": reference, "evaluated_images": images}
    return CheckResult("base.accuracy", "t", "pass", 15, 15, "", "", details)


def test_accuracy_far_above_the_reference_is_flagged_never_scored() -> None:
    kinds = {c.id: c.kind for c in SPEC.checks}
    assert accuracy_flags([accuracy_result(0.62, 0.60, 1000)], kinds) == []
    (flag,) = accuracy_flags([accuracy_result(0.98, 0.60, 1000)], kinds)
    assert flag.kind == "accuracy_above_reference" and "98.0%" in flag.detail
    # On few images the noise is larger, and so is the margin.
    assert accuracy_margin(0.5, 50) > accuracy_margin(0.5, 5000) == 0.15


def test_the_judge_runs_confined_with_its_own_identity(tmp_path: Path) -> None:
    """What a judge taken over by a student's file could do: read what it measures, write and
    reach nothing else."""
    from grader.data.prepare import prepare_data
    from grader.judge.process import judge_sandbox
    from grader.sandbox.confine import SandboxOptions, namespaces_available

    if not namespaces_available():
        pytest.skip("this machine does not allow namespaces")
    data = prepare_data(
        SPEC.dataset, data_dir=None, seed=SPEC.seed, held_back=SPEC.held_back, secret="judge-test"
    )
    hand_in = tmp_path / "hand-in.ipynb"
    hand_in.write_text("{}")
    probe = f"""
import json, os, reference.cifar10_transfer
found = {{"uid": os.getuid()}}
for name, path in [("data", {str(data.held_out_file)!r}), ("hand_in", {str(hand_in)!r}),
                   ("solution", {str(SPEC.solution_notebook)!r})]:
    try:
        open(path, "rb").read(1)
        found[name] = "read"
    except OSError as exc:
        found[name] = type(exc).__name__
try:
    open({str(data.held_out_file)!r}, "ab")
    found["write"] = "written"
except OSError as exc:
    found["write"] = type(exc).__name__
print(json.dumps(found))
"""
    with judge_sandbox(SandboxOptions(), SPEC, data) as (box, _):
        done = run_confined(box, [sys.executable, "-I", "-c", probe])
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["data"] == "read" and found["write"] != "written"
    assert found["hand_in"] == "FileNotFoundError" and found["solution"] == "FileNotFoundError"
    if os.geteuid() == 0:
        assert found["uid"] != 0
