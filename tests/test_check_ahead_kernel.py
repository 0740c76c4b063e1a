"""Two ``grader check --keep-warm`` runs in real kernels: the second runs in the kernel the first
prepared, grades exactly as the cold one did, and every holder ends with nothing left running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from grader.check_ahead import FOLDER, LOG, STATE
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.notebook

READY_S = 300.0
"""Seconds a holder may take to start its kernel and judge on a loaded machine."""


@pytest.fixture
def run_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="run-", dir="/tmp") as run:
        yield Path(run)


def _check(notebook: Path, run: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run)}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(notebook), *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=notebook.parent,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _holder(folder: Path, state: str) -> psutil.Process:
    """The holder once its state file says ``state``."""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        try:
            record = json.loads((folder / STATE).read_text())
        except (OSError, ValueError):
            record = {}
        if record.get("state") == state:
            return psutil.Process(record["pid"])
        time.sleep(0.5)
    pytest.fail(f"no holder became {state!r}: {(folder / LOG).read_text()[-3000:]}")


def _gone(processes: list[psutil.Process], within: float) -> None:
    _, alive = psutil.wait_procs(processes, timeout=within)
    assert alive == [], [p.cmdline()[:4] for p in alive]


def _report(notebook: Path) -> str:
    text = notebook.with_name(f"{notebook.stem}.report.md").read_text()
    return "\n".join(line for line in text.splitlines() if "**Timings:**" not in line)


def test_the_next_check_takes_the_prepared_kernel_and_grades_as_a_cold_check(
    tmp_path: Path, run_dir: Path
) -> None:
    notebook = tmp_path / "hw.ipynb"
    shutil.copy(EXAMPLES / "full_marks.ipynb", notebook)
    folder = run_dir / FOLDER

    cold = _check(notebook, run_dir, "--keep-warm", "10")
    assert "preparing a kernel for the next check" in cold.stderr
    cold_report = _report(notebook)
    holder = _holder(folder, "ready")
    prepared = [holder, *holder.children(recursive=True)]
    assert len(prepared) >= 3  # the holder, the kernel's launcher, the judge's launcher

    # Without the flag it takes what waits; with a short one, the next holder soon ends idle.
    warm = _check(notebook, run_dir, "--keep-warm", "0.05")
    assert "handing the notebook to the kernel prepared after the last check" in warm.stderr
    assert "starting a new one" not in warm.stderr and "had stopped" not in warm.stderr
    assert _report(notebook) == cold_report
    assert warm.stdout == cold.stdout  # the terminal's report, from the result sent back
    _gone(prepared, within=60)

    idle = _holder(folder, "ready")
    held = [idle, *idle.children(recursive=True)]
    _gone(held, within=120)
    assert "holder ended: idle" in (folder / LOG).read_text()
    assert not (folder / STATE).exists()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_holder_leaves_nothing_running(
    tmp_path: Path, run_dir: Path, how: signal.Signals
) -> None:
    from grader.check_ahead import options_record
    from grader.options import CHECK_DEFAULTS

    notebook = tmp_path / "hw.ipynb"
    shutil.copy(EXAMPLES / "full_marks.ipynb", notebook)
    folder = run_dir / FOLDER
    request = {
        "notebook": str(notebook),
        "assignment": "cifar10_transfer",
        "options": options_record(CHECK_DEFAULTS),
        "idle_s": 600,
    }
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}
    started = subprocess.Popen(
        [sys.executable, "-m", "grader.check_holder"],
        stdin=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    assert started.stdin is not None
    with started.stdin:
        started.stdin.write(json.dumps(request).encode())
    try:
        holder = _holder(folder, "ready")
        prepared = [holder, *holder.children(recursive=True)]
        assert len(prepared) >= 3
        holder.send_signal(how)
        # SIGKILL: the kernel and the judge die with it (their parent-death signal), and the
        # relay when its stdin closes.
        _gone(prepared, within=60)
        if how == signal.SIGTERM:
            assert not (folder / STATE).exists()
    finally:
        started.kill()
        started.wait()
