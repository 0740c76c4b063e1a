"""Warm kernels: started before their submission is known, used once, sharing nothing.

A hostile submission A runs in one warm kernel while the next is started; it leaves files in
its working folder, ``/tmp`` and ``/dev/shm``, a process that outlives its cell, a module
attribute and an environment variable. Submission B, run next in the pool's kernel, must
find none of them, and run as another user. The golden of a real grade through the warm path
is checked in ``tests/batch/test_warm_batch.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from nbformat.v4 import new_code_cell, new_notebook

from grader.execute.run import run_notebook
from grader.execute.warm import WarmKey, WarmPool
from grader.sandbox.confine import SandboxOptions
from grader.sandbox.kernel import place_submission

LEAVE = r"""
import json, os, subprocess, sys
for folder in (os.path.expanduser("~"), "/tmp", "/var/tmp", "/dev/shm"):
    with open(os.path.join(folder, "left-by-a"), "w") as f:
        f.write("secret")
subprocess.Popen(["sleep", "600"], start_new_session=True)
os.environ["LEFT_BY_A"] = "1"
json.left_by_a = True
print(json.dumps({"uid": os.getuid(), "home": os.path.expanduser("~")}))
"""

LOOK = r"""
import json, os
found = [
    os.path.join(folder, "left-by-a")
    for folder in (os.path.expanduser("~"), "/tmp", "/var/tmp", "/dev/shm")
    if os.path.exists(os.path.join(folder, "left-by-a"))
]
sleeping = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if f.read().startswith(b"sleep"):
                sleeping.append(pid)
    except OSError:
        pass
print(json.dumps({
    "uid": os.getuid(),
    "home": os.path.expanduser("~"),
    "found": found,
    "sleeping": sleeping,
    "env": os.environ.get("LEFT_BY_A"),
    "module": getattr(json, "left_by_a", None),
    "notebooks": sorted(n for n in os.listdir(os.path.expanduser("~")) if n.endswith(".ipynb")),
}))
"""


def _run(pool: WarmPool, key: WarmKey, source: str, submission: Path) -> dict[str, object]:
    warm = pool.take(key)
    assert warm is not None, "the pool held no warm kernel for this key"
    try:
        place_submission(warm.box, submission)
        # The next kernel starts while this one runs, as a batch worker does.
        pool.refill(key)
        nb = new_notebook(cells=[new_code_cell(source)])
        run = run_notebook(
            nb,
            workdir=warm.box.work,
            setup="pass",
            finish="pass",
            cell_timeout=60,
            total_timeout=60,
            env=warm.box.env(),
            sandbox=warm.box,
            started=warm.km,
        )
    finally:
        warm.close()
    assert [c.status for c in run.cells] == ["ok"], run.cells
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    return dict(json.loads(text.strip().splitlines()[-1]))


def test_next_submission_in_a_warm_kernel_sees_nothing_of_the_last(tmp_path: Path) -> None:
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros(3))
    a_nb, b_nb = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    for path in (a_nb, b_nb):
        path.write_text(json.dumps(new_notebook()))
    # A light preload: what is tested is the sandbox around the kernel, not Keras.
    key = WarmKey(SandboxOptions(), data, (), (), (), preload="import json")
    pool = WarmPool()
    try:
        pool.refill(key)
        a = _run(pool, key, LEAVE, a_nb)
        b = _run(pool, key, LOOK, b_nb)
        assert pool.holding  # the kernel after B was started too
    finally:
        pool.close()
    assert b["found"] == [] and b["sleeping"] == []
    assert b["env"] is None and b["module"] is None
    assert b["home"] != a["home"] and b["notebooks"] == ["b.ipynb"]
    if os.geteuid() == 0:
        assert b["uid"] != a["uid"]


def test_a_warm_kernel_made_for_another_sandbox_is_not_used(tmp_path: Path) -> None:
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros(3))
    key = WarmKey(SandboxOptions(), data, (), (), (), preload="import json")
    other = WarmKey(SandboxOptions(), data, (), (), (("OMP_NUM_THREADS", "1"),), "import json")
    pool = WarmPool()
    try:
        pool.refill(key)
        assert pool.take(other) is None
        assert not pool.holding  # thrown away, not kept for later
    finally:
        pool.close()
