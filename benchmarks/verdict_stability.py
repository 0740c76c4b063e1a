"""Do accuracy verdicts hold up? Pass rates of a correct and an untrained notebook over seeds.

For each assignment and budget, grades its full-marks example (the solution) and an untrained
variant of it (the same notebook with ``keras.Model.fit`` made a no-op in a first cell) under
``--seeds`` seeds: the rubric's seed, plus 1, plus 2 ... Each seed changes the data set, the
held-back images, the kernel's and the reference's training, so each is a fresh calibration
(cached afterwards). Prints, per accuracy check, how many seeds passed, failed, or were
``not_judged`` (with the rubric's consequence). The goal: the solution passes every seed, the
untrained variant fails every seed, or the check says it cannot be judged at that budget.

    python benchmarks/verdict_stability.py [--seeds 10] [--budgets smoke standard]
        [--assignments cifar10_transfer ...]

Costly: every (assignment, budget, seed) trains the reference and runs two notebooks. On a
2-core machine, one cifar10_transfer seed at smoke takes about two minutes.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.options import GradeOptions  # noqa: E402
from grader.pipeline import grade  # noqa: E402
from grader.rubric.load import available, load_assignment  # noqa: E402

UNTRAINED = """\
import keras
# The untrained variant: every fit returns at once, so every model keeps its initial weights.
keras.Model.fit = lambda self, *args, **kwargs: None
"""


def untrained(notebook: Path, out: Path) -> Path:
    """The notebook with a first cell that makes ``fit`` a no-op."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(UNTRAINED))
    path = out / f"untrained_{notebook.stem}.ipynb"
    nbformat.write(nb, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budgets", nargs="+", default=["smoke", "standard"])
    parser.add_argument("--assignments", nargs="+", default=available())
    args = parser.parse_args()
    print(f"load: {os.getloadavg()}; seeds {args.seeds}; budgets {args.budgets}")
    tally: dict[tuple[str, str, str, str], collections.Counter[str]] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="verdicts-") as tmp:
        for name in args.assignments:
            spec = load_assignment(name)
            solution = spec.folder / "submissions" / "full_marks.ipynb"
            variants = {"solution": solution, "untrained": untrained(solution, Path(tmp))}
            for budget in args.budgets:
                for i in range(args.seeds):
                    seeded = dataclasses.replace(spec, seed=spec.seed + i)
                    for variant, path in variants.items():
                        out = Path(tmp) / f"{name}-{budget}-{i}-{variant}"
                        result = grade(
                            path,
                            assignment=seeded,
                            out=out,
                            options=GradeOptions(budget=budget),
                        )
                        statuses = []
                        for check in result.checks:
                            if next(c for c in spec.checks if c.id == check.id).kind != "accuracy":
                                continue
                            status: str = check.status
                            if status == "not_judged":
                                awarded = check.details.get("awarded")
                                status = f"not_judged ({'awarded' if awarded else 'withheld'})"
                            key = (name, budget, check.id, variant)
                            tally.setdefault(key, collections.Counter())[status] += 1
                            statuses.append(f"{check.id} {status}")
                        # Each grade's line carries its verdicts: a run cut short still tells.
                        print(
                            f"{name} {budget} seed {seeded.seed} {variant}: "
                            f"{result.score:g}/{result.max_score:g}; {', '.join(statuses)}; "
                            f"load {os.getloadavg()[0]:.1f}",
                            flush=True,
                        )
    print(f"\n{time.monotonic() - started:.0f} s; load now {os.getloadavg()}\n")
    print("| assignment | budget | check | solution passes | untrained passes | not judged |")
    print("|---|---|---|---|---|---|")
    for name, budget, check_id in sorted({k[:3] for k in tally}):
        sol = tally.get((name, budget, check_id, "solution"), collections.Counter())
        unt = tally.get((name, budget, check_id, "untrained"), collections.Counter())
        unjudged = {k: v for k, v in (sol + unt).items() if k.startswith("not_judged")}
        print(
            f"| {name} | {budget} | {check_id} | {sol['pass']}/{sum(sol.values())} | "
            f"{unt['pass']}/{sum(unt.values())} | "
            f"{', '.join(f'{v} {k}' for k, v in unjudged.items()) or '-'} |"
        )


if __name__ == "__main__":
    main()
