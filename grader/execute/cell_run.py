"""One cell run by nbclient: a student's, within its time limit (interrupted at it, its kernel
killed when it ignores the interrupt), and the grader's two (set-up and closing), each with
its own limit; what a cell's error output says, the grader's own frames left out."""

from __future__ import annotations

import math
import time
import typing as t
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError

from grader.exceptions import ExecutionError
from grader.execute.client import MESSAGE_ERRORS, BoundedClient, stop_kernel
from grader.execute.outcomes import PROTOCOL_ENAME
from grader.kernel.cells import INJECTED_TAG
from grader.report.escape import strip_ansi
from grader.results import CellResult

TIMEOUT_ENAME = "CellTimeoutError"
# The grader's own cells import Keras and save models: slow on a busy machine, and not the
# student's time, so they get their own limit rather than the rubric's per-cell one.
GRADER_CELL_TIMEOUT_S = 300
INTERRUPT_GRACE_S = 5
"""Seconds a cell interrupted at its time limit has to stop before its kernel is killed."""


def run_setup(
    client: BoundedClient, cell: nbformat.NotebookNode, replies: dict[int, dict[str, t.Any]]
) -> None:
    """The grader's first cell; if it fails, nothing can be graded."""
    client.timeout = GRADER_CELL_TIMEOUT_S
    client.execute_cell(cell, 0, store_history=False)
    error = error_of(cell)
    if error:
        ename, evalue, tb = error
        raise ExecutionError(f"the grader's setup cell failed: {ename}: {evalue}", details=tb)
    if _reply(replies, 0).get("ename") == TIMEOUT_ENAME:
        raise ExecutionError(
            f"the grader's setup cell ran past {GRADER_CELL_TIMEOUT_S} s; "
            "is the machine overloaded?"
        )


def run_closing(
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
    return _execute_closing(client, cell, cell_index, replies)


def run_cell(
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
    error = error_of(cell)
    if error:
        return CellResult(index, "error", duration, cell.source, *error)
    return CellResult(index, "ok", duration, cell.source)


def _execute_closing(
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
    error = error_of(cell)
    return f"{error[0]}: {error[1]}" if error else ""


def _reply(replies: dict[int, dict[str, t.Any]], cell_index: int) -> dict[str, t.Any]:
    """The content of a cell's execute reply; empty when missing or not a mapping."""
    content = replies.get(cell_index, {}).get("content")
    return content if isinstance(content, dict) else {}


def injected(code: str) -> nbformat.NotebookNode:
    cell: nbformat.NotebookNode = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        code, metadata={"tags": [INJECTED_TAG]}
    )
    return cell


GRADER_PACKAGE = str(Path(__file__).resolve().parents[1])
"""Frames of this package in a student's traceback are the grader's wrappers (``fit``, a
DataLoader's pass), not the student's code."""


def error_of(cell: nbformat.NotebookNode) -> tuple[str, str, str] | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            # IPython sends one item per frame, after the header and before the error line.
            frames = [strip_ansi(str(item)) for item in output.get("traceback", [])]
            tb = "\n".join(f for f in frames if GRADER_PACKAGE + "/" not in f)
            return strip_ansi(output.get("ename", "")), strip_ansi(output.get("evalue", "")), tb
    return None


def stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
