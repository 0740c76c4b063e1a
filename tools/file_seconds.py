"""Write tests/file_seconds.json from the log of a whole-suite run with ``--durations=0``.

The parallel test run hands out the longest files first (tests/scheduling.py); this is where
it learns how long each file takes. After adding or speeding up a notebook test file:

    .venv/bin/python -m pytest -n auto --dist loadfile --durations=0 | tee durations.log
    .venv/bin/python tools/file_seconds.py durations.log
"""

from __future__ import annotations

import argparse
import json
import re
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
    return {f: round(s, 1) for f, s in sorted(total.items(), key=lambda fs: (-fs[1], fs[0]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="output of pytest --durations=0")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "file_seconds.json")
    args = parser.parse_args()
    seconds = file_seconds(args.log.read_text(encoding="utf-8", errors="replace"))
    if not seconds:
        raise SystemExit(f"{args.log}: no durations found (was it run with --durations=0?)")
    args.out.write_text(json.dumps(seconds, indent=1) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(seconds)} files, {sum(seconds.values()):.0f} s in all")


if __name__ == "__main__":
    main()
