"""Name what stopped a notebook: which limit a failed cell hit (or which package it could not
import), and the submission's outcome.

A cell that hits a limit is an error like any other for the checks (the kernel usually goes
on); the outcome tells the instructor *why*, without reading tracebacks.
"""

from __future__ import annotations

import re
import signal
import typing as t

from grader.error_text import error_summary
from grader.results import CellResult, Incident, Outcome

if t.TYPE_CHECKING:
    from grader.execute.client import BoundedClient
    from grader.sandbox.kernel import Sandbox
    from grader.sandbox.watchdog import Watchdog

# Most serious first: a submission's outcome is its most serious incident.
SEVERITY: tuple[Outcome, ...] = (
    "not_a_notebook",
    "invalid_notebook",
    "kernel_died",
    "message_too_large",
    "judge_failed",
    "judge_timeout",
    "memory_limit",
    "process_limit",
    "disk_limit",
    "timeout",
    "output_truncated",
    "missing_module",
)
# numpy raises its own MemoryError subclass; TensorFlow its ResourceExhaustedError.
MEMORY_ERRORS = frozenset({"MemoryError", "_ArrayMemoryError", "ResourceExhaustedError"})
# A write past the size of the private /tmp, /var/tmp or /dev/shm (or a full disk): ENOSPC;
# past the largest file the kernel may write (RLIMIT_FSIZE; Python ignores SIGXFSZ): EFBIG.
DISK_ERRNOS = ("[Errno 28]", "[Errno 27]", "[Errno 122]")


# Python names the first module of a dotted import it could not find: a name without a dot is a
# package that is not installed; ``keras.layers.core`` is a module its package no longer has.
_MISSING = re.compile(r"^No module named '([A-Za-z_][A-Za-z0-9_]*)'$")
# Import names whose package is installed under another name.
_PACKAGES = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
}

PROTOCOL_ENAME = "KernelProtocolError"
"""The error name of a cell during which the kernel sent messages nbclient could not read."""
RELAY_OUTCOME: Outcome = "message_too_large"
"""The outcome of a kernel whose relay ended: it refused a message, or could not hold one."""


def missing_package(cell: CellResult) -> str | None:
    """The package a failed cell's import did not find in the grading environment, if that is
    why it failed (the package's name as pip installs it)."""
    if cell.status != "error" or cell.error_name != "ModuleNotFoundError":
        return None
    found = _MISSING.match(cell.error_value)
    return _PACKAGES.get(found[1], found[1]) if found else None


def first_failure(cells: t.Iterable[CellResult]) -> str:
    """The first cell that failed and why, in a phrase that ends a check's message: a missing
    package named as such; empty when every cell ran."""
    cell = next((c for c in cells if c.status in ("error", "timeout")), None)
    if cell is None:
        return ""
    package = missing_package(cell)
    if package is not None:
        return (
            f"cell {cell.index} failed: {cell.error_value} — the grading environment lacks "
            f"package {package}"
        )
    return f"cell {cell.index} failed first: {cell.error_name}: {error_summary(cell.error_value)}"


def outcome_of(incidents: t.Iterable[Incident]) -> Outcome:
    """The most serious incident's outcome, or ``ok``."""
    found = {i.outcome for i in incidents}
    return next((o for o in SEVERITY if o in found), "ok")


def cell_incident(cell: CellResult) -> Incident | None:
    """The limit a failed cell ran into, judged from its error; None for an ordinary error."""
    if cell.status == "timeout":
        return Incident("timeout", cell.index, f"cell {cell.index}: {cell.error_value}")
    if cell.status != "error":
        return None
    if cell.error_name in MEMORY_ERRORS:
        return Incident(
            "memory_limit", cell.index, f"cell {cell.index}: {cell.error_name} (memory limit)"
        )
    if cell.error_name in ("OSError", "IOError") and cell.error_value.startswith(DISK_ERRNOS):
        return Incident(
            "disk_limit",
            cell.index,
            f"cell {cell.index}: {cell.error_name}: {cell.error_value} (temporary space or "
            "file size limit)",
        )
    package = missing_package(cell)
    if package is not None:
        return Incident(
            "missing_module",
            cell.index,
            f"cell {cell.index}: {cell.error_value} — the grading environment lacks package "
            f"{package} (add it to the course's environment, or the rubric's [execution])",
        )
    # fork() and thread creation fail with EAGAIN once the process limit is reached.
    if (cell.error_name == "BlockingIOError" and "Errno 11" in cell.error_value) or (
        "can't start new thread" in cell.error_value
    ):
        return Incident(
            "process_limit",
            cell.index,
            f"cell {cell.index}: {cell.error_name}: {cell.error_value} (process limit)",
        )
    return None


def death_incident(cell: int, exit_status: str) -> Incident:
    """The kernel died in ``cell``: SIGXCPU is the CPU-time limit, anything else a death."""
    if exit_status == f"signal {signal.SIGXCPU.name}":
        return Incident("timeout", cell, f"cell {cell}: CPU time limit reached")
    how = exit_status or "exit status unknown"
    return Incident("kernel_died", cell, f"cell {cell}: the kernel died ({how})")


def cell_incidents(
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
