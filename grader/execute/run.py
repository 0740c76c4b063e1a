"""Run a notebook with nbclient in a fresh kernel, cell by cell, and record how each cell ran.

Execution never stops at a failing cell: a later cell may still produce what a check needs.
Each cell gets the rubric's per-cell timeout, cut short by what is left of the total timeout;
a timed-out cell is interrupted and the next one runs. A cell that does not stop within
:data:`INTERRUPT_GRACE_S` of the interrupt (it ignores SIGINT, or is stuck in C code) has its
kernel killed, and the rest of the notebook is skipped. The kernel runs in a sandbox
(:mod:`grader.sandbox.confine`); every limit a cell runs into is recorded as an :class:`Incident`.

Every message the kernel sends is hostile input: :class:`BoundedClient` bounds what it can make
the grader keep, and drops what nbclient cannot read rather than ending the grade.
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
from nbclient.exceptions import DeadKernelError

from grader.exceptions import ExecutionError
from grader.execute.client import MESSAGE_ERRORS, BoundedClient, stop_kernel
from grader.execute.outcomes import cell_incident, death_incident
from grader.kernel.cells import INJECTED_TAG
from grader.report.escape import strip_ansi
from grader.results import CellResult, Incident, Outcome
from grader.sandbox.kernel import Sandbox, SandboxedKernelManager, kernel_manager
from grader.sandbox.limits import MB
from grader.sandbox.processes import tree_cpu_seconds
from grader.sandbox.watchdog import Watchdog

TIMEOUT_ENAME = "CellTimeoutError"
# The grader's own cells import Keras and save models: slow on a busy machine, and not the
# student's time, so they get their own limit rather than the rubric's per-cell one.
GRADER_CELL_TIMEOUT_S = 300
INTERRUPT_GRACE_S = 5
"""Seconds a cell interrupted at its time limit has to stop before its kernel is killed."""
RELAY_OUTCOME: Outcome = "message_too_large"
"""The outcome of a kernel whose relay ended: it refused a message, or could not hold one."""
PROTOCOL_ENAME = "KernelProtocolError"
"""The error name of a cell during which the kernel sent messages nbclient could not read."""


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
            by it plus :data:`INTERRUPT_GRACE_S` (for the last interrupted cell), kernel start,
            and the grader's two cells (each :data:`GRADER_CELL_TIMEOUT_S` at most, plus the
            same grace), whatever the notebook does.
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
    # nbclient addresses cells by their index in the notebook, so the grader's cells are real
    # cells, tagged, first and last; they are removed again before the notebook is returned.
    setup_cell = _injected(setup)
    finish_cell = _injected(finish)
    student_cells = list(nb.cells)
    nb.cells = [setup_cell, *student_cells, finish_cell]
    start = time.monotonic()
    run = _Run(client, replies, sandbox, cell_timeout, dict.fromkeys(PHASES + CPU_PHASES, 0.0))
    after = _timed(after_cell, run.phases, "evidence") if after_cell is not None else None
    try:
        with client.setup_kernel(env=env):
            run.phases["kernel_start"] = time.monotonic() - start
            run.watchdog = _watchdog(km, sandbox)
            if run.watchdog is not None:
                run.watchdog.start()
            with record_seconds(run.phases, "setup_cell"):
                _run_setup(client, setup_cell, replies)
            run.kernel_pid = getattr(km.provisioner, "pid", None)
            before_cells = run.kernel_cpu()
            # The total timeout is the student's: kernel start-up and set-up do not count.
            run.student_cells(student_cells, time.monotonic() + total_timeout, after, before_cell)
            run.phases["cells_cpu"] = run.kernel_cpu() - before_cells
            with record_seconds(run.phases, "finish_cell"):
                finish_error = _finish(client, run.cells, finish_cell, len(nb.cells) - 1, replies)
            run.phases["kernel_cpu"] = run.kernel_cpu()
            run.relay_ended_after_the_cells()
            stopping = time.monotonic()
    except (RuntimeError, OSError) as exc:
        raise ExecutionError(f"could not start or talk to the notebook kernel: {exc}") from exc
    finally:
        nb.cells = student_cells
        if run.watchdog is not None:
            run.watchdog.stop()
        _stop(km, client)
    run.phases["kernel_stop"] = time.monotonic() - stopping
    return Execution(
        notebook=nb,
        cells=run.cells,
        duration_s=time.monotonic() - start,
        setup_output=_stdout_of(setup_cell),
        finish_error=finish_error,
        incidents=run.incidents,
        phases=run.phases,
    )


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
            ran = _run_cell(self.client, cell, index, self.cell_timeout, remaining, self.replies)
            self.phases["cells"] += ran.duration_s
            self.kernel_cpu()
            self.cells.append(ran)
            if after is not None:
                after(index)
            dead = ran.error_name == "DeadKernelError"
            self.incidents += _incidents(ran, self.client, self.sandbox, self.watchdog, dead)
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


def _watchdog(km: SandboxedKernelManager, sandbox: Sandbox | None) -> Watchdog | None:
    """A watchdog over the sandboxed kernel's processes (none unsandboxed), not yet started."""
    launcher = getattr(km.provisioner, "pid", None)
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


def _run_setup(
    client: BoundedClient, cell: nbformat.NotebookNode, replies: dict[int, dict[str, t.Any]]
) -> None:
    """The grader's first cell; if it fails, nothing can be graded."""
    client.timeout = GRADER_CELL_TIMEOUT_S
    client.execute_cell(cell, 0, store_history=False)
    error = _error_of(cell)
    if error:
        ename, evalue, tb = error
        raise ExecutionError(f"the grader's setup cell failed: {ename}: {evalue}", details=tb)
    if _reply(replies, 0).get("ename") == TIMEOUT_ENAME:
        raise ExecutionError(
            f"the grader's setup cell ran past {GRADER_CELL_TIMEOUT_S} s; "
            "is the machine overloaded?"
        )


def _finish(
    client: BoundedClient,
    cells: list[CellResult],
    cell: nbformat.NotebookNode,
    cell_index: int,
    replies: dict[int, dict[str, t.Any]],
) -> str:
    """Run the grader's last cell (it saves the models) if the kernel can; why not, if not."""
    if client.stopped:
        return f"the grader stopped the kernel ({client.stopped}), so it could not save the models"
    if any(c.error_name == "DeadKernelError" for c in cells):
        return "the kernel died, so the grader could not save the models"
    return _run_finish(client, cell, cell_index, replies)


def _incidents(
    cell: CellResult,
    client: BoundedClient,
    sandbox: Sandbox | None,
    watchdog: Watchdog | None,
    dead: bool,
) -> list[Incident]:
    """The limits ``cell`` ran into, from its error, the watchdog and the output it printed."""
    found: list[Incident] = []
    overflow = client.relay_failure()
    strays = watchdog.take_strays() if watchdog else 0
    if strays:
        found.append(
            Incident(
                "process_limit",
                cell.index,
                f"cell {cell.index}: {strays} processes filled the process limit and were killed",
            )
        )
    if overflow:  # the kernel was stopped for it: its death is no incident of its own
        found.append(
            Incident(
                RELAY_OUTCOME, cell.index, f"cell {cell.index}: {overflow}; the kernel was stopped"
            )
        )
    elif dead and watchdog is not None and watchdog.memory_killed:
        found.append(
            Incident("memory_limit", cell.index, f"cell {cell.index}: killed over the memory limit")
        )
    elif dead and watchdog is not None and watchdog.threads_killed:
        found.append(
            Incident(
                "process_limit",
                cell.index,
                f"cell {cell.index}: killed: its threads filled the process limit",
            )
        )
    elif dead:
        found.append(death_incident(cell.index, sandbox.exit_status() if sandbox else ""))
    elif (incident := cell_incident(cell)) is not None and not (
        strays and incident.outcome == "process_limit"
    ):
        found.append(incident)
    if cell.error_name == PROTOCOL_ENAME:
        found.append(Incident("kernel_died", cell.index, f"cell {cell.index}: {cell.error_value}"))
    why = client.truncated.get(cell.index + 1)  # +1: the setup cell comes first
    if why is not None:
        found.append(
            Incident("output_truncated", cell.index, f"cell {cell.index}: output cut: {why}")
        )
    return found


def _run_cell(
    client: BoundedClient,
    cell: nbformat.NotebookNode,
    index: int,
    cell_timeout: float,
    remaining: float,
    replies: dict[int, dict[str, t.Any]],
) -> CellResult:
    limit = min(cell_timeout, remaining)
    client.timeout = max(1, math.ceil(limit))  # nbclient counts whole seconds
    began = time.monotonic()
    try:
        client.execute_cell(cell, index + 1)  # +1: the setup cell comes first
    except DeadKernelError:
        why = client.relay_failure()
        if why:  # the kernel manager killed it when its relay ended
            client.stopped = why
        return CellResult(
            index,
            "error",
            time.monotonic() - began,
            cell.source,
            "DeadKernelError",
            f"the grader stopped the kernel: {why}"
            if why
            else "the kernel died while running this cell",
        )
    except MESSAGE_ERRORS as exc:
        # A reply nbclient could not read: the kernel can no longer be trusted to follow the
        # protocol, so it is stopped rather than left to confuse the next cells.
        why = f"the kernel sent a message the grader could not read ({type(exc).__name__})"
        stop_kernel(client, why)
        return CellResult(
            index, "error", time.monotonic() - began, cell.source, PROTOCOL_ENAME, why
        )
    duration = time.monotonic() - began
    if _reply(replies, index + 1).get("ename") == TIMEOUT_ENAME:
        which = "cell" if limit == cell_timeout else "total"
        value = f"stopped after {limit:.0f} s (the {which} time limit)"
        if index + 1 not in client.idle:
            stop_kernel(client, f"cell {index} ignored the interrupt at its time limit")
            value += (
                f"; it did not stop within {INTERRUPT_GRACE_S} s of the interrupt, "
                "so the kernel was killed"
            )
        return CellResult(index, "timeout", duration, cell.source, "TimeoutError", value)
    error = _error_of(cell)
    if error:
        return CellResult(index, "error", duration, cell.source, *error)
    return CellResult(index, "ok", duration, cell.source)


def _run_finish(
    client: BoundedClient,
    cell: nbformat.NotebookNode,
    cell_index: int,
    replies: dict[int, dict[str, t.Any]],
) -> str:
    """Run the grader's closing cell; returns why it failed, or an empty string."""
    # A student's thread can still be running (holding the GIL, allocating, writing junk on
    # the kernel's sockets): the closing cell gets its own deadline and cannot end the grade.
    client.timeout = GRADER_CELL_TIMEOUT_S
    try:
        client.execute_cell(cell, cell_index, store_history=False)
    except DeadKernelError:
        return "the kernel died while the grader saved the models"
    except MESSAGE_ERRORS as exc:
        return f"the kernel sent a message the grader could not read ({type(exc).__name__})"
    if _reply(replies, cell_index).get("ename") == TIMEOUT_ENAME:
        return f"saving the models ran past {GRADER_CELL_TIMEOUT_S} s"
    error = _error_of(cell)
    return f"{error[0]}: {error[1]}" if error else ""


def _reply(replies: dict[int, dict[str, t.Any]], cell_index: int) -> dict[str, t.Any]:
    """The content of a cell's execute reply; empty when missing or not a mapping."""
    content = replies.get(cell_index, {}).get("content")
    return content if isinstance(content, dict) else {}


def _injected(code: str) -> nbformat.NotebookNode:
    cell: nbformat.NotebookNode = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        code, metadata={"tags": [INJECTED_TAG]}
    )
    return cell


GRADER_PACKAGE = str(Path(__file__).resolve().parents[1])
"""Frames of this package in a student's traceback are the grader's wrappers (``fit``, a
DataLoader's pass), not the student's code."""


def _error_of(cell: nbformat.NotebookNode) -> tuple[str, str, str] | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            # IPython sends one item per frame, after the header and before the error line.
            frames = [strip_ansi(str(item)) for item in output.get("traceback", [])]
            tb = "\n".join(f for f in frames if GRADER_PACKAGE + "/" not in f)
            return strip_ansi(output.get("ename", "")), strip_ansi(output.get("evalue", "")), tb
    return None


def _stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
