"""The course environment (issue 24.2): the kernel's Python named by the rubric and checked
before any work, declared packages checked, and a package nobody declared that a notebook
imports named in the outcome and in every check its cell took down."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.exceptions import KernelEnvironmentError, RubricError
from grader.execute import environment
from grader.pipeline import grade
from grader.rubric.load import load_assignment
from tests.conftest import ASSIGNMENT, EXAMPLES, SMOKE


def rubric_with(tmp_path: Path, execution: str) -> Path:
    """A copy of cifar10_transfer whose ``[execution]`` table has ``execution`` added."""
    folder = tmp_path / "cifar10_transfer"
    shutil.copytree(ASSIGNMENT, folder, ignore=shutil.ignore_patterns("submissions"))
    rubric = folder / "assignment.toml"
    text = rubric.read_text()
    rubric.write_text(text.replace("[execution]\n", f"[execution]\n{execution}\n", 1))
    return folder


def course_venv(folder: Path, *, with_packages: bool) -> Path:
    """A course environment: its own interpreter, with (or without) the installed packages
    (Keras, ipykernel...) on its path, and never the grader."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    if with_packages:
        purelib = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # Folders named in a .pth are plain path entries: the .pth files inside them (the
        # grader's editable install among them) are not read, so the grader stays out.
        shared = [p for p in sys.path if p.endswith("site-packages")]
        (Path(purelib) / "course.pth").write_text("\n".join(shared) + "\n")
    return python


def test_the_rubric_names_the_kernels_python_and_packages(tmp_path: Path) -> None:
    folder = rubric_with(
        tmp_path, 'python = "env/bin/python"\npackages = ["pandas", "scikit-learn"]'
    )
    spec = load_assignment(folder)
    assert spec.python == str(folder / "env" / "bin" / "python")
    assert spec.packages == ("pandas", "scikit-learn")
    assert load_assignment(ASSIGNMENT).python is None
    with pytest.raises(RubricError, match=r"execution.packages\[0\].*package name"):
        load_assignment(rubric_with(tmp_path / "b", 'packages = ["pandas>=2; rm -rf /"]'))


def test_declared_packages_are_checked_before_any_work(tmp_path: Path) -> None:
    spec = load_assignment(rubric_with(tmp_path, 'packages = ["pandas", "no-such-package-kenv"]'))
    with pytest.raises(KernelEnvironmentError) as raised:
        grade(EXAMPLES / "full_marks.ipynb", assignment=spec, out=tmp_path / "out", options=SMOKE)
    assert raised.value.missing == ("no-such-package-kenv",)
    assert "lacks the package(s) the rubric's [execution] packages declare" in str(raised.value)
    assert not (tmp_path / "out").exists()  # refused before anything ran or was written
    ok = load_assignment(rubric_with(tmp_path / "ok", 'packages = ["pandas", "seaborn", "tqdm"]'))
    environment.check_environment(ok)


def test_a_kernel_python_without_ipykernel_or_that_does_not_run_is_refused(
    tmp_path: Path,
) -> None:
    bare = course_venv(tmp_path / "bare", with_packages=False)
    spec = load_assignment(rubric_with(tmp_path, f'python = "{bare}"'))
    with pytest.raises(KernelEnvironmentError, match=r"has no ipykernel: install it there"):
        environment.check_environment(spec)
    missing = load_assignment(rubric_with(tmp_path / "m", f'python = "{tmp_path}/nope/python"'))
    with pytest.raises(KernelEnvironmentError, match=r"does not run"):
        environment.check_environment(missing)


@pytest.mark.notebook
def test_a_notebook_runs_in_the_courses_python_and_a_missing_package_is_named(
    tmp_path: Path,
) -> None:
    python = course_venv(tmp_path / "course", with_packages=True)
    spec = load_assignment(rubric_with(tmp_path, f'python = "{python}"'))
    nb = nbformat.read(EXAMPLES / "full_marks.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.source = "import sys\nprint('kernel', sys.executable)\nimport kenv_course_plots\n" + (
        first.source
    )
    path = tmp_path / "plots.ipynb"
    nbformat.write(nb, path)
    result = grade(path, assignment=spec, out=tmp_path / "out", options=SMOKE)
    executed = json.loads((tmp_path / "out" / "plots" / "executed.ipynb").read_text())
    printed = "".join(
        "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])
    )
    assert f"kernel {python}" in printed
    cause = (
        "cell 1 failed: No module named 'kenv_course_plots' — the grading environment lacks "
        "package kenv_course_plots"
    )
    assert result.outcome == "missing_module"
    assert [i.cell for i in result.incidents] == [1]
    taken_down = [c for c in result.checks if c.details.get("missing")]
    assert taken_down and all(cause in c.message for c in taken_down)
