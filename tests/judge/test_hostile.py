"""Attacks on what the grader does with a kernel's artefacts: each must buy nothing.

One batch, graded by the real command line in a subprocess, holds the honest full-marks
notebook and the attacks; the honest one must get exactly its golden result. Two attacks that
touch nothing of each other share a notebook (each full-marks notebook run costs tens of
seconds): the gadget and the array bomb (the models' files; ``variables.npz``, which only
``data.split`` reads), and the slow model and the recomputed hold-out (the transfer model;
the base model's training). Each test asserts on its own attack's checks and files.

- **Keras gadget**: the saved models carry a ``Lambda`` layer calling
  ``keras.visualization.plot_image_gallery`` with ``run_eagerly``, writing through a link the
  kernel planted. Loaded and run by a privileged process, that writes anywhere it may.
- **Forged records**: a notebook that re-creates its layers and freezes nothing rewrites the
  fit records and snapshots in its last cell (and freezes the flags after the fact).
- **Recomputed hold-out**: a notebook regenerates the data from the seed in its config with
  the grader's own functions, and trains past the budget with ``fit.__wrapped__``.
- **Hidden training**: the ``not_frozen`` notebook deletes its transfer fit's ``after`` snapshot
  in the training cell, then freezes the reused layers (issue 23): evidence missing fails.
- **Unrecorded training**: the ``not_frozen`` notebook removes its transfer fit's record and
  both snapshots in the training cell, takes the fit off the kernel's count, then freezes the
  reused layers (issue 23, gap 1): the model looks never trained, but its frozen layers no
  longer hold the weights the base's fit left them with, taken out of reach a cell earlier.
- **Array bomb**: ``variables.npz`` declares a 4 GiB array in a few megabytes.
- **Slow model**: a model of legal layers (``UpSampling1D`` + ``SimpleRNN``) that would keep
  ``predict`` busy for hours.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell

from grader.results import GradeResult
from tests.conftest import ASSIGNMENT, EXAMPLES, ROOT

pytestmark = pytest.mark.notebook
GOLDEN = json.loads(
    (ROOT / "tests" / "goldens" / "cifar10_transfer" / "full_marks.json").read_text()
)
JUDGE_TIMEOUT = 60

RUNTIME = "_STATE = __import__('grader.kernel.runtime', fromlist=['_STATE'])._STATE\n"

GADGET = (
    RUNTIME
    + """\
import json, os, zipfile, keras
link = os.path.join(os.getcwd(), "gallery.png")
os.symlink(CANARY, link)
keras.Model.save(trans_model, "plain.keras")
with zipfile.ZipFile("plain.keras") as z:
    parts = {n: z.read(n) for n in z.namelist()}
config = json.loads(parts["config.json"])
config["config"]["layers"].insert(1, {
    "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
    "config": {"name": "gallery", "trainable": True, "dtype": "float32", "mask": None,
               "function": {"module": "keras.visualization", "class_name": "function",
                            "config": "plot_image_gallery", "registered_name": "function"},
               "arguments": {"path": link, "value_range": [0, 1], "rows": 1, "cols": 1},
               "output_shape": [32, 32, 3]}})
config["compile_config"]["run_eagerly"] = True
parts["config.json"] = json.dumps(config).encode()

def evil_save(path, *args, **kwargs):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)

trans_model.save = evil_save
model.save = evil_save
for folder, _, files in os.walk(_STATE["artefacts"]):  # whatever format the grader keeps
    for name in files:
        if name.endswith(".keras"):
            evil_save(os.path.join(folder, name))
"""
)

RECREATE = """\
new_model = Sequential()
new_model.add(Conv2D(32, kernel_size=(4, 4), input_shape=(32, 32, 3), activation='relu'))
new_model.add(MaxPooling2D(pool_size=(2, 2)))
new_model.add(Conv2D(32, kernel_size=(4, 4), activation='relu'))
new_model.add(MaxPooling2D(pool_size=(2, 2)))
new_model.add(Flatten())
new_model.add(Dense(128, activation='relu'))
new_model.add(Dense(10, activation='softmax'))
new_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
"""

FORGE = (
    RUNTIME
    + """\
import glob, json, os, numpy as np
folder = _STATE["artefacts"]
for layer in trans_model.layers[:5]:
    layer.trainable = False
if os.path.exists(os.path.join(folder, "fits.jsonl")):  # the records as the grader kept them
    path = os.path.join(folder, "fits.jsonl")
    records = [json.loads(line) for line in open(path)]
    base, transfer = records[0], records[-1]
    for i in range(5):
        transfer["layers_before"][i]["weights"] = base["layers_after"][i]["weights"]
        transfer["layers_after"][i]["weights"] = base["layers_after"][i]["weights"]
        transfer["layers_after"][i]["trainable"] = False
    with open(path, "w") as fh:
        fh.writelines(json.dumps(r) + "\\n" for r in records)
else:  # one record per fit, one weights snapshot before and after it
    base = dict(np.load(os.path.join(folder, "snapshots", "0-after.npz")))
    for when in ("before", "after"):
        path = os.path.join(folder, "snapshots", f"1-{when}.npz")
        arrays = dict(np.load(path))
        arrays.update({k: v for k, v in base.items() if int(k[1:].split("_")[0]) < 5})
        np.savez(path, **arrays)
"""
)

LAZY = (
    RUNTIME
    + """\
import keras, numpy as np
from grader.data.sets import hold_out, synthetic
seed = _STATE["config"]["seed"]
ds = synthetic("cifar10", seed)
visible, held = hold_out(ds, 5000, seed)
(_, _), (x_given, _) = cifar10.load_data()
print("recomputed:", np.array_equal(visible.x_test, x_given))
keep = held.y < 5
x, y = held.x[keep] / 255.0, keras.utils.to_categorical(held.y[keep], 5)
train = ds.y_train.reshape(-1) < 5
x = np.concatenate([x, ds.x_train[train][:10000] / 255.0])
y = np.concatenate([y, keras.utils.to_categorical(ds.y_train.reshape(-1)[train][:10000], 5)])
keras.Model.fit.__wrapped__(model, x, y, epochs=4, batch_size=64, verbose=0)
model.fit(x[:8], y[:8], epochs=1, verbose=0)  # a recorded fit, after the unrecorded ones
"""
)

BOMB = """\
import numpy as np, zipfile
n = 4 * 2**30 // 8
meta = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % n
meta += " " * ((64 - (10 + len(meta) + 1) % 64) % 64) + "\\n"
npy_header = b"\\x93NUMPY\\x01\\x00" + len(meta).to_bytes(2, "little") + meta.encode()

def bomb(path, **arrays):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("x1_train.npy", "w", force_zip64=True) as fh:
            fh.write(npy_header)
            zeros = bytes(1 << 24)
            for _ in range(n * 8 // len(zeros)):
                fh.write(zeros)

np.savez = bomb
"""

SLOW = """\
import keras
slow = keras.Sequential([
    keras.Input((32, 32, 3)),
    keras.layers.Reshape((3072, 1)),
    keras.layers.UpSampling1D(size=200),
    keras.layers.SimpleRNN(4),
    keras.layers.Dense(10, activation="softmax"),
])
slow.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
trans_model = slow
"""


# The `not_frozen` example's transfer cell: the reused layers are left trainable.
UNFROZEN = nbformat.read(EXAMPLES / "not_frozen.ipynb", as_version=4).cells[14].source

HIDE = (
    RUNTIME
    + """\
import os
trans_model = new_model
hist2 = trans_model.fit(x2_train, y2_train, epochs=10, batch_size=100, verbose=2)
os.remove(_STATE["artefacts"] / "snapshots" / f"{_STATE['fit_count'] - 1}-after.npz")
for layer in trans_model.layers[:5]:
    layer.trainable = False
"""
)

UNRECORD = (
    RUNTIME
    + """\
import os
trans_model = new_model
hist2 = trans_model.fit(x2_train, y2_train, epochs=10, batch_size=100, verbose=2)
_STATE["fit_count"] -= 1
fit = _STATE["fit_count"]
for name in (f"fits/{fit}.json", f"snapshots/{fit}-before.npz", f"snapshots/{fit}-after.npz"):
    os.remove(_STATE["artefacts"] / name)
for layer in trans_model.layers[:5]:
    layer.trainable = False
"""
)


def variant(
    name: str, *append: str, replace: dict[int, str] | None = None
) -> tuple[str, nbformat.NotebookNode]:
    """The full-marks notebook with cells replaced, and a cell appended for each of ``append``."""
    nb = nbformat.read(EXAMPLES / "full_marks.ipynb", as_version=4)
    for index, source in (replace or {}).items():
        nb.cells[index].source = source
    nb.cells += [new_code_cell(source) for source in append]
    return name, nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("hostile-judge")
    root.chmod(0o755)
    assignment = root / "cifar10_transfer"
    shutil.copytree(ASSIGNMENT, assignment, ignore=shutil.ignore_patterns("submissions"))
    toml = assignment / "assignment.toml"
    toml.write_text(
        toml.read_text().replace(
            "total_timeout = 2400", f"total_timeout = 2400\njudge_timeout = {JUDGE_TIMEOUT}"
        )
    )
    canary = root / "canary.png"
    hand_in = root / "hand-in"
    hand_in.mkdir()
    notebooks = [
        variant("honest"),
        # The bomb replaces np.savez after the gadget has written its models.
        variant("gadget_and_bomb", GADGET.replace("CANARY", repr(str(canary))), BOMB),
        variant("forged", FORGE, replace={14: RECREATE}),
        # The slow model replaces trans_model; the lazy cell, last, trains the base model.
        variant("slow_and_lazy", SLOW, LAZY),
        variant("hidden", replace={14: UNFROZEN, 16: HIDE}),
        variant("unrecorded", replace={14: UNFROZEN, 16: UNRECORD}),
    ]
    for name, nb in notebooks:
        nbformat.write(nb, hand_in / f"{name}.ipynb")
    out = root / "out"
    grader = subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", str(hand_in), "--assignment", str(assignment),
         "--out", str(out), "--budget", "smoke", "-j", "1", "--cell-timeout", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ,
    )  # fmt: skip
    peak = 0
    while grader.poll() is None:  # the grader process alone: not its kernels, not its judges
        with contextlib.suppress(psutil.Error):
            peak = max(peak, psutil.Process(grader.pid).memory_info().rss)
        time.sleep(0.1)
    output = grader.stdout.read() if grader.stdout else ""
    assert grader.returncode == 0, output
    results = {
        name: GradeResult.from_json((out / name / "result.json").read_text())
        for name, _ in notebooks
    }
    return {
        "results": results,
        "canary": canary,
        "out": out,
        "grader_peak_rss": peak,
    }


def statuses(result: GradeResult) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


def test_the_honest_notebook_keeps_its_exact_solo_result(graded: dict[str, object]) -> None:
    honest = graded["results"]["honest"]  # type: ignore[index]
    assert {"checks": statuses(honest), "score": honest.score} == GOLDEN
    assert honest.outcome == "ok" and honest.flags == []


def test_a_keras_gadget_writes_nothing_and_its_models_are_refused(
    graded: dict[str, object],
) -> None:
    canary: Path = graded["canary"]  # type: ignore[assignment]
    assert not canary.exists() and not os.path.lexists(canary)
    result: GradeResult = graded["results"]["gadget_and_bomb"]  # type: ignore[index]
    by_id = {c.id: c for c in result.checks}
    for check in ("transfer.architecture", "transfer.frozen", "transfer.accuracy"):
        assert by_id[check].status == "fail", check
        assert "contains a Lambda layer" in by_id[check].message, by_id[check].message


def test_rewritten_records_buy_nothing(graded: dict[str, object]) -> None:
    result: GradeResult = graded["results"]["forged"]  # type: ignore[index]
    by_id = {c.id: c for c in result.checks}
    assert by_id["transfer.frozen"].status == "fail"
    assert "changed during training" in by_id["transfer.frozen"].message
    assert by_id["transfer.weights_transferred"].status == "fail"
    assert result.score <= 100 - 15 - 10


def test_training_hidden_by_deleting_its_snapshot_fails_frozen(graded: dict[str, object]) -> None:
    result: GradeResult = graded["results"]["hidden"]  # type: ignore[index]
    frozen = next(c for c in result.checks if c.id == "transfer.frozen")
    assert frozen.status == "fail"
    assert "snapshots/1-after.npz is missing" in frozen.message, frozen.message
    assert result.score <= 85


def test_training_hidden_by_removing_its_whole_record_fails_frozen(
    graded: dict[str, object],
) -> None:
    result: GradeResult = graded["results"]["unrecorded"]  # type: ignore[index]
    by_id = {c.id: c for c in result.checks}
    frozen = by_id["transfer.frozen"]
    assert frozen.status == "fail"
    assert (
        "changed with no recorded training to explain it: they differ from the weights fit #1 "
        "(their last recorded training) left them with; a fit's record is missing"
    ) in frozen.message, frozen.message
    assert "is missing or unusable" not in frozen.message  # the kernel's count was hidden too
    assert result.score <= 85


def test_the_held_back_images_cannot_be_recomputed_and_extra_training_is_flagged(
    graded: dict[str, object],
) -> None:
    out: Path = graded["out"]  # type: ignore[assignment]
    executed = nbformat.read(out / "slow_and_lazy" / "executed.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[-1].outputs)  # LAZY's cell
    assert "recomputed: False" in printed, printed
    result: GradeResult = graded["results"]["slow_and_lazy"]  # type: ignore[index]
    assert [(f.check, f.kind) for f in result.flags] == [
        ("base.accuracy", "accuracy_above_reference")
    ]


def test_an_array_bomb_is_refused_before_it_is_read(graded: dict[str, object]) -> None:
    result: GradeResult = graded["results"]["gadget_and_bomb"]  # type: ignore[index]
    split = next(c for c in result.checks if c.id == "data.split")
    assert split.status == "fail" and "declares more than" in split.message
    peak = t.cast(float, graded["grader_peak_rss"])
    assert peak < 2.5 * 2**30, peak


def test_a_model_too_slow_to_judge_is_refused_before_it_runs(
    graded: dict[str, object],
) -> None:
    # 614,400 sequential steps: minutes of predict on a 2-core machine, 77 s on a faster one,
    # stopped only by the judge's time limit before its steps were counted in its cost.
    result: GradeResult = graded["results"]["slow_and_lazy"]  # type: ignore[index]
    assert result.outcome == "ok"
    accuracy = next(c for c in result.checks if c.id == "transfer.accuracy")
    assert accuracy.status == "fail" and accuracy.details == {"refused": "cost"}
    assert accuracy.message.startswith("model too costly to evaluate")
    assert next(c for c in result.checks if c.id == "base.accuracy").status == "pass"
    assert result.timings["checks"] < JUDGE_TIMEOUT
