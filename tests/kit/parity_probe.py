"""Run example notebooks' code under the grader's kernel runtime, then judge them both ways.

Usage: ``python -m tests.kit.parity_probe KIT OUT.json ASSIGNMENT=NOTEBOOK...``

For each notebook (of any of the kit's assignments), in this one process (a subprocess of the
test, since the runtime patches Keras): the grader's kernel runtime is installed as the setup
cell installs it (the kit's data served, a tiny training budget, fit records and snapshots
written), the notebook's code cells run in a fresh namespace (a failing cell is skipped, as in
a kernel), then

- ``kit.check(namespace)`` judges the live models (the in-notebook path), and
- the runtime's ``finish`` saves the artefacts, which are read back by the judge's
  ``read_artefacts`` and judged by the production checks (the grading path).

Both verdicts, status and message, go to OUT.json, by assignment then notebook. One process
for every assignment's examples: Keras and the grader are imported once, not once per
assignment (seconds of CPU each).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:
    from grader.rubric import Assignment


def _code(source: str) -> str:
    # IPython syntax (magics, shell escapes) is not Python; the examples use none that matter.
    return "\n".join(
        "pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def main(kit: Path, out: Path, notebooks: list[tuple[str, Path]]) -> None:
    from grader.course import use_course
    from grader.rubric.load import load_assignment

    use_course(kit)
    found: dict[str, dict[str, dict[str, dict[str, list[str]]]]] = {}
    for assignment, notebook in notebooks:
        spec = load_assignment(assignment)
        assert spec.kit is not None
        # The artefacts of a VGG19 example are hundreds of megabytes: gone once judged.
        with tempfile.TemporaryDirectory(prefix="kit-parity-") as folder:
            found.setdefault(assignment, {})[notebook.stem] = _judge_both_ways(
                spec, assignment, notebook, Path(folder)
            )
    out.write_text(json.dumps(found, indent=1))


def _judge_both_ways(
    spec: Assignment, assignment: str, notebook: Path, artefacts: Path
) -> dict[str, dict[str, list[str]]]:
    from grader.artefacts.folder import read_artefacts
    from grader.checks.base import CheckContext, run_check
    from grader.kernel import runtime
    from grader.kit import live

    data = live.run_in_process(
        spec,
        {"name": "smoke", "max_epochs": 1, "max_train_samples": 64, "max_eval_samples": 64},
        artefacts,
    )
    namespace: dict[str, object] = {"__name__": "__main__"}
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(_code(cell.source), str(notebook), "exec"), namespace)
        except Exception:
            traceback.print_exc(limit=1)
    report = live.check(namespace, assignment=assignment)
    runtime.finish(namespace)
    ctx = CheckContext(
        read_artefacts(artefacts), spec, data.visible, data.held_out, spec.plan("smoke"), {}
    )
    graded = {c.id: run_check(c, ctx) for c in spec.checks}
    return {
        "live": {c.id: [c.status, c.message] for c in report.checks},
        "graded": {i: [c.status, c.message] for i, c in graded.items()},
    }


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    kit_folder, out_file, *pairs = sys.argv[1:]
    main(
        Path(kit_folder),
        Path(out_file),
        [(name, Path(path)) for name, path in (pair.split("=", 1) for pair in pairs)],
    )
