"""Kernels forked from a fork-server (:mod:`grader.kernel.forked`): a notebook finds the kernel
a fresh one would be, a cell past its limit is interrupted as in a fresh one, and the next
kernel forked finds nothing of the last.

The fork-server's confinement, field by field against a fresh process, is tested in
``tests/sandbox/test_fork_server.py``; the kernel's sandbox against hostile notebooks, forked
kernels included (batches take their kernels from the warm pool), in ``tests/sandbox/``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.execute.run import Execution, run_notebook
from grader.execute.warm import WarmKey, WarmPool
from grader.framework.keras import Keras
from grader.framework.pytorch import PyTorch
from grader.sandbox import fork_server
from grader.sandbox.confine import SandboxOptions
from grader.sandbox.kernel import place_submission
from grader.sandbox.limits import Limits

REPORT = r"""
import json, os, pickle, signal, sys, tempfile
config = sys.modules.get("keras.src.backend.config")

class Made:  # a class of the notebook's own: pickled through __main__
    pass

print(json.dumps({
    "argv": [a.rsplit("/", 1)[-1].split("=")[0].split("-")[0] for a in sys.argv],
    "name": __name__,
    "keras_home": config.keras_home() == os.environ["KERAS_HOME"] if config else None,
    "modules": [m for m in ("keras", "tensorflow", "torch", "torchvision") if m in sys.modules],
    "tmp": tempfile.gettempdir(),
    "pid": os.getpid(),
    "parent": os.getppid(),
    "pickled": type(pickle.loads(pickle.dumps(Made()))).__name__,
    "interrupt": type(signal.getsignal(signal.SIGINT)).__name__,
    "environ": sorted(os.environ),
    "uid": os.getuid(),
}))
"""

LEAVE = r"""
import json, os, keras
keras.left_by_a = True
json.left_by_a = True
os.environ["LEFT_BY_A"] = "1"
open("/tmp/left-by-a", "w").close()
print(os.getpid())
"""

LOOK = r"""
import json, os, keras
print(json.dumps([getattr(keras, "left_by_a", None), getattr(json, "left_by_a", None),
                  os.environ.get("LEFT_BY_A"), os.path.exists("/tmp/left-by-a")]))
"""


def _key(
    tmp_path: Path, framework: Keras | PyTorch, options: SandboxOptions | None = None
) -> WarmKey:
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros(3))
    return WarmKey(
        options or SandboxOptions(), data, (), (), (), framework.preload, framework.kernel_program
    )


@pytest.fixture
def key(tmp_path: Path) -> WarmKey:
    return _key(tmp_path, Keras())


def _largest(processes: list[psutil.Process]) -> psutil.Process:
    sizes = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):  # ended meanwhile
            sizes[process] = process.memory_info().rss
    return max(sizes, key=sizes.__getitem__)


def _run_alone(
    key: WarmKey, tmp_path: Path, *cells: str, cell_timeout: float = 120
) -> tuple[Execution, list[str], list[str]]:
    """:func:`_run` in a pool of its own, closed afterwards."""
    pool = WarmPool(judges=False)
    try:
        pool.refill(key)
        return _run(pool, key, tmp_path, *cells, cell_timeout=cell_timeout)
    finally:
        pool.close()


def _run(
    pool: WarmPool, key: WarmKey, tmp_path: Path, *cells: str, cell_timeout: float = 120
) -> tuple[Execution, list[str], list[str]]:
    """Run ``cells`` in the pool's next kernel; what each printed, and the kernel's command."""
    warm = pool.take(key)
    assert warm is not None, "the pool held no kernel for this key"
    try:
        submission = tmp_path / f"hand-in-{len(list(tmp_path.iterdir()))}.ipynb"
        submission.write_text(json.dumps(new_notebook()))
        place_submission(warm.box, submission)
        pool.refill(key)  # as a batch worker does
        nb = new_notebook(cells=[new_code_cell(c) for c in cells])
        commands: list[list[str]] = []

        def look(_index: int) -> None:
            # The kernel: the largest process in its sandbox (launcher and init are small).
            launcher = warm.box.confinement.launcher_pid()
            assert launcher is not None
            commands.append(_largest(psutil.Process(launcher).children(recursive=True)).cmdline())

        run = run_notebook(
            nb,
            workdir=warm.box.work,
            setup="pass",
            finish="pass",
            cell_timeout=cell_timeout,
            total_timeout=600,
            env=warm.box.env(),
            sandbox=warm.box,
            started=warm.km,
            after_cell=look,
        )
    finally:
        warm.close()
    printed = ["".join(o.get("text", "") for o in cell.outputs).strip() for cell in nb.cells]
    return run, printed, commands[0]


@pytest.mark.parametrize("framework", [Keras(), PyTorch()], ids=["keras", "torch"])
def test_a_notebook_finds_the_kernel_a_fresh_one_would_be(
    framework: Keras | PyTorch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key(tmp_path, framework)
    seen = {}
    for way in ("fresh", "forked"):
        monkeypatch.setenv(fork_server.SWITCH, "0" if way == "fresh" else "1")
        run, printed, command = _run_alone(key, tmp_path, REPORT, "sum(range(10**7))")
        assert [c.status for c in run.cells] == ["ok", "ok"], run.cells
        seen[way] = (json.loads(printed[0]), command, run.phases)
    (fresh, fresh_command, _), (forked, forked_command, phases) = seen["fresh"], seen["forked"]
    assert fresh_command[1:3] == ["-m", "ipykernel_launcher"]
    assert forked_command[2:4] == ["-m", "grader.sandbox.zygote"]  # a fork: no new Python
    if os.geteuid() == 0:
        assert fresh.pop("uid") != 0 and forked.pop("uid") != 0
    assert forked == fresh
    assert forked["tmp"] == "/tmp" and forked["name"] == "__main__"
    assert forked["keras_home"] is (True if framework.name == "keras" else None)
    # Its CPU is read from its own processes, not the process the grader started.
    assert phases["cells_cpu"] > 0


def test_a_cell_past_its_limit_is_interrupted_and_the_next_runs(
    key: WarmKey, tmp_path: Path
) -> None:
    run, printed, command = _run_alone(
        key, tmp_path, "import time\ntime.sleep(60)", "print('after')", cell_timeout=5
    )
    assert command[2:4] == ["-m", "grader.sandbox.zygote"]
    assert [c.status for c in run.cells] == ["timeout", "ok"], run.cells
    assert run.cells[0].error_name == "KeyboardInterrupt" or run.cells[0].status == "timeout"
    assert printed[1] == "after"  # the same kernel, interrupted, not killed
    assert not run.incidents or all(i.outcome != "kernel_died" for i in run.incidents)


def test_the_next_forked_kernel_finds_nothing_of_the_last(key: WarmKey, tmp_path: Path) -> None:
    pool = WarmPool(judges=False)
    try:
        pool.refill(key)
        _, a, _ = _run(pool, key, tmp_path, LEAVE)
        _, b, command = _run(pool, key, tmp_path, LOOK)
    finally:
        pool.close()
    assert command[2:4] == ["-m", "grader.sandbox.zygote"]
    assert a[0].isdigit()
    assert json.loads(b[0]) == [None, None, None, False]


FORK_BOMB_CELL = r"""
import subprocess, time
sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(40)]
time.sleep(5)  # the watchdog looks five times a second
print(sum(p.poll() is None for p in sleepers))
"""


def test_the_watchdog_watches_a_forked_kernels_processes(tmp_path: Path) -> None:
    """A forked kernel is not below the process the grader started: the watchdog must find it
    through its sandbox's launcher, or a fork bomb fills the process limit unseen."""
    options = SandboxOptions(limits=Limits(processes=64))  # strays killed at 32
    key = _key(tmp_path, Keras(), options)
    run, printed, command = _run_alone(key, tmp_path, FORK_BOMB_CELL, "print('after')")
    assert command[2:4] == ["-m", "grader.sandbox.zygote"]
    assert [i.outcome for i in run.incidents] == ["process_limit"], run.incidents
    assert printed == ["0", "after"]  # every sleeper killed; the kernel stays
