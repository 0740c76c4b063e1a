"""Run a notebook with nbclient in a fresh kernel, cell by cell, and record how each cell ran.

Execution never stops at a failing cell: a later cell may still produce what a check needs.
Each cell gets the rubric's per-cell timeout, cut short by what is left of the total timeout;
a timed-out cell is interrupted and the next one runs.
"""

from __future__ import annotations

import math
import re
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.exceptions import ExecutionError
from grader.kernel_code import INJECTED_TAG
from grader.results import CellResult

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
TIMEOUT_ENAME = "CellTimeoutError"
# The grader's own cells import Keras and save models: slow on a busy machine, and not the
# student's time, so they get their own limit rather than the rubric's per-cell one.
GRADER_CELL_TIMEOUT_S = 300


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
    notes: list[str] = field(default_factory=list)


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes, which IPython puts in every traceback."""
    return _ANSI.sub("", text)


def run_notebook(
    nb: nbformat.NotebookNode,
    *,
    workdir: Path,
    setup: str,
    finish: str,
    cell_timeout: float,
    total_timeout: float,
    env: dict[str, str],
) -> Execution:
    """Execute ``setup``, every code cell of ``nb``, then ``finish``, in one fresh kernel.

    Args:
        nb: the submission; its outputs are replaced.
        workdir: the kernel's working folder.
        setup: grader code run before the student's first cell; if it fails, nothing is graded.
        finish: grader code run after the last cell, even when the total timeout ran out.
        cell_timeout: seconds any one cell may run.
        total_timeout: seconds all the student's cells may run together.
        env: the kernel's environment.

    Raises:
        ExecutionError: the kernel could not start, or the setup cell failed.
    """
    replies: dict[int, dict[str, t.Any]] = {}

    def on_cell_executed(cell: t.Any, cell_index: int, execute_reply: t.Any) -> None:
        replies[cell_index] = execute_reply or {}

    # IPC transport: the kernel and the grader talk over Unix sockets in the work folder, not
    # TCP, so the kernel needs no network (and can later be run without one). The manager must
    # be the async one: a blocking client would hold nbclient's event loop while it waits for
    # output, and a cell timeout could then never fire.
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(workdir / "kernel"))
    client = NotebookClient(
        nb,
        km=km,
        timeout=math.ceil(cell_timeout),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
        record_timing=True,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=on_cell_executed,
    )
    # nbclient addresses cells by their index in the notebook, so the grader's cells are real
    # cells, tagged, first and last; they are removed again before the notebook is returned.
    setup_cell = _injected(setup)
    finish_cell = _injected(finish)
    student_cells = list(nb.cells)
    nb.cells = [setup_cell, *student_cells, finish_cell]
    cells: list[CellResult] = []
    finish_error = ""
    start = time.monotonic()
    deadline = math.inf
    try:
        with client.setup_kernel(env=env):
            client.timeout = GRADER_CELL_TIMEOUT_S
            client.execute_cell(setup_cell, 0, store_history=False)
            error = _error_of(setup_cell)
            if error:
                ename, evalue, tb = error
                raise ExecutionError(f"the grader's setup cell failed: {ename}: {evalue}\n{tb}")
            # The total timeout is the student's: kernel start-up and set-up do not count.
            deadline = time.monotonic() + total_timeout
            dead = out_of_time = False
            for index, cell in enumerate(student_cells):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if dead or out_of_time or remaining <= 0:
                    cells.append(CellResult(index, "skipped", 0.0, cell.source))
                    continue
                cells.append(_run_cell(client, cell, index, cell_timeout, remaining, replies))
                dead = cells[-1].error_name == "DeadKernelError"
                out_of_time = cells[-1].status == "timeout" and remaining < cell_timeout
            if dead:
                finish_error = "the kernel died, so the grader could not save the models"
            else:
                client.timeout = GRADER_CELL_TIMEOUT_S
                client.execute_cell(finish_cell, len(nb.cells) - 1, store_history=False)
                error = _error_of(finish_cell)
                if error:
                    finish_error = f"{error[0]}: {error[1]}"
    except (RuntimeError, OSError) as exc:
        raise ExecutionError(f"could not start or talk to the notebook kernel: {exc}") from exc
    finally:
        nb.cells = student_cells
        # nbclient leaves a kernel manager it was handed to its owner: stop the kernel here.
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    return Execution(
        notebook=nb,
        cells=cells,
        duration_s=time.monotonic() - start,
        setup_output=_stdout_of(setup_cell),
        finish_error=finish_error,
    )


def _run_cell(
    client: NotebookClient,
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
        return CellResult(
            index,
            "error",
            time.monotonic() - began,
            cell.source,
            "DeadKernelError",
            "the kernel died while running this cell",
        )
    duration = time.monotonic() - began
    reply = replies.get(index + 1, {}).get("content", {})
    if reply.get("ename") == TIMEOUT_ENAME:
        which = "cell" if limit == cell_timeout else "total"
        return CellResult(
            index,
            "timeout",
            duration,
            cell.source,
            "TimeoutError",
            f"stopped after {limit:.0f} s (the {which} time limit)",
        )
    error = _error_of(cell)
    if error:
        return CellResult(index, "error", duration, cell.source, *error)
    return CellResult(index, "ok", duration, cell.source)


def _injected(code: str) -> nbformat.NotebookNode:
    cell: nbformat.NotebookNode = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        code, metadata={"tags": [INJECTED_TAG]}
    )
    return cell


def _error_of(cell: nbformat.NotebookNode) -> tuple[str, str, str] | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            tb = strip_ansi("\n".join(output.get("traceback", [])))
            return output.get("ename", ""), output.get("evalue", ""), tb
    return None


def _stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
