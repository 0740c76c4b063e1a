"""Judges forked from a fork-server (:mod:`grader.judge.forked`): forked, confined and judging
as a fresh judge does, and ended with the process the grader started for it.

The fork-server itself (confinement field by field against a fresh process, interrupts,
requests, users, threads) is tested in ``tests/sandbox/test_fork_server.py``.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import psutil
import pytest

from grader.data.prepare import PreparedData, prepare_data
from grader.judge.findings import JudgeFindings
from grader.judge.process import JudgeKey, StartedJudge, judge_key, judge_request, judge_server
from grader.rubric.load import load_assignment
from grader.sandbox import fork_server
from grader.sandbox.confine import SandboxOptions
from tests.sandbox.confined import until

SPEC = load_assignment("cifar10_transfer")


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return prepare_data(
        SPEC.dataset, data_dir=None, seed=SPEC.seed, held_back=SPEC.held_back, secret="judge-test"
    )


@pytest.fixture
def key(data: PreparedData) -> JudgeKey:
    return judge_key(SandboxOptions(), SPEC, data, {})


def _judge_process(started: StartedJudge) -> psutil.Process:
    """The process that runs the judge's code: its sandbox's init's child, once confined."""

    def find() -> psutil.Process | None:
        launcher = started.box.launcher_pid()
        try:
            inside = psutil.Process(launcher).children(recursive=True) if launcher else []
        except psutil.Error:
            return None
        confined = [p for p in inside if "Seccomp:\t2" in Path(f"/proc/{p.pid}/status").read_text()]
        return confined[0] if confined else None

    return t.cast(psutil.Process, until(find, "the judge's process", 60))


def _judge_nothing(started: StartedJudge, data: PreparedData) -> JudgeFindings:
    try:
        request = judge_request(
            SPEC, SPEC.plan("smoke"), data, started.evidence, {r: 0.5 for r in SPEC.roles}, []
        )
        return started.judge.run(request, SPEC, timeout=300)
    finally:
        started.close()


def test_a_keras_judge_is_forked_and_judges_as_a_fresh_one(
    key: JudgeKey, data: PreparedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert judge_server(key) is not None
    started = StartedJudge(key)
    judge = _judge_process(started)
    assert judge.cmdline()[2:4] == ["-m", "grader.sandbox.zygote"]  # a fork, not a new Python
    assert judge.uids().real == (
        started.box.uid if started.box.uid is not None else judge.uids().real
    )
    forked = _judge_nothing(started, data)
    monkeypatch.setenv(fork_server.SWITCH, "0")
    assert judge_server(key) is None
    fresh = _judge_nothing(StartedJudge(key), data)
    assert not forked.problem, forked.detail
    assert [(c.id, c.status, c.message) for c in forked.checks] == [
        (c.id, c.status, c.message) for c in fresh.checks
    ]
    assert all(c.status == "fail" for c in forked.checks)  # nothing was handed in


def test_a_forked_judge_ends_when_the_grader_kills_its_process(key: JudgeKey) -> None:
    started = StartedJudge(key)
    try:
        judge = _judge_process(started)
        started.judge.process.kill()  # what Judge.close() does to the process it started
        until(lambda: not judge.is_running(), "the forked judge's end", 10)
    finally:
        started.close()


def test_a_pytorch_judge_is_never_forked(data: PreparedData) -> None:
    """onnxruntime starts a thread when imported: a PyTorch judge starts fresh."""
    torch_key = judge_key(SandboxOptions(), load_assignment("cifar10_cnn_torch"), data, {})
    assert torch_key.framework == "torch"
    assert judge_server(torch_key) is None
