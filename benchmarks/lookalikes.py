"""Look-alike finder at class scale: N synthetic submissions on disk, a few planted copies.

    python benchmarks/lookalikes.py [--count 300] [--plants 6] [--runs 3]

Each run writes nothing but a temporary output folder: one ``executed.ipynb`` per student
(independent work from the standard library's sources and docstrings, see
``tests/review_synthetic.py``), then times what ``grader grade`` and ``grader review`` do with
it: read every notebook, fingerprint, index, pair, write ``lookalikes.json``. Prints the load
average before and after, since this machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.lookalikes.finder import find_in_folder, read_notebook_cells
from grader.lookalikes.fingerprints import cell_prints
from tests.review.synthetic import synthetic_class

TEMPLATE = Path(__file__).resolve().parent.parent / "assignments/cifar10_transfer/student.ipynb"


def write_class(out: Path, count: int, plants: int) -> set[tuple[str, str]]:
    template = read_notebook_cells(TEMPLATE)
    students, planted = synthetic_class(count, plants, template)
    for sid, cells in students.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(c.source)
            if c.kind == "code"
            else nbformat.v4.new_markdown_cell(c.source)
            for c in cells
        ]
        (out / sid).mkdir(parents=True)
        nbformat.write(nb, out / sid / "executed.ipynb")
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--plants", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="lookalikes-") as tmp:
        out = Path(tmp)
        planted = write_class(out, args.count, args.plants)
        students = sorted(p.name for p in out.iterdir())
        for run in range(1, args.runs + 1):
            cell_prints.cache_clear()  # every run starts cold, as a new `grader grade` does
            started = time.perf_counter()
            found = find_in_folder(out, students, template=TEMPLATE)
            seconds = time.perf_counter() - started
            pairs = {(p.a, p.b) for p in found.pairs}
            missed = {p for p in planted if p not in pairs}
            extra = sorted(p for p in pairs if p not in planted)
            print(
                f"run {run}: {args.count} submissions in {seconds:.2f} s; "
                f"{len(found.pairs)} pairs, planted {len(planted)}, missed {len(missed)}, "
                f"other pairs {extra}"
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
