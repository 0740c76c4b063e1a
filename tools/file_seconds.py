"""Write tests/file_seconds.json from a whole-suite run: its ``--durations=0`` log, or the
JUnit XML file it wrote (``--junitxml``, which ``make test`` takes through ``PYTEST_ADDOPTS``).

The parallel test run hands out the longest files first (tests/scheduling.py); this is where
it learns how long each file takes. After adding or speeding up a notebook test file:

    PYTEST_ADDOPTS=--junitxml=suite.xml make test
    .venv/bin/python tools/file_seconds.py suite.xml
"""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\s*(?P<seconds>\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(?P<file>[^:\s]+)::")


def file_seconds(log: str) -> dict[str, float]:
    """Seconds per test file: every setup, call and teardown that pytest listed, added up.

    Returns:
        Files by path, the longest first, rounded to a tenth of a second.

    Example:
        >>> file_seconds("  3.10s call     tests/a.py::test_x\\n0.50s setup    tests/a.py::t")
        {'tests/a.py': 3.6}
    """
    total: dict[str, float] = {}
    for line in log.splitlines():
        if found := LINE.match(line):
            file = found["file"]
            total[file] = total.get(file, 0.0) + float(found["seconds"])
    return _ranked(total)


def junit_seconds(xml: str, root: Path = ROOT) -> dict[str, float]:
    """Seconds per test file from a JUnit XML report (each test case's setup, call and
    teardown together), in :func:`file_seconds`' form.

    A case's ``classname`` is its module's dotted path, then its class if it has one: the file
    is the longest prefix that names a file under ``root``.
    """
    # Our own test run's report, not input from anyone else.
    cases = ElementTree.fromstring(xml).iter("testcase")  # noqa: S314
    total: dict[str, float] = {}
    for case in cases:
        parts = case.get("classname", "").split(".")
        files = ("/".join(parts[:n]) + ".py" for n in range(len(parts), 0, -1))
        file = next((f for f in files if (root / f).is_file()), None)
        if file is not None:
            total[file] = total.get(file, 0.0) + float(case.get("time", 0))
    return _ranked(total)


def _ranked(total: dict[str, float]) -> dict[str, float]:
    """Files by path, the longest first, rounded to a tenth of a second."""
    return {f: round(s, 1) for f, s in sorted(total.items(), key=lambda fs: (-fs[1], fs[0]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "log", type=Path, help="output of pytest --durations=0, or its --junitxml file (.xml)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "file_seconds.json")
    args = parser.parse_args()
    text = args.log.read_text(encoding="utf-8", errors="replace")
    seconds = junit_seconds(text) if args.log.suffix == ".xml" else file_seconds(text)
    if not seconds:
        raise SystemExit(f"{args.log}: no durations found (was it run with --durations=0?)")
    args.out.write_text(json.dumps(seconds, indent=1) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(seconds)} files, {sum(seconds.values()):.0f} s in all")


if __name__ == "__main__":
    main()
