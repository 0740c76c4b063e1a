"""tools/file_seconds.py: where the longest-first test scheduler learns each file's seconds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import ROOT

# A script, not a package: loaded from its file, leaving sys.path as it is for other tests.
_spec = importlib.util.spec_from_file_location("file_seconds", ROOT / "tools" / "file_seconds.py")
assert _spec is not None and _spec.loader is not None
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def test_a_junit_report_gives_each_files_seconds_classes_and_packages_included(
    tmp_path: Path,
) -> None:
    (tmp_path / "tests" / "judge").mkdir(parents=True)
    (tmp_path / "tests" / "test_a.py").touch()
    (tmp_path / "tests" / "judge" / "test_b.py").touch()
    xml = """<testsuites><testsuite name="pytest">
      <testcase classname="tests.test_a" name="test_one" time="3.25"/>
      <testcase classname="tests.test_a.TestGroup" name="test_two" time="1.5"/>
      <testcase classname="tests.judge.test_b" name="test_three[x]" time="10.0"/>
      <testcase classname="grader.module" name="grader.module.function" time="0.5"/>
    </testsuite></testsuites>"""
    expected = {"tests/judge/test_b.py": 10.0, "tests/test_a.py": 4.8}
    assert tool.junit_seconds(xml, tmp_path) == expected


def test_a_durations_log_gives_the_same_figures() -> None:
    log = "10.00s setup    tests/judge/test_b.py::t\n  3.25s call     tests/test_a.py::x\n"
    assert tool.file_seconds(log) == {"tests/judge/test_b.py": 10.0, "tests/test_a.py": 3.2}
