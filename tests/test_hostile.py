"""Hostile submissions: each gets a result with the right outcome, and the batch goes on.

The notebooks are built here, one per attack, named by the outcome they must get. They are
graded in one process, first together in one ``grader grade`` call with small limits (set
before any student cell runs, so the machine is never at risk), then a notebook that patches
``evaluate`` and a normal submission. The normal one must grade exactly as it does alone.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

from grader.cli import main
from grader.data.cache import cache_dir
from grader.execute.warm import WarmPool
from grader.pipeline import grade
from grader.results import GradeResult
from tests.conftest import ASSIGNMENT, EXAMPLES, ROOT, SMOKE

pytestmark = pytest.mark.notebook
GOLDENS = ROOT / "tests" / "goldens" / "cifar10_transfer"
CELL_TIMEOUT = 15  # generous: the machine may be busy, and only the endless loop waits it out
LIMITS = [
    "--memory-limit", "2048",
    "--process-limit", "64",
    "--output-limit", "64",
    "--cell-timeout", str(CELL_TIMEOUT),
]  # fmt: skip
AFTER = "print('after')"  # a harmless cell after each attack: the kernel must still run it

SNOOP = """\
import json, os, sys
found = {"cwd": os.getcwd(), "uid": os.getuid(), "env": sorted(os.environ)}
for name, path in [("shadow", "/etc/shadow"), ("ssh", "/root/.ssh/id_rsa")]:
    try:
        found[name] = open(path).read()[:50]
    except OSError as exc:
        found[name] = type(exc).__name__
hits = []
# Python and the grader's own package are shown to every kernel (not secret, but visible).
shown = (sys.prefix, sys.base_prefix, os.path.dirname(__import__("grader").__file__))
for top in TOPS + [os.getcwd()]:  # its own folder too: the search does find files
    for folder, _, files in os.walk(top):
        if folder.startswith(shown):
            continue
        hits += [os.path.join(folder, f) for f in files
                 if f.endswith((".npz", ".npy", ".ipynb", ".toml", ".json")) or "cifar" in f]
found["hits"] = hits
print(json.dumps(found))
"""

NETWORK = """\
import socket
errors = []
for address in [("127.0.0.1", PORT), ("192.0.2.1", 80)]:  # the grader's machine; TEST-NET-1
    try:
        socket.create_connection(address, timeout=3)
        errors.append("connected")
    except OSError as exc:
        errors.append(str(exc))
print(errors)
"""

PATCH_EVALUATE = """\
import builtins, keras, numpy as np
keras.Model.evaluate = lambda self, *a, **k: [0.0, 0.99]
keras.Model.fit = lambda self, *a, **k: None
np.mean = lambda *a, **k: 0.99
builtins.round = lambda *a, **k: 0.99
"""


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb: nbformat.NotebookNode = new_notebook(cells=[new_code_cell(c) for c in cells])
    return nb


def hostile_notebooks(folder: Path, port: int) -> dict[str, str]:
    """Write one file per attack; returns file stem -> the outcome it must get."""
    # The grader's own checkout too: every assignment's solution and the goldens live there.
    root = ROOT
    tops = [str(cache_dir()), str(ASSIGNMENT), str(root), "/tmp", str(Path.home()), str(folder)]
    cases = {
        "timeout_loop": notebook("while True:\n    pass", AFTER),
        "memory_limit_hog": notebook(
            "import numpy as np\nchunks = []\nwhile True:\n    chunks.append(np.empty(2**25))",
            "print('held', len(chunks) * 2**25 * 8 // 2**20, 'MiB')",
        ),
        "process_limit_forkbomb": notebook(
            "import os\nwhile True:\n    os.fork()",
            "import threading\nt = threading.Thread(target=print, args=('thread ok',))\n"
            "t.start(); t.join()",
        ),
        "kernel_died_exit": notebook("import os\nos._exit(1)", AFTER),
        "ok_sysexit": notebook("import sys\nsys.exit()", AFTER),
        "ok_network": notebook(NETWORK.replace("PORT", str(port)), AFTER),
        "ok_snoop": notebook(SNOOP.replace("TOPS", repr(tops)), AFTER),
        "output_truncated_printer": notebook(
            "print('\\n'.join(map(str, range(2_000_000))))", AFTER
        ),
        # Shared memory is not in RLIMIT_DATA: the grader's watchdog must catch it.
        "memory_limit_shared": notebook(
            "import mmap, numpy as np\nm = mmap.mmap(-1, 3 * 2**30, flags=mmap.MAP_SHARED)\n"
            "np.frombuffer(m, dtype=np.uint8)[:] = 1",
            AFTER,
        ),
        "ok_pip": notebook(
            "!pip install --retries 1 --timeout 3 six-hack-x",
            "%pip install --retries 1 --timeout 3 six-hack-x",  # the kernel's own environment
            AFTER,
        ),
        "ok_empty": notebook(),
        "ok_images": notebook(AFTER),
    }
    # 50 MB of embedded images in stale outputs, as a notebook saved after plotting a lot.
    png = base64.b64encode(os.urandom(750_000)).decode()
    cases["ok_images"].cells[0].outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": png}) for _ in range(50)
    ]
    for stem, nb in cases.items():
        nbformat.write(nb, folder / f"{stem}.ipynb")
    (folder / "invalid_notebook_corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", ')
    (folder / "not_a_notebook_text.ipynb").write_text("print('this is a script')\n")
    # Deeper than Python's stack: the parser's RecursionError, not a failure retried every run.
    (folder / "invalid_notebook_deep.ipynb").write_text(
        '{"cells": ' + "[" * 50_000 + "]" * 50_000 + "}"
    )
    # The stem names the expected outcome: "ok_..." or "<outcome>_<attack>".
    outcomes = {p.stem: p.stem.rsplit("_", 1)[0] for p in folder.glob("*.ipynb")}
    return {stem: "ok" if stem.startswith("ok_") else outcome for stem, outcome in outcomes.items()}


def executed_stdout(out: Path, stem: str, cell: int) -> str:
    nb = nbformat.read(out / stem / "executed.ipynb", as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[cell].outputs if o.get("name"))


def test_hostile_batch_then_normal_submissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak-me")
    folder = tmp_path / "submissions"
    folder.mkdir()
    out = tmp_path / "out"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        expected = hostile_notebooks(folder, listener.getsockname()[1])
        run = CliRunner().invoke(
            main,
            [
                "grade",
                str(folder),
                "-a",
                "cifar10_transfer",
                "--out",
                str(out),
                "--budget",
                "smoke",
                # One kernel at a time: the outcomes, not the workers, are under test here.
                "-j",
                "1",
                *LIMITS,
            ],
        )
        assert run.exit_code == 0, run.output
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing in the sandbox reached the grader's machine

    results = {
        stem: GradeResult.from_json((out / stem / "result.json").read_text()) for stem in expected
    }
    assert {stem: r.outcome for stem, r in results.items()} == expected
    for stem, result in results.items():
        assert (out / stem / "report.html").is_file(), stem
        assert result.outcome in (out / stem / "report.md").read_text()
        if result.outcome != "ok":
            assert f"{stem}: {result.outcome}" in run.output  # named in the batch's summary

    # Each attack stopped in its own cell, and the kernel ran the next cell.
    loop = results["timeout_loop"]
    assert [c.status for c in loop.cells] == ["timeout", "ok"]
    assert loop.incidents[0].cell == 0 and "cell time limit" in loop.incidents[0].detail
    hog = results["memory_limit_hog"]
    assert hog.cells[0].error_name == "MemoryError" and hog.cells[1].status == "ok"
    held = int(executed_stdout(out, "memory_limit_hog", 1).split()[1])
    assert 0 < held <= 2048  # stopped at the limit, not by the machine running out
    shared = results["memory_limit_shared"]
    assert [c.status for c in shared.cells] == ["error", "skipped"]
    assert shared.incidents[0].detail == "cell 0: killed over the memory limit"
    bomb = results["process_limit_forkbomb"]
    assert bomb.cells[1].status == "ok"
    assert executed_stdout(out, "process_limit_forkbomb", 1) == "thread ok\n"
    died = results["kernel_died_exit"]
    assert died.incidents[0].detail == "cell 0: the kernel died (exit code 1)"
    assert [c.status for c in died.cells] == ["error", "skipped"]
    sys_exit = results["ok_sysexit"]
    assert sys_exit.cells[0].error_name == "SystemExit" and sys_exit.cells[1].status == "ok"
    printer = results["output_truncated_printer"]
    assert printer.cells[1].status == "ok"
    printed = executed_stdout(out, "output_truncated_printer", 0)
    assert len(printed) < 70 * 1024 and "[grader] output cut" in printed

    errors = executed_stdout(out, "ok_network", 0)
    assert "connected" not in errors and errors.count("Network is unreachable") == 2

    snoop = json.loads(executed_stdout(out, "ok_snoop", 0))
    assert snoop["uid"] != 0 and snoop["shadow"] == "PermissionError"
    assert snoop["ssh"] in ("FileNotFoundError", "PermissionError")
    assert "AWS_SECRET_ACCESS_KEY" not in snoop["env"]
    assert not any(k.startswith("GRADER_") for k in snoop["env"])
    # Only its own notebook: no data set, rubric, solution or other submission is visible.
    assert os.path.join(snoop["cwd"], "ok_snoop.ipynb") in snoop["hits"]
    assert all(hit.startswith(snoop["cwd"] + "/") for hit in snoop["hits"]), snoop["hits"]

    pip = executed_stdout(out, "ok_pip", 0) + executed_stdout(out, "ok_pip", 1)
    assert "Successfully installed" not in pip
    assert "after connection broken by" in executed_stdout(out, "ok_pip", 1)  # no network
    assert [c.status for c in results["ok_pip"].cells] == ["ok", "ok", "ok"]

    assert results["ok_empty"].cells == [] and results["ok_empty"].score == 0
    big = results["ok_images"]
    assert (folder / "ok_images.ipynb").stat().st_size > 50_000_000
    assert [c.status for c in big.cells] == ["ok"]
    assert (out / "ok_images" / "executed.ipynb").stat().st_size < 100_000

    for stem in ("invalid_notebook_corrupt", "invalid_notebook_deep", "not_a_notebook_text"):
        refused = results[stem]
        assert refused.score == 0 and all(c.status == "fail" for c in refused.checks)
        assert refused.incidents[0].outcome == expected[stem]

    # Same process, after all of that: patching Keras, NumPy and builtins changes no score,
    # and a normal submission grades exactly as its golden says.
    patched_path = tmp_path / "patched_evaluate.ipynb"
    patched = nbformat.read(EXAMPLES / "full_marks.ipynb", as_version=4)
    patched.cells.insert(0, new_code_cell(PATCH_EVALUATE))
    patched.cells.append(new_code_cell("print(trans_model.evaluate(x2_val, y2_val))"))
    nbformat.write(patched, patched_path)
    # As a batch worker grades them: the normal one's kernel boots while the cheat runs.
    pool = WarmPool()
    try:
        cheat = grade(
            patched_path, assignment="cifar10_transfer", out=out, options=SMOKE, warm=pool
        )
        pool.ahead = False
        normal = grade(
            EXAMPLES / "full_marks.ipynb",
            assignment="cifar10_transfer",
            out=out,
            options=SMOKE,
            warm=pool,
        )
    finally:
        pool.close()
    assert "[0.0, 0.99]" in executed_stdout(out, "patched_evaluate", len(patched.cells) - 1)
    by_id = {c.id: c for c in cheat.checks}
    for check_id in ("base.accuracy", "transfer.accuracy"):
        assert by_id[check_id].status == "fail"
        assert by_id[check_id].details["accuracy"] < 0.5
    assert cheat.outcome == "ok" and cheat.score < cheat.max_score

    golden = json.loads((GOLDENS / "full_marks.json").read_text())
    assert {c.id: c.status for c in normal.checks} == golden["checks"]
    assert normal.score == golden["score"] and normal.outcome == "ok"
    assert normal.incidents == []
