"""An nbclient that keeps every output path bounded, and drops what it cannot trust.

Cell output, display updates (to any cell), comms and malformed messages all count against the
per-cell and whole-notebook output limits as they arrive, so a notebook printing gigabytes
costs the grader bounded memory; past a limit the rest is dropped and the cell runs on.
"""

from __future__ import annotations

import json
import typing as t
from collections import Counter

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbclient import NotebookClient

from grader.execute.channels import MAX_FRAME_BYTES, BoundedKernelClient, BoundedSockets
from grader.sandbox.limits import MB

# What nbclient raises on a message whose fields have the wrong shape or are missing.
MESSAGE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)
RECONNECT_TIMEOUT_S = 30
"""Seconds a kernel has to answer again after its connection was reset (see
:mod:`grader.execute.channels`)."""


class BoundedClient(NotebookClient):
    """An nbclient that bounds what the kernel's messages can make the grader keep.

    Everything that adds to the notebook counts, as the JSON size of its message, against the
    cell that is running (``max_output_bytes``) and against the whole notebook
    (``max_notebook_bytes``): every output, and what display updates add. nbclient applies an
    update to every earlier output shown under its display id, in any cell, and each is written
    out in full, so an update counts what it adds to each of them (repeating an update of the
    same size adds nothing). Past either limit the running cell's messages are dropped as they
    arrive, so a cell printing gigabytes costs the grader bounded memory, and the cell itself
    runs on. Comm messages (widgets) are dropped
    unread: the grader keeps no widget state. A message nbclient cannot read is dropped too,
    instead of ending the grade.
    """

    def __init__(
        self,
        nb: nbformat.NotebookNode,
        *,
        max_output_bytes: int | None,
        max_notebook_bytes: int | None = None,
        **kw: t.Any,
    ) -> None:
        super().__init__(nb, **kw)
        self.max_output_bytes = max_output_bytes
        self.max_notebook_bytes = max_notebook_bytes
        self.truncated: dict[int, str] = {}
        """Notebook cell index -> why its output was cut."""
        self.idle: set[int] = set()
        """Cells after which the kernel reported itself idle (a timed-out cell that is not
        here never stopped)."""
        self.dropped: Counter[str] = Counter()
        """Messages dropped unread: ``comm`` and ``malformed``."""
        self.stopped = ""
        """Why the grader killed the kernel; empty while it has not."""
        self._output_bytes: dict[int, int] = {}
        self._notebook_bytes = 0
        self._shown: dict[tuple[int, int], int] = {}
        """(cell index, output index) -> size of the output there, for display updates."""
        self._running: tuple[int, list[nbformat.NotebookNode]] | None = None

    async def async_execute_cell(
        self,
        cell: nbformat.NotebookNode,
        cell_index: int,
        execution_count: int | None = None,
        store_history: bool = True,
    ) -> nbformat.NotebookNode:
        done: nbformat.NotebookNode = await super().async_execute_cell(
            cell, cell_index, execution_count, store_history
        )
        # Not after an exception: a kernel that died or was killed disconnects every channel.
        why = self.relay_failure()
        if why:
            # The cell ended before nbclient saw the relay go (it asks every second).
            self.stopped = why
            if self.km is not None and self.km.has_kernel:
                await ensure_async(self.km.shutdown_kernel(now=True))
        elif self._note_resets(cell_index, cell.outputs):
            await self._reconnected()
        return done

    def relay_failure(self) -> str:
        """Why the kernel's relay ended, which stops the kernel (see
        :meth:`~grader.execute.channels.Relay.failure`); empty while it runs."""
        relay = self.km.relay if isinstance(self.km, BoundedSockets) else None
        return relay.failure() if relay is not None else ""

    execute_cell = run_sync(async_execute_cell)

    async def _reconnected(self) -> None:
        """Wait until the reconnected channels carry messages again; else stop the kernel."""
        assert isinstance(self.kc, BoundedKernelClient) and self.km is not None
        try:
            await self.kc.wait_for_ready(timeout=RECONNECT_TIMEOUT_S)
        except RuntimeError:
            self.stopped = (
                f"the kernel did not answer within {RECONNECT_TIMEOUT_S} s after its "
                "connection was reset"
            )
            if self.km.has_kernel:
                await ensure_async(self.km.shutdown_kernel(now=True))

    def _note_resets(self, cell_index: int, outs: list[nbformat.NotebookNode]) -> int:
        """Name, as the cell's cut output, the messages ZeroMQ refused for their size."""
        resets = self.kc.take_resets() if isinstance(self.kc, BoundedKernelClient) else 0
        if not resets:
            return 0
        why = (
            f"the kernel sent a message of more than {_amount(MAX_FRAME_BYTES)}, dropped unread "
            f"({resets} connection reset{'s' if resets > 1 else ''})"
        )
        earlier = self.truncated.get(cell_index)
        self.truncated[cell_index] = f"{earlier}; {why}" if earlier else why
        outs.append(_notice(f"\n[grader] output cut: {why}\n"))
        return resets

    def process_message(
        self, msg: dict[str, t.Any], cell: nbformat.NotebookNode, cell_index: int
    ) -> nbformat.NotebookNode | None:
        msg_type, content = msg.get("msg_type"), msg.get("content")
        if not isinstance(msg_type, str) or not _plausible(content):
            self.dropped["malformed"] += 1
            return None
        # nbclient would keep every widget's state and buffers, unbounded, and crashes on a
        # malformed `jupyter.widget` comm; nothing the grader judges comes through a comm.
        if msg_type.startswith("comm"):
            self.dropped["comm"] += 1
            return None
        if msg_type == "status" and content.get("execution_state") == "idle":
            self.idle.add(cell_index)
        self._running = (cell_index, cell.outputs)
        try:
            out: nbformat.NotebookNode | None = super().process_message(msg, cell, cell_index)
        except MESSAGE_ERRORS:
            self.dropped["malformed"] += 1
            return None
        return out

    def output(
        self,
        outs: list[nbformat.NotebookNode],
        msg: dict[str, t.Any],
        display_id: str | None,
        cell_index: int,
    ) -> nbformat.NotebookNode | None:
        if not _valid_output(msg["msg_type"], msg["content"]):
            self.dropped["malformed"] += 1
            return None
        size = _size(msg["content"])
        if not self._admit(cell_index, size, outs):
            return None
        out: nbformat.NotebookNode | None = super().output(outs, msg, display_id, cell_index)
        if out is not None:
            self._shown[(cell_index, len(outs) - 1)] = size
        return out

    def _update_display_id(self, display_id: str, msg: dict[str, t.Any]) -> None:
        shown = self._display_id_map.get(display_id) or {}
        targets = [(cell, index) for cell, indices in shown.items() for index in indices]
        if not targets or self._running is None:
            return
        if not _valid_output("display_data", msg["content"]):
            self.dropped["malformed"] += 1
            return
        size = _size(msg["content"])
        added = sum(max(0, size - self._shown.get(target, 0)) for target in targets)
        cell_index, outs = self._running
        if self._admit(cell_index, added, outs):
            super()._update_display_id(display_id, msg)
            self._shown.update(dict.fromkeys(targets, size))

    def clear_output(
        self, outs: list[nbformat.NotebookNode], msg: dict[str, t.Any], cell_index: int
    ) -> None:
        if cell_index in self.truncated:
            return  # keep the notice that says the output was cut
        super().clear_output(outs, msg, cell_index)

    def _admit(self, cell_index: int, size: int, outs: list[nbformat.NotebookNode]) -> bool:
        """Count ``size`` bytes of the running cell's output; False once past a limit."""
        if cell_index in self.truncated:
            return False
        cell_used = self._output_bytes.get(cell_index, 0) + size
        notebook_used = self._notebook_bytes + size
        if self.max_output_bytes is not None and cell_used > self.max_output_bytes:
            why = f"this cell's output passed {_amount(self.max_output_bytes)}"
        elif self.max_notebook_bytes is not None and notebook_used > self.max_notebook_bytes:
            why = f"the notebook's output passed {_amount(self.max_notebook_bytes)}"
        else:
            self._output_bytes[cell_index] = cell_used
            self._notebook_bytes = notebook_used
            return True
        self.truncated[cell_index] = why
        outs.append(_notice(f"\n[grader] output cut: {why}; the rest was dropped\n"))
        return False


def _notice(text: str) -> nbformat.NotebookNode:
    """A line the grader adds to a cell's output, on stderr."""
    notice: nbformat.NotebookNode = nbformat.v4.new_output(  # type: ignore[no-untyped-call]
        "stream", name="stderr", text=text
    )
    return notice


def _size(content: dict[str, t.Any]) -> int:
    return len(json.dumps(content))


def _amount(size: int) -> str:
    return f"{size // MB} MiB" if size >= MB and size % MB == 0 else f"{size // 1024} KiB"


def _plausible(content: object) -> t.TypeGuard[dict[str, t.Any]]:
    """Whether a message's content has the shapes nbclient stores without checking."""
    if not isinstance(content, dict):
        return False
    count = content.get("execution_count")
    transient = content.get("transient")
    return (count is None or isinstance(count, int)) and (
        transient is None
        or (isinstance(transient, dict) and _hashable(transient.get("display_id")))
    )


def _hashable(value: object) -> bool:
    return value is None or isinstance(value, str)


def _valid_output(msg_type: str, content: dict[str, t.Any]) -> bool:
    """Whether an output message has the fields nbformat requires, with their types.

    Anything else would reach ``executed.ipynb`` and the grader's own readers of it.
    """
    if msg_type == "stream":
        return isinstance(content.get("name"), str) and isinstance(content.get("text"), str)
    if msg_type == "error":
        tb = content.get("traceback")
        return (
            isinstance(content.get("ename"), str)
            and isinstance(content.get("evalue"), str)
            and isinstance(tb, list)
            and all(isinstance(line, str) for line in tb)
        )
    if msg_type in ("display_data", "execute_result", "update_display_data"):
        data = content.get("data")
        return (
            isinstance(data, dict)
            and all(isinstance(k, str) for k in data)
            and isinstance(content.get("metadata", {}), dict)
        )
    return True  # nbclient refuses other types itself


def stop_kernel(client: BoundedClient, why: str) -> None:
    """Kill the kernel now, with every process it started, and record why.

    The kernel manager's process is the sandbox launcher, the first process of the kernel's
    PID namespace: killing it ends every process in there. Without a sandbox, only the kernel
    process itself is killed.

    Args:
        client: the client whose kernel to kill; ``client.stopped`` is set to ``why``.
        why: what the kernel did, for the report.
    """
    client.stopped = why
    km = client.km
    if isinstance(km, AsyncKernelManager) and km.has_kernel:
        run_sync(km.shutdown_kernel)(now=True)
    elif km is not None and km.has_kernel:
        km.shutdown_kernel(now=True)
