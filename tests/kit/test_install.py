"""A student kit installs offline into a fresh virtual environment, and `grader check` works.

The environment is new and empty; the grader comes from the kit's wheel, installed by pip
with ``--no-index`` (nothing is downloaded). Its dependencies (TensorFlow, Keras, Jupyter...)
are not installed again: a ``.pth`` file shows the test environment's site-packages to the new
one, as ``--system-site-packages`` would show a system-wide installation (which is not where
they are here). That ``.pth`` adds a folder to ``sys.path`` without running the ``.pth`` files
inside it, so this checkout's editable install is not active in the new environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from grader.kit.build import build_kit
from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.notebook
PIP_OFFLINE = ["-m", "pip", "install", "--no-index", "--no-deps", "--ignore-installed"]


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_the_kit_installs_offline_and_checks_without_training_the_reference(
    tmp_path: Path,
) -> None:
    built = build_kit(["cifar10_transfer"], out=tmp_path / "out", budgets=("smoke",))
    with zipfile.ZipFile(next((built.folder / "wheels").glob("*.whl"))) as wheel:
        assert all(n.startswith(("grader/", "keras_notebook_grader-")) for n in wheel.namelist())
    # The student unpacks the zip somewhere of their own.
    with zipfile.ZipFile(built.zip) as zf:
        zf.extractall(tmp_path / "student")
    kit = tmp_path / "student" / built.folder.name
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        tmp_path,
        dict(os.environ),
    ).stdout.strip()
    Path(site, "course-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_COURSE", "PYTHONPATH")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index configured anywhere: offline for sure
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    installed = run(
        [str(python), *PIP_OFFLINE, "--find-links", str(kit / "wheels"), "keras-notebook-grader"],
        tmp_path,
        env,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = run([str(python), "-c", "import grader; print(grader.__file__)"], tmp_path, env)
    assert where.stdout.strip().startswith(site), where.stderr
    notebook = kit / "assignments" / "cifar10_transfer" / "hw.ipynb"
    shutil.copy(EXAMPLES / "wrong_dense_width.ipynb", notebook)
    # A fresh cache: no calibration of the instructor's can be found, so nothing is trained
    # only if the kit's thresholds are used.
    env["GRADER_CACHE_DIR"] = str(tmp_path / "student-cache")
    env.pop("GRADER_SECRET", None)
    checked = run([str(venv / "bin" / "grader"), "check", str(notebook)], tmp_path, env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (tmp_path / "student-cache" / "calibration").exists()
    assert not (tmp_path / "student-cache" / "secret").exists()
    golden = json.loads(
        (ROOT / "tests/goldens/cifar10_transfer/wrong_dense_width.json").read_text()
    )
    rows = [line for line in checked.stdout.splitlines() if line.startswith("│ ")]
    for check, status in golden["checks"].items():
        if check.endswith(".accuracy"):
            continue  # accuracy goldens are not enforced for examples (see test_notebooks)
        row = next(line for line in rows if line.startswith(f"│ {check} "))
        assert f" {status} " in row, row
    assert (notebook.parent / "hw.report.html").is_file()
