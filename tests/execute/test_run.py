"""The kernel side on small notebooks built here: data served under every import path,
budgets enforced on fit/evaluate/predict, fits recorded, failures and timeouts recorded."""

from __future__ import annotations

import gc
import json
import os
import time
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import grader.execute.cell_run
from grader.artefacts.folder import read_artefacts
from grader.execute.cell_run import INTERRUPT_GRACE_S
from grader.execute.run import Execution, run_notebook
from grader.kernel.cells import finish_code, setup_code

pytestmark = pytest.mark.notebook


def execute(
    tmp_path: Path, cells: list[str], *, cell_timeout: float = 120, total_timeout: float = 600
) -> tuple[Execution, Path]:
    rng = np.random.default_rng(0)
    data = tmp_path / "data.npz"
    np.savez(
        data,
        x_train=rng.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8),
        y_train=(np.arange(60) % 10).reshape(-1, 1).astype(np.uint8),
        x_test=np.zeros((7, 32, 32, 3), np.uint8),
        y_test=np.zeros((7, 1), np.uint8),
    )
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir()
    config = {
        "seed": 1,
        "dataset": "cifar10",
        "data_path": str(data),
        "data_note": "test data",
        "budget": {
            "name": "smoke",
            "max_epochs": 1,
            "max_train_samples": 20,
            "max_eval_samples": 10,
        },
        "artefacts": str(artefacts),
        "roles": {"base": ["model"]},
        "variables": ["labels"],
    }
    work = tmp_path / "work"
    work.mkdir()
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = run_notebook(
        nb,
        workdir=work,
        setup=setup_code(config),
        finish=finish_code(),
        cell_timeout=cell_timeout,
        total_timeout=total_timeout,
        env=env,
    )
    return run, artefacts


def stdout(run: Execution, index: int) -> str:
    cell = run.notebook.cells[index]
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


def test_data_budget_and_capture_inside_the_kernel(tmp_path: Path) -> None:
    run, artefacts = execute(
        tmp_path,
        [
            # Every import path the course's notebooks use gets the grader's data.
            "import keras, tensorflow as tf\n"
            "from keras.datasets import cifar10\n"
            "from tensorflow.keras.datasets import cifar10 as tf_cifar10\n"
            "shapes = {f()[0][0].shape for f in (cifar10.load_data,"
            " tf_cifar10.load_data, keras.datasets.cifar10.load_data,"
            " tf.keras.datasets.cifar10.load_data)}\n"
            "print(shapes)",
            "import numpy as np\n"
            "model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),"
            " keras.layers.Dense(10, activation='softmax')])\n"
            "model.compile(optimizer='adam', loss='categorical_crossentropy')\n"
            "(x, y), _ = cifar10.load_data()\n"
            "labels = keras.utils.to_categorical(y, 10)\n"
            "hist = model.fit(x / 255.0, labels, epochs=5, batch_size=10, verbose=0)\n"
            "print(len(hist.history['loss']), model.predict(x, verbose=0).shape[0])",
            "raise ValueError('student bug')",
            "print('still running')",
        ],
    )
    assert stdout(run, 0).strip() == "{(60, 32, 32, 3)}"
    assert [c.status for c in run.cells] == ["ok", "ok", "error", "ok"]
    # fit ran 1 of 5 epochs on 20 of 60 samples; predict saw 10 of 60 images.
    assert stdout(run, 1).splitlines()[-1] == "1 10"
    assert "fit capped (epochs 5 -> 1; samples 60 -> 20)" in stdout(run, 1)
    assert run.cells[2].error_name == "ValueError" and "student bug" in run.cells[2].traceback
    assert "budget 'smoke'" in run.setup_output
    art = read_artefacts(artefacts)
    (fit,) = art.fits
    assert (fit.epochs_requested, fit.epochs_run, fit.samples_requested, fit.samples_used) == (
        5,
        1,
        60,
        20,
    )
    assert fit.before is not None and fit.after is not None
    assert fit.before[1].weights != fit.after[1].weights
    assert art.fits_of("base") == [fit]
    assert art.variable("labels").shape == (60, 10)
    assert art.model("base").count_params() == 30730
    assert json.loads((artefacts / "roles.json").read_text())["base"]["variable"] == "model"


def test_a_cell_timeout_interrupts_that_cell_only(tmp_path: Path) -> None:
    run, _ = execute(tmp_path, ["import time\ntime.sleep(600)", "print('next')"], cell_timeout=2)
    assert [c.status for c in run.cells] == ["timeout", "ok"]
    assert "cell time limit" in run.cells[0].error_value
    assert stdout(run, 1) == "next\n"


def test_the_total_timeout_skips_the_rest_but_still_saves(tmp_path: Path) -> None:
    run, artefacts = execute(
        tmp_path,
        ["import time\ntime.sleep(600)", "print('never')"],
        cell_timeout=300,
        total_timeout=3,
    )
    assert [c.status for c in run.cells] == ["timeout", "skipped"]
    assert "total time limit" in run.cells[0].error_value
    assert (artefacts / "roles.json").is_file()  # the closing cell ran regardless


def test_injected_cells_are_not_part_of_the_returned_notebook(tmp_path: Path) -> None:
    run, _ = execute(tmp_path, ["x = 1"])
    assert len(run.notebook.cells) == 1 and run.notebook.cells[0].source == "x = 1"
    nbformat.validate(run.notebook)


def test_a_cell_that_ignores_the_interrupt_has_its_kernel_killed(tmp_path: Path) -> None:
    """Issue 10: a cell ignoring SIGINT held the grader until its own 300 s cell limit."""
    began = time.monotonic()
    run, artefacts = execute(
        tmp_path,
        [
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
            "print('never')",
        ],
        cell_timeout=2,
        total_timeout=60,
    )
    assert time.monotonic() - began < 2 + INTERRUPT_GRACE_S + 60  # kernel start and set-up
    assert [c.status for c in run.cells] == ["timeout", "skipped"]
    assert "did not stop within 5 s of the interrupt, so the kernel was killed" in (
        run.cells[0].error_value
    )
    assert run.finish_error.startswith("the grader stopped the kernel (cell 0 ignored")
    assert [i.outcome for i in run.incidents] == ["timeout"]
    assert not (artefacts / "roles.json").exists()  # the closing cell could not run


def test_the_closing_cell_ends_by_its_deadline_while_a_thread_holds_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A student's thread can stall the grader's closing cell; it must still end, and say so."""
    monkeypatch.setattr(grader.execute.cell_run, "GRADER_CELL_TIMEOUT_S", 5)
    work = tmp_path / "work"
    work.mkdir()
    # Catastrophic backtracking: the regex engine holds the GIL and never looks at signals. It
    # starts a second after its cell ended, while the closing cell sleeps.
    stall = (
        "import re, threading\nthreading.Timer(1, re.match, (r'(a+)+$', 'a' * 64 + 'b')).start()"
    )
    began = time.monotonic()
    run = run_notebook(
        new_notebook(cells=[new_code_cell(stall)]),
        workdir=work,
        setup="pass",
        finish="import time\ntime.sleep(3)",
        cell_timeout=30,
        total_timeout=60,
        env={**os.environ},
    )
    assert [c.status for c in run.cells] == ["ok"]
    assert run.finish_error == "saving the models ran past 5 s"
    assert time.monotonic() - began < 5 + INTERRUPT_GRACE_S + 30  # and the kernel start


def test_a_run_leaves_no_socket_of_its_kernel_client_open(tmp_path: Path) -> None:
    """nbclient leaves the channels of a client it made for a kernel manager it was handed
    (the grader's, sandboxed) open: a batch worker would hold two sockets per notebook graded
    until the garbage collector found them."""
    nb = new_notebook(cells=[new_code_cell("1 + 1")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run_notebook(
            nb,
            workdir=tmp_path,
            setup="pass",
            finish="pass",
            cell_timeout=60,
            total_timeout=120,
            env=dict(os.environ),
        )
        gc.collect()
    assert [str(w.message) for w in caught if "Unclosed socket" in str(w.message)] == []


BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end:\n    pass"


def test_the_cells_cpu_is_the_students_cells_own_work(tmp_path: Path) -> None:
    # Issue 27 measures the grader's overhead against the notebook's own CPU: the cells' CPU
    # (a child process they ran included) must be told from the kernel's start and imports.
    burn = BURN.format(s=1.0)
    child = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {burn!r}])"
    run, _ = execute(tmp_path, [burn, child, "import time\ntime.sleep(1)"])
    assert [c.status for c in run.cells] == ["ok", "ok", "ok"]
    assert 1.9 <= run.phases["cells_cpu"] < 3.5, run.phases
    # Its start and the grader's setup cell (Keras) cost the kernel more than nothing.
    assert run.phases["kernel_cpu"] > run.phases["cells_cpu"] + 0.5, run.phases


def test_a_kernel_that_dies_keeps_the_cpu_its_cells_were_seen_to_use(tmp_path: Path) -> None:
    # Its processes are gone when the cells end: the figure read after its last living cell
    # stands, never a negative one.
    die = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    run, _ = execute(tmp_path, [BURN.format(s=1.0), die])
    assert run.cells[1].error_name == "DeadKernelError"
    assert 0.9 <= run.phases["cells_cpu"] < 2.5, run.phases
    assert run.phases["kernel_cpu"] >= run.phases["cells_cpu"], run.phases
