"""The grader's side of the judge: start it early, hand it one request, trust nothing it says.

The judge (:mod:`grader.judge.__main__`, run as ``python -m grader.judge``) is the only process
that deserialises a student's artefacts. It is started when grading starts, so its Keras import
overlaps the notebook's run, and it is used once: a :class:`StartedJudge` (the process, its
sandbox and its empty evidence folder) judges one submission and is then killed and removed. A
batch worker starts the next submission's judge while this one runs (before that submission is
known: nothing of any submission is in it yet; see :class:`grader.execute.warm.WarmPool`).
Its answer is read within a byte bound and a deadline; every line is checked against the
rubric: check ids in rubric order, known statuses, bounded text. Titles, hints, points and
scores come from the rubric, never from the judge, so the most a judge could misreport is which
checks passed. A judge still busy at the deadline is killed and the checks it had not finished
are failed with the reason (outcome ``judge_timeout``)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from grader.budget import Budget
from grader.data.prepare import PreparedData
from grader.data.pretrained import PretrainedWeights
from grader.judge.evidence import MAX_EVIDENCE_BYTES
from grader.results import CheckResult, CheckStatus, FitRecord
from grader.rubric import Assignment, CheckSpec
from grader.sandbox.confine import Confinement, Mount, SandboxOptions, confine

MAX_OUTPUT_BYTES = 32 * 2**20
MAX_TEXT = 64 * 1024
MAX_FITS = 1000
STDERR_TAIL = 8 * 1024
JUDGE_MODULE = "grader.judge"
GO_LINE = b"judge\n"
"""Sent after the request once the evidence is complete (``grader.judge.__main__.GO``)."""


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


def judge_argv(framework: t.Literal["keras", "torch"] = "keras") -> list[str]:
    """The judge's command line, before the sandbox's launcher is put in front of it.

    ``framework`` is what the judge imports while the notebook runs.
    """
    return [sys.executable, "-I", "-m", JUDGE_MODULE, "--framework", framework]


class Judge:
    """One judge process: started at once, used once, killed or ended afterwards.

    Args:
        argv: the full command (the sandbox launcher, then :func:`judge_argv`).
        env: its environment.
    """

    def __init__(self, argv: t.Sequence[str], env: dict[str, str]) -> None:
        self._used = False
        self._sent = False
        self._request_sent: dict[str, t.Any] | None = None
        self.process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._overflow = False
        self._readers = [
            threading.Thread(target=self._drain_stdout, daemon=True),
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _drain_stdout(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 1 << 16):
            if len(self._stdout) + len(chunk) > MAX_OUTPUT_BYTES:
                self._overflow = True
                self.process.kill()
                return
            self._stdout += chunk

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := os.read(self.process.stderr.fileno(), 1 << 16):
            self._stderr = (self._stderr + chunk)[-STDERR_TAIL:]

    def send(self, request: dict[str, t.Any]) -> None:
        """Give the judge its request early (before the notebook runs), so that it loads the
        rubric, data and held-back images meanwhile; :meth:`run` then only says go.

        Raises:
            RuntimeError: the judge was already given a request (a judge is used once).
        """
        if self._sent:
            raise RuntimeError("a judge judges one submission: start another")
        self._sent = True
        self._request_sent = request
        self._write(json.dumps(request).encode() + b"\n")

    def _write(self, data: bytes, *, last: bool = False) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(data)
            self.process.stdin.flush()
            if last:
                self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # it died before reading: its exit status says why

    def run(self, request: dict[str, t.Any], spec: Assignment, *, timeout: float) -> JudgeFindings:
        """Send ``request`` (unless :meth:`send` did), say go, wait at most ``timeout``
        seconds, and validate the answer.

        Raises:
            RuntimeError: the judge was already run, or given another request (a judge is
                used once).
        """
        if self._used:
            raise RuntimeError("a judge judges one submission: start another")
        self._used = True
        if not self._sent:
            self.send(request)
        elif request != self._request_sent:
            raise RuntimeError("a judge judges one submission: start another")
        deadline = time.monotonic() + timeout
        self._write(GO_LINE, last=True)
        timed_out = False
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        return parse_findings(
            bytes(self._stdout),
            spec,
            timed_out=timed_out,
            timeout=timeout,
            overflow=self._overflow,
            exit_code=self.process.returncode,
            stderr=bytes(self._stderr).decode("utf-8", "replace"),
        )

    def close(self) -> None:
        """End the judge if it is still running (nothing was judged, or the grader failed)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


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
    return spec_check.result(status, _text(raw["message"], "a message"), raw["details"])


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


def judge_request(
    spec: Assignment,
    plan: Budget,
    data: PreparedData,
    artefacts: Path,
    reference_figures: dict[str, float],
    pretrained: t.Sequence[PretrainedWeights],
) -> dict[str, t.Any]:
    """Everything the judge needs, as plain data: the rubric's text, never its folder."""
    return {
        "rubric": (spec.folder / "assignment.toml").read_text(encoding="utf-8"),
        "rubric_path": str(spec.folder / "assignment.toml"),
        "budget": plan.name,
        "artefacts": str(artefacts),
        "data": str(data.kernel_file),
        "held_out": str(data.held_out_file),
        "dataset": {"source": data.visible.source, "description": data.visible.description},
        "reference_figures": reference_figures,
        "pretrained_available": all(w.path is not None for w in pretrained),
        "max_bytes": MAX_EVIDENCE_BYTES,
    }


@dataclass(frozen=True)
class JudgeKey:
    """Everything a judge's sandbox and process are made from, all known before its submission."""

    options: SandboxOptions
    package: Path | None
    """The reference package it is shown (it builds the expected models)."""
    data: Path
    """The kernel's data file."""
    held_out: Path
    """The held-back images it measures accuracy on."""
    framework: t.Literal["keras", "torch"]
    """What it imports while it waits."""
    env: tuple[tuple[str, str], ...]
    """The grader's environment when it starts (thread counts come from it)."""


def judge_key(
    options: SandboxOptions, spec: Assignment, data: PreparedData, env: t.Mapping[str, str]
) -> JudgeKey:
    """The key of the judge that ``spec``'s submissions are judged by (see :class:`JudgeKey`)."""
    return JudgeKey(
        options,
        spec.reference_dir(),
        data.kernel_file,
        data.held_out_file,
        "torch" if spec.torch else "keras",
        tuple(sorted(env.items())),
    )


class StartedJudge:
    """A judge process in its sandbox with an empty evidence folder, for one submission.

    Args:
        key: what its sandbox and process are made from.

    Raises:
        ExecutionError: no free identity for its sandbox.
    """

    def __init__(self, key: JudgeKey) -> None:
        self.key = key
        self._stack = contextlib.ExitStack()
        try:
            self.box, self.evidence = self._stack.enter_context(
                _judge_sandbox(key.options, key.package, key.data, key.held_out)
            )
            self.judge = Judge(self.box.command(judge_argv(key.framework)), self.box.env())
            # Before the sandbox goes: its process first, then its folders and identity.
            self._stack.callback(self.judge.close)
        except BaseException:
            self._stack.close()
            raise

    @property
    def alive(self) -> bool:
        """Whether its process still waits for its request."""
        return self.judge.process.poll() is None

    def close(self) -> None:
        """Kill the process if it still runs, remove the evidence and release the sandbox."""
        self._stack.close()


@contextlib.contextmanager
def judge_sandbox(
    options: SandboxOptions, spec: Assignment, data: PreparedData
) -> t.Iterator[tuple[Confinement, Path]]:
    """The judge's confinement, and the folder the grader puts the evidence in for it.

    The judge sees the evidence and the data read-only, and the reference package (it builds
    the expected models); it writes nothing but its private ``/tmp``. It has the kernel's
    isolation and limits, and an identity of its own.
    """
    with _judge_sandbox(options, spec.reference_dir(), data.kernel_file, data.held_out_file) as (
        box,
        evidence,
    ):
        yield box, evidence


@contextlib.contextmanager
def _judge_sandbox(
    options: SandboxOptions, package: Path | None, data: Path, held_out: Path
) -> t.Iterator[tuple[Confinement, Path]]:
    with tempfile.TemporaryDirectory(prefix="grader-judge-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)  # traversable, not listable: the evidence folder's name is random
        evidence = root / f"evidence-{secrets.token_hex(8)}"
        evidence.mkdir(mode=0o755)
        work = root / f"work-{secrets.token_hex(8)}"
        work.mkdir(mode=0o700)
        shown = [evidence, data, held_out, *([package] if package else [])]
        with confine(
            options,
            mounts=[Mount(path) for path in shown],
            workdir=work,
            name="judge",
            reveal=[package] if package else [],
        ) as box:
            yield box, evidence
