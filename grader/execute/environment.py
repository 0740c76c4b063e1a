"""The kernel's Python environment, checked before any work: the interpreter a rubric's
``[execution] python`` names (the grader's own by default) must start, hold ipykernel, and hold
every package ``[execution] packages`` declares; and the temporary folder must leave room for
the kernels' sockets.

A package a notebook imports that nobody declared is found when its cell fails: the outcome
``missing_module`` names it (see :mod:`grader.execute.outcomes`).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile

from grader.exceptions import KernelEnvironmentError, TempFolderError
from grader.rubric import Assignment
from grader.socket_path import MAX_ADDRESS, RELAY_SOCKET_TAIL, SANDBOX_SOCKET_TAIL

PROBE = """
import importlib.metadata as metadata, importlib.util as util, json, sys
missing = []
for name in json.loads(sys.argv[1]):
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        missing.append(name)
print(json.dumps({"ipykernel": util.find_spec("ipykernel") is not None, "missing": missing}))
"""
"""Run by the kernel's interpreter: whether ipykernel imports, and which declared
distributions are not installed (by their pip names, as the rubric declares them)."""
PROBE_TIMEOUT_S = 60


def kernel_python(spec: Assignment) -> str:
    """The interpreter the kernel of ``spec``'s notebooks runs."""
    return spec.python or sys.executable


def check_environment(spec: Assignment) -> None:
    """Refuse to grade when the kernel's Python cannot run ``spec``'s notebooks.

    The grader's own environment with no declared package is not probed: it holds ipykernel
    (a dependency) and the default course packages.

    Raises:
        KernelEnvironmentError: the interpreter does not start, has no ipykernel, or lacks a
            declared package.
        TempFolderError: see :func:`check_temp_folder`.
    """
    check_temp_folder()
    if spec.python is None and not spec.packages:
        return
    _probe(kernel_python(spec), tuple(spec.packages))


def check_temp_folder() -> None:
    """Refuse to grade when the kernels' sockets would not fit under the temporary folder.

    Raises:
        TempFolderError: the longest socket path a kernel or its relay needs is longer than
            a Unix socket's address holds.
    """
    folder = tempfile.gettempdir()
    longest = len(os.fsencode(folder)) + max(SANDBOX_SOCKET_TAIL, RELAY_SOCKET_TAIL)
    if longest > MAX_ADDRESS:
        raise TempFolderError(folder, longest, MAX_ADDRESS)


@functools.cache
def _probe(python: str, packages: tuple[str, ...]) -> None:
    try:
        done = subprocess.run(
            [python, "-c", PROBE, json.dumps(list(packages))],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        raise KernelEnvironmentError(
            python,
            f"does not run ({type(exc).__name__}); name a Python interpreter in the "
            "rubric's [execution] python",
        ) from exc
    if not isinstance(found, dict):
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise KernelEnvironmentError(python, f"does not run ({why})")
    if not found.get("ipykernel"):
        raise KernelEnvironmentError(
            python, f"has no ipykernel: install it there ({python} -m pip install ipykernel)"
        )
    missing = [str(m) for m in found.get("missing", [])]
    if missing:
        raise KernelEnvironmentError(
            python,
            f"lacks the package(s) the rubric's [execution] packages declare: "
            f"{', '.join(missing)}; install them there ({python} -m pip install "
            f"{' '.join(missing)})",
            missing=missing,
        )
