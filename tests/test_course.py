"""The course folder: found by --course, $GRADER_COURSE, the config file, else the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import course
from grader.cli import main
from grader.exceptions import CourseError
from tests.conftest import ROOT


def copy_course(dest: Path, *assignments: str) -> Path:
    """A course folder outside the checkout: some assignments and the reference package."""
    for name in assignments:
        shutil.copytree(
            ROOT / "assignments" / name,
            dest / "assignments" / name,
            ignore=shutil.ignore_patterns("submissions"),
        )
    shutil.copytree(
        ROOT / "reference", dest / "reference", ignore=shutil.ignore_patterns("__pycache__")
    )
    return dest


def probe(code: str, env: dict[str, str], cwd: Path) -> str:
    """Run ``code`` in a fresh interpreter that imports this checkout's grader."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No course chosen, no variable, an empty config folder."""
    monkeypatch.setattr(course, "_chosen", None)
    # Set, then removed: monkeypatch then removes on undo what `--course` sets in a test, so
    # no later test in this process grades against this test's course.
    monkeypatch.setenv(course.ENV, "")
    monkeypatch.delenv(course.ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def test_the_checkout_is_the_default_course(isolated: Path) -> None:
    assert course.course_root() == ROOT.resolve()


def test_the_variable_then_the_config_file_name_the_course(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = course.config_file()
    config.parent.mkdir(parents=True)
    config.write_text(f'course = "{isolated / "from-config"}"\n')
    assert course.course_root() == (isolated / "from-config").resolve()
    monkeypatch.setenv(course.ENV, str(isolated / "from-env"))
    assert course.course_root() == (isolated / "from-env").resolve()
    config.write_text("course = 3\n")
    monkeypatch.delenv(course.ENV)
    with pytest.raises(CourseError, match="must be a folder name"):
        course.course_root()


def test_without_any_course_the_error_says_how_to_name_one(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(course, "_checkout", lambda: None)
    from grader.rubric.load import available, load_assignment

    assert available() == []
    with pytest.raises(CourseError, match="--course DIR"):
        load_assignment("cifar10_transfer")


def test_use_course_refuses_a_folder_without_assignments(isolated: Path) -> None:
    with pytest.raises(CourseError, match="not a course folder"):
        course.use_course(isolated)


def test_cli_course_option_lists_that_course_only(isolated: Path) -> None:
    folder = copy_course(isolated / "course", "mnist_transfer")
    result = CliRunner().invoke(main, ["--course", str(folder), "list"])
    assert result.exit_code == 0, result.output
    assert "mnist_transfer" in result.output and "cifar10_transfer" not in result.output
    bad = CliRunner().invoke(main, ["--course", str(isolated), "list"])
    assert bad.exit_code == 2 and "not a course folder" in bad.output


def test_a_course_outside_the_checkout_imports_its_own_reference(tmp_path: Path) -> None:
    """The rubric, the reference source (cache keys) and the reference module itself all come
    from the course folder, not from the checkout the grader runs from."""
    folder = copy_course(tmp_path / "course", "cifar10_transfer")
    marker = "# a course of its own\n"
    ref = folder / "reference" / "cifar10_transfer.py"
    ref.write_text(marker + ref.read_text())
    code = (
        "import json; from grader.rubric.load import load_assignment; "
        "from grader.calibrate import reference_source; "
        "a = load_assignment('cifar10_transfer'); m = a.reference_module(); "
        "print(json.dumps([str(a.folder), m.__file__, "
        "reference_source(a).startswith(b'# a course'), str(a.reference_dir())]))"
    )
    out = json.loads(probe(code, {course.ENV: str(folder)}, tmp_path))
    assert out == [
        str(folder / "assignments" / "cifar10_transfer"),
        str(ref),
        True,
        str(folder / "reference"),
    ]


def test_course_material_covers_the_configured_course(tmp_path: Path) -> None:
    folder = copy_course(tmp_path / "course", "mnist_transfer")
    code = (
        "import json; from grader.sandbox.filesystem import course_material; "
        "print(json.dumps([str(p) for p in course_material()]))"
    )
    hidden = json.loads(probe(code, {course.ENV: str(folder)}, tmp_path))
    for path in (folder, folder / "assignments", folder / "reference"):
        assert str(path.resolve()) in hidden


@pytest.mark.skipif(
    not __import__("grader.sandbox.confine", fromlist=["x"]).namespaces_available(),
    reason="this machine does not allow namespaces",
)
def test_a_course_on_the_python_path_is_covered_in_every_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instructor who puts the course folder on PYTHONPATH (to import its reference) shows
    it to every sandbox as part of Python's path; its assignments and reference stay covered."""
    from grader.sandbox.confine import SandboxOptions, confine

    folder = copy_course(tmp_path / "course", "mnist_transfer")
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.setenv(course.ENV, str(folder))
    monkeypatch.setattr(course, "_chosen", None)
    (tmp_path / "work").mkdir()
    with confine(SandboxOptions(), mounts=[], workdir=tmp_path / "work") as box:
        run = subprocess.run(
            box.command(
                ["/bin/sh", "-c", f"ls {folder}; ls {folder}/assignments; ls {folder}/reference"]
            ),
            env=box.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    listed = run.stdout.split()
    assert "assignments" in listed  # the folder is shown: it is on Python's path
    assert "mnist_transfer" not in listed and "mnist_transfer.py" not in listed
