"""What the sandbox tests share: which machines they need, and running a command in a box."""

from __future__ import annotations

import os
import subprocess
import time
import typing as t

import pytest

from grader.sandbox.confine import namespaces_available

needs_namespaces = pytest.mark.skipif(
    not namespaces_available(), reason="this machine does not allow namespaces"
)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader switches users")


def run_confined(
    box: t.Any, argv: list[str], *, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``box`` (a :class:`grader.sandbox.confine.Confinement`) with its
    environment, capturing its output as text."""
    return subprocess.run(
        box.command(argv),
        input=stdin,
        env=box.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def until(predicate: t.Callable[[], t.Any], what: str, timeout: float = 30) -> t.Any:
    """``predicate()``'s first true value, polled; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")
