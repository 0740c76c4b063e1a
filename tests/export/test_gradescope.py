"""The Gradescope autograder bundle: its layout, its scripts, and a run as Gradescope runs it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.export.gradescope import OFFICIAL_DATA
from tests.conftest import EXAMPLES, ROOT

GRADER_BIN = Path(sys.executable).parent / "grader"


def build(tmp_path_factory: pytest.TempPathFactory, *flags: str) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    result = CliRunner().invoke(
        main,
        ["gradescope-bundle", "cifar10_transfer", "--out", str(out), "--budget", "smoke", *flags],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle as built by default: setup.sh fetches the official data."""
    return build(tmp_path_factory)


@pytest.fixture(scope="module")
def offline_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle that grades on synthetic data, to run here without the internet."""
    return build(tmp_path_factory, "--no-fetch")


def extract(bundle: Path, dest: Path) -> Path:
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(dest)
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if mode:
                (dest / info.filename).chmod(stat.S_IMODE(mode))
    return dest


def test_bundle_holds_the_scripts_and_an_installable_grader(bundle: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
    assert {"setup.sh", "run_autograder", "grader-src/pyproject.toml"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "course/assignments/cifar10_transfer/assignment.toml" in names
    assert "grader-src/grader/report/templates/report.html.j2" in names
    assert "course/reference/cifar10_transfer.py" in names
    # What grading reads, nothing more: this assignment's reference module and what it imports,
    # no solution notebook, no other assignment's reference (issue 23).
    assert {n for n in names if n.startswith("course/reference/")} == {
        "course/reference/__init__.py",
        "course/reference/cifar10_transfer.py",
        "course/reference/training.py",
    }
    assert not any(n.endswith("solution.ipynb") for n in names)
    # The grader's source is the grader only; the course is a folder of its own.
    assert not any(
        n.startswith(("grader-src/reference", "grader-src/grader/assign")) for n in names
    )
    assert not any("__pycache__" in n or "/submissions/" in n for n in names)
    source = extract(bundle, tmp_path) / "grader-src"
    project = tomllib.loads((source / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["grader"] == "grader.cli:main"
    assert any(d.startswith("keras") for d in project["project"]["dependencies"])
    assert not any("extra ==" in d for d in project["project"]["dependencies"])
    # Laid out as an installed wheel: the package finds its templates, and the assignment in
    # the course folder run_autograder names.
    probe = (
        "from grader.rubric.load import load_assignment; "
        "from grader.report.render import templates_dir; "
        "print(load_assignment('cifar10_transfer').folder); print(templates_dir())"
    )
    env = {**os.environ, "PYTHONPATH": str(source), "GRADER_COURSE": str(tmp_path / "course")}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=tmp_path,  # not the checkout, whose grader/ would be found first
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [
        str(tmp_path / "course" / "assignments" / "cifar10_transfer"),
        str(source / "grader" / "report" / "templates"),
    ]
    setup = (tmp_path / "setup.sh").read_text()
    assert 'pip install --no-cache-dir --no-deps "$SRC/grader-src"' in setup
    assert "export DEBIAN_FRONTEND=noninteractive" in setup
    assert 'export GRADER_COURSE="$SRC/course"' in setup
    assert (
        'GRADER_COURSE="${GRADER_COURSE:-$ROOT/source/course}"'
        in (tmp_path / "run_autograder").read_text()
    )
    assert (
        "prepare_reference(assignment='cifar10_transfer', options=GradeOptions(budget='smoke'"
        in setup
    )
    assert "data_dir='/autograder/source/data'" in setup  # calibrated on the fetched data
    # Every dependency pinned to the version installed here.
    lock = (tmp_path / "requirements.lock").read_text().splitlines()
    pins = dict(line.split("==") for line in lock if not line.startswith("#"))
    assert pins["keras"] == metadata.version("keras")
    assert pins["numpy"] == metadata.version("numpy") and "keras-notebook-grader" not in pins
    assert len(pins) > 30  # the whole closure, not only the direct requirements
    assets = json.loads((tmp_path / "assets.json").read_text())
    assert assets == [OFFICIAL_DATA["cifar10"]]
    run = (tmp_path / "run_autograder").read_text()
    assert "--data-dir /autograder/source/data" in run and "--gradescope-timeout 600" in run


SANDBOX_UID = 60123
"""A kernel's user (with a group of its own, the same number, and no other)."""
JUDGE_UID = 60124


def permissions_block(setup: str) -> str:
    """The permission steps of setup.sh, as it runs them."""
    start = setup.index("# --- permissions ---\n")
    return setup[start : setup.index("# --- end permissions ---")]


def can_read(path: Path, top: Path, uid: int, gids: set[int]) -> bool:
    """Whether ``uid`` in ``gids`` may read ``path``: every folder from ``top`` down searchable
    (x), the file itself readable (r), by the owner, group or other bits that apply to it."""

    def allows(p: Path, bit: int) -> bool:
        st = p.lstat()
        if st.st_uid == uid:
            return bool(st.st_mode & (bit << 6))
        if st.st_gid in gids:
            return bool(st.st_mode & (bit << 3))
        return bool(st.st_mode & bit)

    folders = [top, *(p for p in path.parents if p.is_relative_to(top) and p != top)]
    return all(allows(f, 1) for f in folders) and allows(path, 4)


def test_after_setup_a_kernel_reads_only_its_data_and_the_judge_the_reference_and_held_back(
    offline_bundle: Path, tmp_path: Path
) -> None:
    source = extract(offline_bundle, tmp_path / "source")
    # The judge's group: a number of our own here (setup.sh names `grader-judge`, made with
    # groupadd; a test must not add groups to the machine). As another user than root, the
    # group chgrp may give is one's own.
    judge_gid = 60777 if os.geteuid() == 0 else os.getgid()
    # The data setup.sh prepared, as prepare_data names it (see grader/data/prepare.py).
    cache = tmp_path / "cache"
    (cache / "data").mkdir(parents=True)
    for name in ("kernel-cifar10-ab.npz", "held-out-cifar10-ab.npz", "synthetic-cifar10-ab.npz"):
        (cache / "data" / name).write_bytes(b"arrays")
    block = permissions_block((source / "setup.sh").read_text())
    variables = f"SRC={source}\nJUDGE_GROUP={judge_gid}\nGRADER_CACHE_DIR={cache}\n"
    subprocess.run(["bash", "-c", f"set -euo pipefail\n{variables}{block}"], check=True)

    def readable(top: Path, uid: int, gids: set[int]) -> set[str]:
        files = [p for p in top.rglob("*") if p.is_file()]
        return {p.relative_to(top).as_posix() for p in files if can_read(p, top, uid, gids)}

    assert readable(source, SANDBOX_UID, {SANDBOX_UID}) == set()
    assert readable(source, JUDGE_UID, {judge_gid}) == {
        "course/reference/__init__.py",
        "course/reference/cifar10_transfer.py",
        "course/reference/training.py",
    }
    # A kernel reads its own share of the data; the held-back images are the judge's.
    assert readable(cache, SANDBOX_UID, {SANDBOX_UID}) == {"data/kernel-cifar10-ab.npz"}
    assert readable(cache, JUDGE_UID, {judge_gid}) == {
        "data/kernel-cifar10-ab.npz",
        "data/held-out-cifar10-ab.npz",
        "data/synthetic-cifar10-ab.npz",
    }
    # The rubric (hidden checks, their parameters) and the secret-bearing scripts are root's.
    rubric = source / "course/assignments/cifar10_transfer/assignment.toml"
    assert rubric.stat().st_uid == os.geteuid() and stat.S_IMODE(rubric.stat().st_mode) & 0o077 == 0


def run_autograder(bundle: Path, root: Path, submission: dict[str, Path]) -> dict[str, object]:
    source = extract(bundle, root / "source")
    (root / "submission").mkdir(parents=True)
    for name, path in submission.items():
        shutil.copy(path, root / "submission" / name)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "GRADER_BIN": str(GRADER_BIN),
        "GRADER_PYTHON": sys.executable,
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [str(source / "run_autograder")], env=env, capture_output=True, text=True, timeout=600
    )
    result: dict[str, object] = json.loads((root / "results" / "results.json").read_text())
    return result


def test_run_autograder_without_a_notebook_still_writes_results(
    offline_bundle: Path, tmp_path: Path
) -> None:
    result = run_autograder(offline_bundle, tmp_path, {"answers.py": EXAMPLES / "full_marks.ipynb"})
    assert result["score"] == 0 and result["tests"] == []
    assert "no .ipynb files in this folder" in str(result["output"])
    assert "Autograder limits:" in str(result["output"]) and "Sandbox:" in str(result["output"])


@pytest.mark.notebook
def test_run_autograder_grades_the_submission_into_gradescope_results(
    offline_bundle: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch.ipynb"
    data = json.loads((EXAMPLES / "full_marks.ipynb").read_text())
    data["metadata"] = {}
    scratch.write_text(json.dumps(data))
    # Two notebooks: the released one (by its metadata) is graded, the other named as not.
    result = run_autograder(
        offline_bundle,
        tmp_path / "root",
        {"a_scratch.ipynb": scratch, "hw.ipynb": EXAMPLES / "wrong_dense_width.ipynb"},
    )
    assert "another notebook is: a_scratch.ipynb" in str(result["output"])
    assert "hw.ipynb is graded" in str(result["output"])
    assert result["output_format"] == "md"
    tests = t_list(result["tests"])
    assert len(tests) == 8
    failed = [str(t["name"]) for t in tests if t["status"] == "failed"]
    assert any("transfer.architecture" in name for name in failed)
    assert result["score"] == sum(float(t["score"]) for t in tests)  # type: ignore[arg-type,misc]


def t_list(value: object) -> list[dict[str, object]]:
    assert isinstance(value, list)
    return value
