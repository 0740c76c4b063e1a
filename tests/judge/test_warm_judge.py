"""Warm judges: started before their submission is known, each handed out once.

A batch worker starts the next submission's judge while the current one runs. A judge reads
the evidence folder it was started with; were one handed to a second submission, that
submission would be judged on what the first one left there. Submission A here leaves a
``roles.json`` naming its model's variable (``A_WAS_HERE``) in its judge's evidence; B hands in
nothing. B's judge, taken from the same pool, must report no such variable, and be another
process in another folder.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from grader.data.prepare import PreparedData, prepare_data
from grader.execute.warm import WarmPool
from grader.judge.findings import JudgeFindings
from grader.judge.process import StartedJudge, judge_key, judge_request
from grader.kernel import layout
from grader.rubric.load import load_assignment
from grader.sandbox.confine import SandboxOptions

SPEC = load_assignment("cifar10_transfer")


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return prepare_data(
        SPEC.dataset, data_dir=None, seed=SPEC.seed, held_back=SPEC.held_back, secret="judge-test"
    )


def _request(started: StartedJudge, data: PreparedData) -> dict[str, t.Any]:
    return judge_request(
        SPEC,
        SPEC.plan("smoke"),
        data,
        started.evidence,
        {role: 0.5 for role in SPEC.roles},
        [],
    )


def _judge(started: StartedJudge, data: PreparedData) -> JudgeFindings:
    return started.judge.run(_request(started, data), SPEC, timeout=300)


def test_a_warm_judge_judges_one_submission_and_the_next_sees_nothing_of_it(
    data: PreparedData,
) -> None:
    key = judge_key(SandboxOptions(), SPEC, data, {})
    pool = WarmPool()
    try:
        pool.refill_judge(key)  # as a worker does while the notebook before A runs
        a = pool.take_judge(key)
        assert a is not None
        pool.refill_judge(key)  # B's judge starts while A's notebook runs
        try:
            # As the grader does: the request first (the judge loads the data while the
            # notebook runs), then the evidence after the notebook, then the go.
            a.judge.send(_request(a, data))
            # What the grader copies in after A's notebook: A's role record, hostile or not.
            (a.evidence / layout.ROLES).write_text(
                json.dumps({"transfer": {"model_id": 1, "variable": "A_WAS_HERE"}})
            )
            found_a = _judge(a, data)
            with pytest.raises(RuntimeError, match="one submission"):
                _judge(a, data)
        finally:
            a.close()
        assert not a.alive and not a.evidence.exists()
        b = pool.take_judge(key)
        assert b is not None, "the pool held no judge for B"
        assert pool.take_judge(key) is None  # B's judge was handed out; none is left
        try:
            assert list(b.evidence.iterdir()) == []  # B's notebook wrote nothing
            found_b = _judge(b, data)
        finally:
            b.close()
    finally:
        pool.close()
    assert found_a.role_variables == {"transfer": "A_WAS_HERE"}, found_a.detail
    assert not found_b.problem, found_b.detail
    assert found_b.role_variables == {}
    assert b.judge.process.pid != a.judge.process.pid and b.evidence != a.evidence
    assert pool.judged == 2


def test_a_warm_judge_made_for_other_data_or_switched_off_is_not_used(
    data: PreparedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = judge_key(SandboxOptions(), SPEC, data, {})
    other = judge_key(SandboxOptions(), SPEC, data, {"OMP_NUM_THREADS": "1"})
    pool = WarmPool()
    try:
        pool.refill_judge(key)
        held = t.cast(StartedJudge, pool._judge)
        assert pool.take_judge(other) is None
        assert not held.alive and not held.evidence.exists()  # thrown away, not kept
    finally:
        pool.close()
    off = WarmPool(judges=False)
    off.refill_judge(key)
    assert off.take_judge(key) is None
    from grader.execute.warm import warm_judges_enabled

    monkeypatch.setenv("GRADER_WARM_JUDGES", "0")
    assert not warm_judges_enabled()
    monkeypatch.setenv("GRADER_WARM_JUDGES", "1")
    monkeypatch.setenv("GRADER_WARM_KERNELS", "0")
    assert not warm_judges_enabled()
