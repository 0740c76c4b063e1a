"""This grader against a real nbgrader ``autograde`` of the same notebooks, side by side.

nbgrader 0.9 comes from PyPI into an environment of its own, with the same TensorFlow and Keras
as the grader's (nbgrader executes notebooks in its own Python's kernel): ``make
bench-nbgrader`` makes it (``.nbgrader-venv``) and runs::

    python benchmarks/nbgrader_compare.py --nbgrader .nbgrader-venv/bin [--count 8] [--jobs 2]

The hand-in is batch_throughput's: ``--count`` notebooks cycling through cifar10_transfer's
example submissions. The grader grades it at ``--budget`` (standard) with ``-j --jobs``, its
reference calibrated beforehand as for any class after its first submission. nbgrader gets an
nbgrader course of the same notebooks (the student notebook as the released source, one student
per notebook) and runs ``nbgrader autograde``, which executes each notebook as written, one after
the other: full data, every epoch. Its only change to the notebooks is the cell in front that
grading_speed's full execution uses (``cifar10.load_data`` reads the grader's data set from a
file: Keras cannot download CIFAR-10 here), so both see the same images and neither touches the
network. nbgrader's autograde has no test cells to run here: its time is the execution alone,
a lower bound for a real nbgrader assignment. Goal (issue 15): the grader >= 10x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from batch_throughput import busy_seconds, make_hand_in, timed_grade
from grading_speed import OFFLINE_DATA, OFFLINE_WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "cifar10_transfer"
CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "benchmark"
c.CourseDirectory.root = {root!r}
c.ExecutePreprocessor.timeout = 7200
"""


def nbgrader_course(root: Path, hand_in: Path, data_file: Path) -> list[str]:
    """An nbgrader course whose assignment ``ps1`` has one submission per hand-in notebook."""
    prelude = OFFLINE_DATA.format(path=str(data_file), dataset="cifar10") + OFFLINE_WEIGHTS
    (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root)))
    source = root / "source" / "ps1"
    source.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / ASSIGNMENT / "student.ipynb", source / "ps1.ipynb")
    students = []
    for notebook in sorted(hand_in.glob("*.ipynb")):
        nb = json.loads(notebook.read_text())
        nb["cells"].insert(
            0,
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": prelude,
            },
        )
        folder = root / "submitted" / notebook.stem / "ps1"
        folder.mkdir(parents=True)
        (folder / "ps1.ipynb").write_text(json.dumps(nb))
        students.append(notebook.stem)
    return students


def nbgrader(bin_dir: Path, root: Path, *args: str, check: bool = True) -> str:
    """Run ``nbgrader ARGS`` in the course ``root``; its output. ``check``: a failure ends the
    benchmark (else its errors are printed and the run goes on)."""
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(root / "home"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.pop("GRADER_CACHE_DIR", None)
    done = subprocess.run(
        [str(bin_dir / "nbgrader"), *args], cwd=root, env=env, capture_output=True, text=True
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        # nbgrader's error lines and the exceptions' last lines, not TensorFlow's chatter.
        errors = "\n".join(line for line in output.splitlines() if "error" in line.lower())
        if check:
            raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{errors[-3000:]}")
        print(f"nbgrader {' '.join(args)} exited with {done.returncode}:\n{errors[-3000:]}")
    return output


def _import_failed(notebook: Path) -> bool:
    """Whether a cell of an executed notebook failed to import a module."""
    cells = json.loads(notebook.read_text())["cells"]
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return any(o.get("ename") in ("ModuleNotFoundError", "ImportError") for o in errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nbgrader", type=Path, required=True, help="bin folder of nbgrader")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--budget", default="standard")
    args = parser.parse_args()
    # nbgrader runs from inside its course folder: a relative path would no longer lead to it.
    args.nbgrader = args.nbgrader.absolute()
    if not (args.nbgrader / "nbgrader").is_file():
        raise SystemExit(f"no nbgrader in {args.nbgrader}; see this script's docstring")

    from grader.data import sets as data
    from grader.options import GradeOptions
    from grader.pipeline import prepare_reference
    from grader.rubric.load import load_assignment

    print(f"load before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-") as tmp:
        tmp_path = Path(tmp)
        os.environ["GRADER_CACHE_DIR"] = str(tmp_path / "cache")
        hand_in = tmp_path / "hand-in"
        make_hand_in(hand_in, args.count)
        prepare_reference(assignment=ASSIGNMENT, options=GradeOptions(budget=args.budget))
        run = timed_grade(
            hand_in, tmp_path / "out", "-j", str(args.jobs), "--force", budget=args.budget
        )
        wall, cpu = run.seconds, run.busy * run.seconds
        print(f"grader, {args.budget}, -j {args.jobs}: {wall:.1f} s ({cpu:.0f} CPU s)", flush=True)

        spec = load_assignment(ASSIGNMENT)
        data_file = tmp_path / "cifar10.npz"
        data.write_npz(data.load(spec.dataset, seed=spec.seed), data_file)
        course = tmp_path / "nbgrader"
        (course / "home").mkdir(parents=True)
        students = nbgrader_course(course, hand_in, data_file)
        nbgrader(args.nbgrader, course, "generate_assignment", "ps1", "--force")
        for student in students:
            nbgrader(args.nbgrader, course, "db", "student", "add", student)
        started, machine_before = time.monotonic(), psutil.cpu_times()
        # A notebook that fails as written (an example submission may) fails nbgrader's run
        # too; the others are still graded, and counted below.
        nbgrader(args.nbgrader, course, "autograde", "ps1", "--force", check=False)
        nb_wall, nb_cpu = time.monotonic() - started, busy_seconds(machine_before)
        autograded = list((course / "autograded").glob("*/ps1/ps1.ipynb"))
        graded = len(autograded)
        failed = [path.parts[-3] for path in autograded if _import_failed(path)]
        if failed:
            # A notebook whose imports failed raised at every later cell and took nbgrader no
            # time to run: its figure would flatter nbgrader, not measure it. (Some examples
            # raise by design, after their work: those count.)
            raise SystemExit(f"imports failed under nbgrader ({', '.join(failed)}): fix its env")
        print(f"nbgrader autograde: {nb_wall:.1f} s ({nb_cpu:.0f} CPU s), {graded} notebooks")
    print(f"load after: {os.getloadavg()}")
    # CPU seconds of the whole machine (the grader's kernels run in PID namespaces of their
    # own, out of reach of rusage): on a shared machine they include the others' work too.
    print("\n| run | notebooks | wall s | machine CPU s | wall s per notebook |")
    print("|---|---|---|---|---|")
    print(
        f"| grader {args.budget}, -j {args.jobs} | {args.count} | {wall:.1f} | {cpu:.0f} | "
        f"{wall / args.count:.1f} |"
    )
    print(
        f"| nbgrader 0.9 autograde | {graded} | {nb_wall:.1f} | {nb_cpu:.0f} | "
        f"{nb_wall / graded:.1f} |"
    )
    wall_ratio = nb_wall / graded / (wall / args.count)
    cpu_ratio = nb_cpu / graded / (cpu / args.count)
    print(f"\nnbgrader / grader: {wall_ratio:.1f}x wall, {cpu_ratio:.1f}x CPU (goal >= 10x)")


if __name__ == "__main__":
    main()
