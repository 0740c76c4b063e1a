"""Installing a student kit offline into a course environment: time, disk, and whether it works.

    python benchmarks/kit_install.py [--grader-wheel WHEEL]

Builds the wheels folder of a kit from this checkout (the grader's wheel and the wheels
:mod:`grader.kit.wheels` ships; no calibration, which the install does not need), makes a fresh
course environment (TensorFlow, Keras, Jupyter and notebook libraries only: see
``tests/kit/course_env.py``) and times ``pip install --no-index --find-links WHEELS
keras-notebook-grader`` in it, then the disk it added to the environment. With
``--grader-wheel``, the wheels folder holds that wheel alone, as a kit held before the kit
carried its dependencies (build one from another checkout with ``pip wheel --no-deps``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.kit.build import _wheel
from grader.kit.wheels import ship
from tests.kit.course_env import make_course_env, run

PIP_OFFLINE = ["-m", "pip", "install", "--no-index", "--find-links"]


def disk(folder: Path) -> int:
    """Bytes under ``folder``, links not followed (the course's packages are links)."""
    total = 0
    for dirpath, _, names in os.walk(folder):
        total += sum(os.lstat(os.path.join(dirpath, n)).st_size for n in names)
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grader-wheel", type=Path, default=None)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="kit-install-") as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        started = time.monotonic()
        if args.grader_wheel is not None:
            shutil.copy(args.grader_wheel, wheels)
        else:
            ship(_wheel(wheels, None), wheels)
        built = time.monotonic() - started
        files = sorted(wheels.glob("*.whl"))
        print(
            f"wheels: {len(files)} ({disk(wheels) / 1e6:.1f} MB), made in {built:.1f} s: "
            + ", ".join(f.name.split("-")[0] for f in files)
        )
        course = make_course_env(Path(tmp) / "env")
        before = disk(course.site)
        started = time.monotonic()
        done = run(
            [
                str(course.python),
                "-m",
                "pip",
                "install",
                "--no-index",
                "--find-links",
                str(wheels),
                "keras-notebook-grader",
            ],
            Path(tmp),
            course.env(),
        )
        seconds = time.monotonic() - started
        outcome = "installed" if done.returncode == 0 else "FAILED"
        last = (done.stdout + done.stderr).strip().splitlines()[-1:]
        print(f"pip install: {outcome} in {seconds:.1f} s ({' '.join(last)})")
        print(f"disk added to the environment: {(disk(course.site) - before) / 1e6:.1f} MB")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
