"""``-j N`` without Dask: N worker processes of this Python, one call at a time each.

Each worker is ``python -m grader.batch.process_pool``, started afresh (never forked from a
process that may hold TensorFlow's threads) and independent of how the grader itself was started
(a console script, ``python -m grader``, a test runner: nothing of the caller's ``__main__`` is
run again, as :mod:`multiprocessing`'s spawn would). It talks to the grader over two pipes of its
own, not stdin and stdout, which libraries and kernels write to: a pickled call goes in, its
pickled outcome comes back. A worker that dies mid-call (the system's out-of-memory killer, a
crash in a native library) costs that call only: it is reported as :class:`WorkerDied` and a new
worker takes its place. A worker keeps its state between calls, which is what lets it keep a
warm kernel for its next notebook (see :mod:`grader.execute.warm`).

A worker stops with its grader, however the grader ends: told to stop while idle (EOF), it
closes its warm kernel; sent SIGTERM mid-call (the pool closing early, say on Ctrl-C), or
orphaned (the grader killed, even by SIGKILL: the kernel sends it SIGHUP), its call unwinds
as an exception would, so the notebook's kernel and judge are stopped and their temporary
folders removed rather than left grading a notebook nobody will read.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import selectors
import signal
import subprocess
import sys
import typing as t
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from grader.stop_signals import unwind

STOP_SECONDS = 30
"""How long a worker told to stop may take to close its warm kernel before it is killed."""

PR_SET_PDEATHSIG = 1

Call = Callable[[], t.Any]


@dataclass(frozen=True)
class WorkerDied:
    """A call's outcome when its worker process died before answering."""

    exit_code: int | None

    def __str__(self) -> str:
        return f"the grading worker process died (exit code {self.exit_code})"


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    calls: t.BinaryIO
    answers: t.BinaryIO
    busy: tuple[t.Any, Call] | None = field(default=None)
    """The key and call it is running, if any."""


class ProcessPool:
    """``size`` worker processes that run calls and send back their outcomes.

    Args:
        size: how many workers.
        env: variables set in every worker's environment (on top of this process's).
        finish: called in a worker when it is told to stop (e.g. to close a warm kernel).
    """

    def __init__(
        self, size: int, *, env: Mapping[str, str] | None = None, finish: Call | None = None
    ) -> None:
        self.env = {
            **os.environ,
            **(env or {}),
            # What this process can import, a worker can: a course's reference or a test's
            # function named in a call is found the same way.
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
        self.finish = finish
        self.workers: list[_Worker] = []
        try:
            self.workers = [self._start() for _ in range(max(1, size))]
        except BaseException:
            self.close()
            raise

    def _start(self) -> _Worker:
        calls_r, calls_w = os.pipe()
        answers_r, answers_w = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(calls_r), str(answers_w), str(os.getpid())],
                env=self.env,
                pass_fds=(calls_r, answers_w),
                stdin=subprocess.DEVNULL,
            )
        finally:
            # The worker's ends are the worker's: closed here, so its death reads as EOF.
            os.close(calls_r)
            os.close(answers_w)
        worker = _Worker(process, os.fdopen(calls_w, "wb"), os.fdopen(answers_r, "rb"))
        if self.finish is not None:
            self._send(worker, ("finish", self.finish))
        return worker

    @staticmethod
    def _send(worker: _Worker, message: object) -> None:
        pickle.dump(message, worker.calls, protocol=pickle.HIGHEST_PROTOCOL)
        worker.calls.flush()

    def call(self, call: Call) -> t.Any:
        """Run ``call`` on a worker and return its value (or raise what it raised)."""
        for _, outcome in self.run(iter([(None, call)])):
            if isinstance(outcome, WorkerDied):
                raise RuntimeError(str(outcome))
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        raise AssertionError("unreachable: one call, one outcome")

    def run(
        self, calls: Iterator[tuple[t.Any, Call]]
    ) -> Iterator[tuple[t.Any, t.Any | BaseException | WorkerDied]]:
        """Run ``(key, call)`` pairs on the workers, yielding ``(key, outcome)`` as each ends.

        A call is taken from ``calls`` only when a worker is free, so the caller's memory holds
        no more calls than there are workers. The outcome is the call's value, the exception it
        raised, or :class:`WorkerDied`.
        """
        with selectors.DefaultSelector() as selector:
            exhausted = False

            def feed() -> None:
                nonlocal exhausted
                for worker in list(self.workers):
                    if worker.busy is not None or exhausted:
                        continue
                    item = next(calls, None)
                    if item is None:
                        exhausted = True
                        return
                    try:
                        self._send(worker, ("call", item[1]))
                    except OSError:  # it died while idle: a new worker takes the call
                        worker = self._replace(worker)
                        self._send(worker, ("call", item[1]))
                    worker.busy = item
                    selector.register(worker.answers, selectors.EVENT_READ, worker)

            feed()
            while selector.get_map():
                for ready, _ in selector.select():
                    worker = t.cast(_Worker, ready.data)
                    selector.unregister(worker.answers)
                    key, _call = t.cast(tuple[t.Any, Call], worker.busy)
                    worker.busy = None
                    outcome = self._answer(worker)
                    feed()
                    yield key, outcome

    def _answer(self, worker: _Worker) -> t.Any:
        try:
            # The pipe joins the grader to its own worker: kernels start with every other file
            # descriptor closed (close_fds), so no student code can write to it.
            kind, value = pickle.load(worker.answers)  # noqa: S301
        except (EOFError, pickle.UnpicklingError, OSError):
            code = worker.process.wait()
            self._replace(worker)
            return WorkerDied(code)
        return value if kind == "value" else t.cast(BaseException, value)

    def _replace(self, dead: _Worker) -> _Worker:
        with contextlib.suppress(OSError):
            dead.process.kill()
        dead.process.wait()
        for stream in (dead.calls, dead.answers):
            with contextlib.suppress(OSError):
                stream.close()
        new = self._start()
        self.workers[self.workers.index(dead)] = new
        return new

    def close(self) -> None:
        """Tell every worker to stop; kill the ones not stopped after :data:`STOP_SECONDS`.

        A worker still running a call is sent SIGTERM: the call unwinds, its kernel and judge
        stopped and its folders removed, before the worker exits.
        """
        for worker in self.workers:
            if worker.busy is not None:
                with contextlib.suppress(OSError):
                    worker.process.terminate()
            with contextlib.suppress(OSError):
                worker.calls.close()  # EOF: an idle worker runs ``finish`` and exits
        for worker in self.workers:
            try:
                worker.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            with contextlib.suppress(OSError):
                worker.answers.close()
        self.workers = []

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(calls: t.BinaryIO, answers: t.BinaryIO) -> None:
    """A worker's loop: run each call received, send back its value or its exception."""
    finish: Call | None = None
    try:
        while True:
            try:
                kind, call = pickle.load(calls)  # noqa: S301 (from the grader that started us)
            except EOFError:
                return
            if kind == "finish":
                finish = call
                continue
            try:
                answer: tuple[str, t.Any] = ("value", call())
            except Exception as exc:
                answer = ("raised", exc)
            try:
                data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an exception that cannot cross: its text can
                data = pickle.dumps(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))
            answers.write(data)
            answers.flush()
    finally:
        if finish is not None:
            finish()


def _stop_with(parent: int) -> None:
    """Make SIGTERM, Ctrl-C and the death of ``parent`` (the grader) end this worker's call."""

    def stop(signum: int, _frame: object) -> None:
        # Ctrl-C reaches the worker too, and the grader then closes the pool with SIGTERM: once
        # unwinding, neither may interrupt the cleanup.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        unwind(signum)

    def parent_gone(signum: int, frame: object) -> None:
        # Linux sends it when the grader's thread that started this worker ends, too, and a
        # terminal's hang-up is a SIGHUP as well: only an orphan stops.
        if os.getppid() != parent:
            stop(signum, frame)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, parent_gone)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGHUP, 0, 0, 0)
    if os.getppid() != parent:  # it was gone before the request was made
        raise SystemExit(128 + signal.SIGHUP)


if __name__ == "__main__":
    _in, _out, _parent = (int(number) for number in sys.argv[1:4])
    _stop_with(_parent)
    _serve(os.fdopen(_in, "rb"), os.fdopen(_out, "wb"))
