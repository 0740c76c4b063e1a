"""A real ``grader grade`` caught mid-cell, for the tests that stop or kill it, and the
processes it leaves."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from grader.scratch import prefix
from tests.conftest import ROOT


def processes_under(folder: Path) -> list[int]:
    """Live processes whose command line names ``folder`` (the kernels, judges, relays)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and str(folder) in (entry / "cmdline").read_text():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    found.append(int(entry.name))
    return found


def wait_for_no_process_under(folder: Path) -> list[int]:
    """The processes still under ``folder`` after at most 30 s (the kernels, judges, relays)."""
    deadline = time.monotonic() + 30
    while processes_under(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    return processes_under(folder)


def grade_mid_cell(private_tmp: Path, tmp_path: Path, **popen: t.Any) -> subprocess.Popen[str]:
    """``grader grade -j 1`` of a notebook whose one cell sleeps, its ``TMPDIR`` ``private_tmp``,
    returned once the cell runs (``popen``: more of :class:`subprocess.Popen`'s arguments)."""
    notebook = tmp_path / "a.ipynb"
    cell = "import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(300)"
    nbformat.write(new_notebook(cells=[new_code_cell(cell)]), notebook)
    command = [sys.executable, "-m", "grader", "grade", str(notebook), "-a", "cifar10_transfer"]
    command += ["--budget", "smoke", "--out", str(tmp_path / "out"), "-j", "1"]
    env = {**os.environ, "TMPDIR": str(private_tmp), "PYTHONPATH": str(ROOT)}
    grader: subprocess.Popen[str] = subprocess.Popen(command, env=env, **popen)
    deadline = time.monotonic() + 300
    while not list(private_tmp.glob(f"{prefix('sandbox')}*/work-*/started")):
        if grader.poll() is not None or time.monotonic() > deadline:
            grader.kill()
            said = grader.communicate()[1]
            raise AssertionError(f"the notebook's cell never started: {said}")
        time.sleep(0.2)
    return grader
