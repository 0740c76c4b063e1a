"""A grader killed outright (SIGKILL, the out-of-memory killer) removes none of its temporary
folders, hundreds of megabytes a notebook; the next ``grade`` or ``check`` removes those no
live process holds, and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import types
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import check_start
from grader.options import CHECK_DEFAULTS
from grader.scratch import SETTLE_S, prefix, scratch_folder, sweep
from tests.conftest import ROOT
from tests.stopped_grade import grade_mid_cell, wait_for_no_process_under


def later() -> float:
    """A sweep's clock, late enough that every folder made so far has settled (not a constant:
    a test may run long after this module was collected)."""
    return time.time() + 2 * SETTLE_S


HOLD = """
import sys, time
from grader.scratch import scratch_folder
with scratch_folder("sandbox") as folder:
    (folder / "weights.h5").write_bytes(bytes(1 << 20))
    print(folder, flush=True)
    time.sleep(300)
"""


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary folder of this test alone (short: kernels' sockets may lie below it)."""
    with tempfile.TemporaryDirectory(prefix="t-", dir="/tmp") as folder:
        monkeypatch.setenv("TMPDIR", folder)
        monkeypatch.setattr(tempfile, "tempdir", folder)
        yield Path(folder)


def _holder(script: str = HOLD, **popen: t.Any) -> tuple[subprocess.Popen[str], Path]:
    """A process running ``script`` (it holds a scratch folder), and the folder."""
    process: subprocess.Popen[str] = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **popen,
    )
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_scratch_folder_is_named_for_the_sweep_and_removed_on_exit(private_tmp: Path) -> None:
    with scratch_folder("judge") as folder:
        assert folder.parent == private_tmp
        assert folder.name.startswith("grader-judge.") and len(folder.name) == 21
        (folder / "evidence").mkdir()
        assert sweep(now=later()) == []  # its process holds it
    assert list(private_tmp.iterdir()) == []


def test_the_folder_of_a_killed_process_is_swept_and_a_live_ones_is_not(
    private_tmp: Path,
) -> None:
    killed, left = _holder()
    alive, held = _holder()
    try:
        killed.kill()
        killed.wait()
        assert (left / "weights.h5").is_file()  # SIGKILL removed nothing
        assert sweep(now=later()) == [left]
        assert sorted(private_tmp.iterdir()) == [held]
        assert (held / "weights.h5").is_file()
    finally:
        alive.kill()
        alive.wait()


def test_a_folder_just_made_is_not_swept_before_its_process_can_claim_it(
    private_tmp: Path,
) -> None:
    # mkdtemp, then flock: for an instant a live process's folder is unlocked.
    fresh = Path(tempfile.mkdtemp(prefix=prefix("task")))
    assert sweep() == []
    assert sweep(now=time.time() + SETTLE_S + 1) == [fresh]


def test_nothing_but_an_unclaimed_scratch_folder_of_this_user_is_touched(
    private_tmp: Path,
) -> None:
    outside = Path(tempfile.mkdtemp(prefix="outside-", dir="/tmp"))
    try:
        (outside / "keep").write_text("x")
        # A link named like a scratch folder (another process of this user could plant one).
        (private_tmp / f"{prefix('judge')}aaaaaaaa").symlink_to(outside)
        (private_tmp / f"{prefix('relay')}bbbbbbbb").write_text("a file, not a folder")
        # An older grader's folder (no claim taken: it may be running still), and others.
        for name in ("grader-sandbox-cccccccc", "grader-kit-wheel-dddddddd", "ipykernel-x"):
            (private_tmp / name).mkdir()
        if os.geteuid() == 0:
            theirs = private_tmp / f"{prefix('sandbox')}eeeeeeee"
            theirs.mkdir()
            os.chown(theirs, 65534, 65534)
        before = sorted(private_tmp.iterdir())
        assert sweep(now=later()) == []
        assert sorted(private_tmp.iterdir()) == before
        assert (outside / "keep").read_text() == "x"
    finally:
        for leftover in (outside / "keep", outside):
            leftover.unlink() if leftover.is_file() else leftover.rmdir()


def test_a_forked_child_keeps_the_claim_after_its_parent_is_killed(private_tmp: Path) -> None:
    fork = HOLD.replace(
        "    print(folder, flush=True)",
        "    if os.fork() == 0:\n        time.sleep(300)\n    print(folder, flush=True)",
    ).replace("import sys, time", "import os, sys, time")
    parent, folder = _holder(fork, start_new_session=True)
    try:
        parent.kill()
        parent.wait()
        assert sweep(now=later()) == []  # the child still works in it
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not (swept := sweep(now=later())) and time.monotonic() < deadline:
        time.sleep(0.1)  # the child's end reaches the kernel's lock a moment later
    assert swept == [folder]


@pytest.mark.notebook
def test_a_grader_killed_mid_notebook_leaves_folders_the_next_sweep_removes(
    private_tmp: Path, tmp_path: Path
) -> None:
    grader = grade_mid_cell(private_tmp, tmp_path, stderr=subprocess.DEVNULL)
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    assert wait_for_no_process_under(private_tmp) == []  # they end with their grader
    left = sorted(private_tmp.iterdir())
    assert any(p.name.startswith(prefix("sandbox")) for p in left)
    assert sorted(sweep(now=later())) == left
    assert list(private_tmp.iterdir()) == []


def test_a_check_sweeps_after_its_result(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = Path(tempfile.mkdtemp(prefix=prefix("sandbox")))
    os.utime(stale, (0, 0))
    served = types.SimpleNamespace(result="result", report=Path("report.html"))
    monkeypatch.setattr("grader.check_ahead.take_prepared", lambda *args: served)
    result, report = check_start.run_check(Path("a.ipynb"), None, CHECK_DEFAULTS)
    assert (result, report) == (served.result, served.report)
    assert not stale.exists()
