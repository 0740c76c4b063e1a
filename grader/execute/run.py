"""Run a notebook with nbclient in a fresh kernel, cell by cell, and record how each cell ran.

Execution never stops at a failing cell: a later cell may still produce what a check needs.
Each cell gets the rubric's per-cell timeout, cut short by what is left of the total timeout;
a timed-out cell is interrupted and the next one runs. A cell that does not stop within
:data:`~grader.execute.cell_run.INTERRUPT_GRACE_S` of the interrupt (it ignores SIGINT, or
is stuck in C code) has its kernel killed, and the rest of the notebook is skipped. The
kernel runs in a sandbox (:mod:`grader.sandbox.confine`); every limit a cell runs into is
recorded as an :class:`~grader.results.Incident` (:mod:`grader.execute.outcomes`); one cell's
run is :mod:`grader.execute.cell_run`.

Every message the kernel sends is hostile input: :class:`~grader.execute.client.BoundedClient`
bounds what it can make the grader keep, and drops what nbclient cannot read rather than ending
the grade.
"""

from __future__ import annotations

import contextlib
import math
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync

from grader.exceptions import ExecutionError
from grader.execute.cell_run import (
    GRADER_CELL_TIMEOUT_S,
    INTERRUPT_GRACE_S,
    TIMEOUT_ENAME,
    injected,
    run_cell,
    run_closing,
    run_setup,
    stdout_of,
)
from grader.execute.client import BoundedClient
from grader.execute.kernel_manager import SandboxedKernelManager, kernel_manager
from grader.execute.outcomes import RELAY_OUTCOME, cell_incidents
from grader.results import CellResult, Incident
from grader.sandbox.kernel import Sandbox
from grader.sandbox.limits import MB
from grader.sandbox.processes import tree_cpu_seconds
from grader.sandbox.watchdog import Watchdog


@dataclass
class Execution:
    """What running the notebook produced."""

    notebook: nbformat.NotebookNode
    """The submission with outputs filled in (injected cells are not part of it)."""
    cells: list[CellResult]
    duration_s: float
    setup_output: str
    """What the grader's setup cell printed (budget and data notices)."""
    finish_error: str = ""
    """Why the grader's closing cell (saving models) failed, if it did."""
    incidents: list[Incident] = field(default_factory=list)
    """Limits the notebook ran into, in order."""
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds per phase of the run (see :data:`PHASES`) and CPU-seconds of the kernel (see
    :data:`CPU_PHASES`), for profiling; never a verdict."""


PHASES = ("kernel_start", "setup_cell", "cells", "evidence", "finish_cell", "kernel_stop")
"""What :attr:`Execution.phases` times: starting the sandboxed kernel until it answers, the
grader's setup cell (Keras import, data), the student's cells, taking their evidence after
each, the grader's closing cell (saving the models), and stopping the kernel."""
CPU_PHASES = ("kernel_cpu", "cells_cpu")
"""CPU-seconds, beside :data:`PHASES`' wall seconds: what the kernel's processes had used when
its last cell ended (its start, its imports, the grader's two cells and the student's), and
what they used while the student's cells ran, the notebook's own work (a process a cell started
and did not reap is counted while it runs: one that ends uncounted between two samples is
missed)."""


def run_notebook(
    nb: nbformat.NotebookNode,
    *,
    workdir: Path,
    setup: str,
    finish: str,
    cell_timeout: float,
    total_timeout: float,
    env: dict[str, str],
    sandbox: Sandbox | None = None,
    after_cell: t.Callable[[int], None] | None = None,
    started: SandboxedKernelManager | None = None,
    before_cell: t.Callable[[int], None] | None = None,
) -> Execution:
    """Execute ``setup``, every code cell of ``nb``, then ``finish``, in one fresh kernel.

    Args:
        nb: the submission; its outputs are replaced.
        workdir: the kernel's working folder.
        setup: grader code run before the student's first cell; if it fails, nothing is graded.
        finish: grader code run after the last cell, even when the total timeout ran out
            (not after the kernel died or was killed).
        cell_timeout: seconds any one cell may run.
        total_timeout: seconds all the student's cells may run together. Wall time is bounded
            by it plus :data:`~grader.execute.cell_run.INTERRUPT_GRACE_S` (for the last
            interrupted cell), kernel start, and the grader's two cells (each
            :data:`~grader.execute.cell_run.GRADER_CELL_TIMEOUT_S` at most, plus the same
            grace), whatever the notebook does.
        env: the kernel's environment.
        sandbox: where and how the kernel is confined; None runs it as a plain child process.
        after_cell: called after each student cell has run (the grader takes the evidence
            the cell left, before the next cell can touch it).
        started: the manager of a kernel already started in ``sandbox`` (a warm kernel, see
            :mod:`grader.execute.warm`); None starts one now.
        before_cell: called with a student code cell's index as it starts (progress).

    Raises:
        ExecutionError: the kernel could not start, or the setup cell failed.
    """
    replies: dict[int, dict[str, t.Any]] = {}
    km, client = _client(nb, workdir, sandbox, cell_timeout, replies, started)
    cells = _Cells.around(nb, setup, finish)
    start = time.monotonic()
    run = _Run(client, replies, sandbox, cell_timeout, dict.fromkeys(PHASES + CPU_PHASES, 0.0))
    after = _timed(after_cell, run.phases, "evidence") if after_cell is not None else None
    try:
        with client.setup_kernel(env=env):
            run.phases["kernel_start"] = time.monotonic() - start
            finish_error = run.through(km, cells, total_timeout, before_cell, after)
            stopping = time.monotonic()
    except (RuntimeError, OSError) as exc:
        raise ExecutionError(f"could not start or talk to the notebook kernel: {exc}") from exc
    finally:
        nb.cells = cells.student
        if run.watchdog is not None:
            run.watchdog.stop()
        _stop(km, client)
    run.phases["kernel_stop"] = time.monotonic() - stopping
    return Execution(
        notebook=nb,
        cells=run.cells,
        duration_s=time.monotonic() - start,
        setup_output=stdout_of(cells.setup),
        finish_error=finish_error,
        incidents=run.incidents,
        phases=run.phases,
    )


class _Cells(t.NamedTuple):
    """The cells a run executes: the grader's setup cell, the student's, the grader's closing
    cell."""

    setup: nbformat.NotebookNode
    student: list[nbformat.NotebookNode]
    finish: nbformat.NotebookNode

    @classmethod
    def around(cls, nb: nbformat.NotebookNode, setup: str, finish: str) -> _Cells:
        """The grader's code as cells around ``nb``'s, which it then holds."""
        # nbclient addresses cells by their index in the notebook, so the grader's cells are
        # real cells, tagged, first and last; they are removed again before the notebook is
        # returned.
        cells = cls(injected(setup), list(nb.cells), injected(finish))
        nb.cells = [cells.setup, *cells.student, cells.finish]
        return cells


@dataclass
class _Run:
    """One notebook's run in progress: the client that runs its cells and what they did."""

    client: BoundedClient
    replies: dict[int, dict[str, t.Any]]
    sandbox: Sandbox | None
    cell_timeout: float
    phases: dict[str, float]
    """Seconds per phase so far (see :data:`PHASES`)."""
    cells: list[CellResult] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    watchdog: Watchdog | None = None
    kernel_pid: int | None = None
    """The sandbox launcher's (or the unsandboxed kernel's) process id, once started."""
    cpu_seen: float = 0.0
    """The most CPU-seconds the kernel's processes were seen to have used (see
    :meth:`kernel_cpu`)."""

    def kernel_cpu(self) -> float:
        """CPU-seconds the kernel's processes have used so far, read after each cell: a kernel
        that dies takes its figure with it, and keeps the last one read (its last cell's CPU
        is then not counted)."""
        if self.kernel_pid:
            self.cpu_seen = max(self.cpu_seen, tree_cpu_seconds(self.kernel_pid))
        return self.cpu_seen

    def through(
        self,
        km: SandboxedKernelManager,
        cells: _Cells,
        total_timeout: float,
        before: t.Callable[[int], None] | None,
        after: t.Callable[[int], None] | None,
    ) -> str:
        """Run every cell in the started kernel, under its watchdog; why the grader's closing
        cell failed, or an empty string."""
        self.watchdog = _watchdog(km, self.sandbox)
        if self.watchdog is not None:
            self.watchdog.start()
        with record_seconds(self.phases, "setup_cell"):
            run_setup(self.client, cells.setup, self.replies)
        self.kernel_pid = _launcher_pid(km, self.sandbox)
        before_cells = self.kernel_cpu()
        # The total timeout is the student's: kernel start-up and set-up do not count.
        self.student_cells(cells.student, time.monotonic() + total_timeout, after, before)
        self.phases["cells_cpu"] = self.kernel_cpu() - before_cells
        with record_seconds(self.phases, "finish_cell"):
            closing = len(cells.student) + 1
            finish_error = run_closing(self.client, self.cells, cells.finish, closing, self.replies)
        self.phases["kernel_cpu"] = self.kernel_cpu()
        self.relay_ended_after_the_cells()
        return finish_error

    def student_cells(
        self,
        cells: list[nbformat.NotebookNode],
        deadline: float,
        after: t.Callable[[int], None] | None,
        before: t.Callable[[int], None] | None = None,
    ) -> None:
        """Run each code cell until ``deadline``, the kernel's death, or its stop."""
        ended = False
        for index, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            remaining = deadline - time.monotonic()
            if ended or remaining <= 0:
                self.cells.append(CellResult(index, "skipped", 0.0, cell.source))
                continue
            if before is not None:
                before(index)
            ran = run_cell(self.client, cell, index, self.cell_timeout, remaining, self.replies)
            self.phases["cells"] += ran.duration_s
            self.kernel_cpu()
            self.cells.append(ran)
            if after is not None:
                after(index)
            dead = ran.error_name == "DeadKernelError"
            self.incidents += cell_incidents(ran, self.client, self.sandbox, self.watchdog, dead)
            # Nothing more runs in a dead or stopped kernel, nor once the total time is up.
            out_of_time = ran.status == "timeout" and remaining < self.cell_timeout
            ended = dead or bool(self.client.stopped) or out_of_time

    def relay_ended_after_the_cells(self) -> None:
        """Name a relay that ended while the grader saved the models (a student's thread can
        still be sending), unless a cell's incident already did."""
        why = self.client.relay_failure()
        if why and not any(i.outcome == RELAY_OUTCOME for i in self.incidents):
            self.incidents.append(
                Incident(RELAY_OUTCOME, -1, f"after the last cell: {why}; the kernel was stopped")
            )


def _stop(km: SandboxedKernelManager, client: BoundedClient) -> None:
    """Stop the kernel and close the client's sockets.

    nbclient leaves both to the owner of a kernel manager it was handed (the grader's, always):
    left open, a batch worker would hold two sockets per notebook until garbage collection.
    """
    if km.has_kernel:
        run_sync(km.shutdown_kernel)(now=True)
    if client.kc is not None:
        client.kc.stop_channels()
        client.kc = None
    if km.relay is not None:  # shutting the kernel down closed it, unless it never started
        km.relay.close()


def _launcher_pid(km: SandboxedKernelManager, sandbox: Sandbox | None) -> int | None:
    """The pid whose process tree holds the kernel: its sandbox's launcher (for a kernel
    forked from a fork-server, not the process Jupyter started), else the kernel's own."""
    if sandbox is not None and sandbox.options.enabled:
        return sandbox.confinement.launcher_pid() or getattr(km.provisioner, "pid", None)
    return getattr(km.provisioner, "pid", None)


def _watchdog(km: SandboxedKernelManager, sandbox: Sandbox | None) -> Watchdog | None:
    """A watchdog over the sandboxed kernel's processes (none unsandboxed), not yet started."""
    launcher = _launcher_pid(km, sandbox)
    if sandbox is not None and sandbox.options.enabled and launcher:
        return Watchdog(launcher, sandbox.options.limits)
    return None


@contextlib.contextmanager
def record_seconds(seconds: dict[str, float], name: str) -> t.Iterator[None]:
    """Record in ``seconds[name]`` how long the ``with`` block took (nothing if it raised)."""
    began = time.monotonic()
    yield
    seconds[name] = time.monotonic() - began


def _timed(
    call: t.Callable[[int], None], phases: dict[str, float], phase: str
) -> t.Callable[[int], None]:
    """``call``, adding the seconds each call takes to ``phases[phase]``."""

    def timed(index: int) -> None:
        began = time.monotonic()
        try:
            call(index)
        finally:
            phases[phase] += time.monotonic() - began

    return timed


def _client(
    nb: nbformat.NotebookNode,
    workdir: Path,
    sandbox: Sandbox | None,
    cell_timeout: float,
    replies: dict[int, dict[str, t.Any]],
    started: SandboxedKernelManager | None = None,
) -> tuple[SandboxedKernelManager, BoundedClient]:
    """The kernel manager (its kernel started in ``sandbox``) and the client that runs cells."""

    def on_cell_executed(cell: t.Any, cell_index: int, execute_reply: t.Any) -> None:
        replies[cell_index] = execute_reply or {}

    # IPC transport: the kernel and the grader talk over Unix sockets in the work folder, not
    # TCP, so the kernel needs no network (and can later be run without one). The manager must
    # be the async one: a blocking client would hold nbclient's event loop while it waits for
    # output, and a cell timeout could then never fire.
    if started is not None:
        km = started
    elif sandbox is not None:
        km = kernel_manager(sandbox)
    else:
        km = SandboxedKernelManager(
            kernel_name="python3", transport="ipc", ip=str(workdir / "kernel")
        )
    limits = sandbox.options.limits if sandbox is not None and sandbox.options.enabled else None
    client = BoundedClient(
        nb,
        km=km,
        timeout=math.ceil(cell_timeout),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
        # After the interrupt, nbclient waits this long for the cell to end (the kernel's idle
        # status); a cell that has not ended by then never will, and its kernel is killed.
        iopub_timeout=INTERRUPT_GRACE_S,
        record_timing=True,
        # A kernel started early imports Keras before it answers: on a busy machine that can
        # take longer than nbclient's 60 s, so it gets the time the setup cell would have had.
        startup_timeout=GRADER_CELL_TIMEOUT_S if started is not None else 60,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=on_cell_executed,
        max_output_bytes=limits.output_kb * 1024 if limits else None,
        max_notebook_bytes=limits.notebook_output_mb * MB if limits else None,
    )
    return km, client
