"""The grader's side of the judge: start it early, hand it one request, trust nothing it says.

The judge (:mod:`grader.judge.__main__`, run as ``python -m grader.judge``) is the only process
that deserialises a student's artefacts. It is started when grading starts, so its Keras import
overlaps the notebook's run, and it is used once: a :class:`StartedJudge` (the process, its
sandbox and its empty evidence folder) judges one submission and is then killed and removed. A
batch worker starts the next submission's judge while this one runs (before that submission is
known: nothing of any submission is in it yet; see :class:`grader.execute.warm.WarmPool`).
Its answer is read within a byte bound and a deadline, then checked line by line against the
rubric (:mod:`grader.judge.findings`). A judge still busy at the deadline is killed and the
checks it had not finished are failed with the reason (outcome ``judge_timeout``)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.budget import Budget
from grader.data.prepare import DataFiles, PreparedData
from grader.data.pretrained import PretrainedWeights
from grader.framework import framework_of
from grader.judge.evidence import MAX_EVIDENCE_BYTES
from grader.judge.findings import JudgeFindings, parse_findings
from grader.rubric import Assignment
from grader.sandbox.confine import JUDGE_GROUP, Confinement, Mount, SandboxOptions, confine
from grader.sandbox.fork_server import ForkServer, fork_server
from grader.scratch import scratch_folder

MAX_OUTPUT_BYTES = 32 * 2**20
STDERR_TAIL = 8 * 1024
JUDGE_MODULE = "grader.judge"
GO_LINE = b"judge\n"
"""Sent after the request once the evidence is complete (``grader.judge.__main__.GO``)."""


def judge_arguments(framework: t.Literal["keras", "torch"] = "keras") -> list[str]:
    """The judge's arguments: ``framework`` is what it imports while the notebook runs."""
    return ["--framework", framework]


def judge_argv(framework: t.Literal["keras", "torch"] = "keras") -> list[str]:
    """The judge's command line, before the sandbox's launcher is put in front of it."""
    return [sys.executable, "-I", "-m", JUDGE_MODULE, *judge_arguments(framework)]


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
    """The grader's environment when it starts (its allow-listed variables pass in)."""


def judge_key(
    options: SandboxOptions, spec: Assignment, data: DataFiles, env: t.Mapping[str, str]
) -> JudgeKey:
    """The key of the judge that ``spec``'s submissions are judged by (see :class:`JudgeKey`)."""
    return JudgeKey(
        options,
        spec.reference_dir(),
        data.kernel_file,
        data.held_out_file,
        framework_of(spec).name,
        tuple(sorted(env.items())),
    )


FORKED = "grader.judge.forked"
"""The judge's program for a fork-server (:mod:`grader.sandbox.zygote`)."""


def judge_server(key: JudgeKey) -> ForkServer | None:
    """The fork-server ``key``'s judge is forked from, or None where it starts fresh (see
    :func:`~grader.sandbox.fork_server.fork_server`): a PyTorch judge always, since
    onnxruntime starts threads when imported and a process with threads cannot be forked
    safely."""
    if key.framework != "keras":
        return None
    return fork_server(FORKED, key.options, key.env)


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
            server = judge_server(key)
            if server is not None:
                argv = server.command(self.box, judge_arguments(key.framework))
            else:
                argv = self.box.command(judge_argv(key.framework))
            self.judge = Judge(argv, self.box.env())
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
    with scratch_folder("judge") as root:
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
            # Where the group exists, the reference is readable by it alone (see setup.sh).
            group=JUDGE_GROUP,
        ) as box:
            yield box, evidence
