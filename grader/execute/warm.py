"""Warm kernels: the next submission's kernel started, in its own sandbox, while this one runs.

A kernel's start and its ``import keras`` take seconds that no budget touches. A process that
grades one notebook after another (a batch worker) keeps one kernel started ahead: a fresh
sandbox (new folders, a new uid, new private ``/tmp``), a kernel launched in it whose only
code so far is the grader's preload (``import keras``), with the assignment's data and files
already in place. What depends on the submission waits until it is known: the notebook is
copied in (:func:`grader.sandbox.kernel.place_submission`), and the grader's setup cell seeds,
serves the data and wraps ``fit`` exactly as in a cold kernel. A warm kernel is used once,
for one submission, then stopped with its sandbox, like every kernel: nothing crosses from
one submission to the next. Its sandbox is made with the same options, data, files and hidden
paths as a cold one would be (:class:`WarmKey`); a submission whose key differs gets a cold
kernel, and the warm one is thrown away.

A single grade (``grader check``, a worker's first notebook) uses the same pool to start its
own kernel first thing, as soon as the sandbox's key is known, so that it boots while the
grader restores locked cells, looks up the calibration and starts the judge.

Warm judges: the pool also keeps the next submission's judge started ahead
(:class:`grader.judge.process.StartedJudge`: its own sandbox and identity, an empty evidence
folder, ``import keras`` under way), so that its start and import are done before the next
notebook needs it. It is given one submission's evidence and one request, then killed and
removed with its sandbox, like a cold judge: :meth:`WarmPool.take_judge` hands a judge out
once and never takes it back. ``GRADER_WARM_JUDGES=0`` (or ``GRADER_WARM_KERNELS=0``, which
switches the whole pool off) starts every judge when its submission comes.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from dataclasses import dataclass
from pathlib import Path

from jupyter_core.utils import run_sync

from grader.execute.kernel_manager import kernel_manager
from grader.framework.keras import PRELOAD
from grader.judge.process import JudgeKey, StartedJudge
from grader.sandbox.confine import SandboxOptions
from grader.sandbox.fork_server import fork_server
from grader.sandbox.kernel import Sandbox, kernel_sandbox

SWITCH = "GRADER_WARM_KERNELS"
"""Set to ``0`` to start every kernel and judge when its submission comes (to compare, or to
debug)."""
JUDGE_SWITCH = "GRADER_WARM_JUDGES"
"""Set to ``0`` to start every judge when its submission comes, warm kernels still on."""
HISTORY = "--HistoryManager.hist_file=:memory:"
"""As nbclient starts its kernels: no history file in the kernel's folder."""


@dataclass(frozen=True)
class WarmKey:
    """Everything a kernel's sandbox is made from before its submission is known."""

    options: SandboxOptions
    data: Path
    extra_files: tuple[Path, ...]
    hide: tuple[Path | None, ...]
    env: tuple[tuple[str, str], ...]
    """The grader's environment when the kernel starts (its allow-listed variables pass in)."""
    preload: str = PRELOAD
    program: str | None = None
    """The fork-server's program its kernel is forked with (the framework's
    ``kernel_program``, whose preload is ``preload``); None: started fresh."""


class WarmKernel:
    """One started kernel in its sandbox, not yet given a submission.

    Args:
        key: what its sandbox was made from.
    """

    def __init__(self, key: WarmKey) -> None:
        self.key = key
        self._stack = contextlib.ExitStack()
        try:
            self.box: Sandbox = self._stack.enter_context(
                kernel_sandbox(
                    key.options,
                    submission=None,
                    data=key.data,
                    extra_files=key.extra_files,
                    hide=key.hide,
                )
            )
            self.km = kernel_manager(self.box)
            if key.program is not None:  # forked from a server that ran its preload
                self.km.fork_server = fork_server(key.program, key.options, key.env)
            preload = f"--IPKernelApp.exec_lines={[key.preload]!r}"
            run_sync(self.km.start_kernel)(
                extra_arguments=[HISTORY, preload], cwd=str(self.box.work), env=self.box.env()
            )
        except BaseException:
            self._stack.close()
            raise

    def close(self) -> None:
        """Stop the kernel (if still running) and remove its sandbox."""
        try:
            if self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
        finally:
            self._stack.close()


class WarmPool:
    """At most one warm kernel, started ahead for whichever submission this process grades next.

    Not thread-safe: one process grades one notebook at a time with it.

    Args:
        judges: whether it also keeps a judge started ahead (see :meth:`take_judge`).
    """

    def __init__(self, *, judges: bool = True) -> None:
        self._warm: WarmKernel | None = None
        self._judge: StartedJudge | None = None
        self.judges = judges
        self.served = 0
        """How many submissions ran in a warm kernel of this pool."""
        self.judged = 0
        """How many submissions were judged by a warm judge of this pool."""
        self.ahead = True
        """Whether another submission is expected after this one (else none is started)."""

    def take(self, key: WarmKey) -> WarmKernel | None:
        """The warm kernel if it was made for ``key`` and still runs; else None (it is closed)."""
        warm, self._warm = self._warm, None
        if warm is None:
            return None
        alive = warm.km.has_kernel and run_sync(warm.km.is_alive)()
        if warm.key == key and alive:
            self.served += 1
            return warm
        warm.close()
        return None

    def refill(self, key: WarmKey) -> None:
        """Start the next kernel for ``key`` (closing one held for another key)."""
        if self._warm is not None:
            self._warm.close()
            self._warm = None
        self._warm = WarmKernel(key)

    def take_judge(self, key: JudgeKey) -> StartedJudge | None:
        """The judge started ahead if made for ``key`` and still waiting; else None.

        The pool lets go of it either way: a judge is handed out once, for one submission,
        and the caller closes it.
        """
        judge, self._judge = self._judge, None
        if judge is None:
            return None
        if judge.key == key and judge.alive:
            self.judged += 1
            return judge
        judge.close()
        return None

    def refill_judge(self, key: JudgeKey) -> None:
        """Start the next submission's judge for ``key`` (closing one held for another key)."""
        if not self.judges:
            return
        if self._judge is not None:
            self._judge.close()
            self._judge = None
        self._judge = StartedJudge(key)

    def close(self) -> None:
        """Stop the warm kernel and the warm judge, if any."""
        warm, self._warm = self._warm, None
        judge, self._judge = self._judge, None
        try:
            if warm is not None:
                warm.close()
        finally:
            if judge is not None:
                judge.close()

    @property
    def holding(self) -> bool:
        """Whether a warm kernel is held."""
        return self._warm is not None


def warm_key(
    options: SandboxOptions,
    *,
    data: Path,
    extra_files: t.Iterable[Path],
    hide: t.Iterable[Path | None],
    env: t.Mapping[str, str],
    preload: str = PRELOAD,
    program: str | None = None,
) -> WarmKey:
    """The key a kernel's sandbox would be made with (see :class:`WarmKey`)."""
    return WarmKey(
        options,
        data,
        tuple(extra_files),
        tuple(hide),
        tuple(sorted(env.items())),
        preload,
        program,
    )


def warm_kernels_enabled() -> bool:
    """Whether kernels may be started before their submission comes (``$GRADER_WARM_KERNELS``)."""
    return os.environ.get(SWITCH, "1") != "0"


def warm_judges_enabled() -> bool:
    """Whether judges may be started before their submission comes: warm kernels on, and
    ``$GRADER_WARM_JUDGES`` not ``0``."""
    return warm_kernels_enabled() and os.environ.get(JUDGE_SWITCH, "1") != "0"
