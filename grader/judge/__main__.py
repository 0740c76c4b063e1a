"""The judge: a process of its own that loads a student's artefacts and runs the rubric's checks.

The grader never deserialises what a student's kernel wrote; this process does, confined like
the kernel (no network, no writable path but a private ``/tmp``, an unprivileged identity of
its own, memory, CPU and time limits; see :mod:`grader.judge.process`). It is started early, imports
Keras while the notebook runs, then reads one request from stdin (JSON, written by the grader
before the notebook runs: nothing in it comes from the submission) and loads the rubric, the
data and the held-back images it names, still while the notebook runs. It reads the evidence
only once a second line, ``judge``, says the notebook has finished and the evidence is in
place, and writes its findings to stdout as JSON lines, one per check as soon as it is
judged::

    {"check": {"id": ..., "status": ..., "message": ..., "details": {...}}}
    {"artefacts": {"fits": [...], "role_variables": {...}, "notes": [...]}}
    {"done": true}

so a judge stopped at its time limit still returns the checks it finished. The grader
validates every line against the rubric before any of it reaches a result
(:mod:`grader.judge.process`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import typing as t
from pathlib import Path

import numpy as np


def _emit(out: t.TextIO, message: dict[str, t.Any]) -> None:
    out.write(json.dumps(message, allow_nan=False, default=_plain) + "\n")
    out.flush()


def _plain(value: t.Any) -> t.Any:
    """numpy scalars and tuples in check details, as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


GO = "judge"
"""The line after the request that says the evidence is complete (see
:meth:`grader.judge.process.Judge.run`)."""


@dataclasses.dataclass(frozen=True)
class Prepared:
    """What the judge loads from a request before any evidence exists."""

    request: dict[str, t.Any]
    spec: t.Any
    """The rubric (:class:`grader.rubric.Assignment`)."""
    given: t.Any
    """The data the kernel was given (:class:`grader.data.sets.Dataset`)."""
    held_out: t.Any
    """The held-back images (:class:`grader.data.sets.HeldOut`)."""
    figures: dict[str, float]
    """The reference's calibrated figures (its accuracies, their spreads, its costs)."""


def prepare(request: dict[str, t.Any]) -> Prepared:
    """Parse the request's rubric and load its data and held-back images (no evidence read)."""
    import grader.checks.base  # noqa: F401  (the checks' modules, imported while waiting)
    from grader.artefacts.arrays import mapped_arrays
    from grader.checks.cost import prepare_reference_costs
    from grader.data.sets import DATA_CLASS_NAMES, Dataset, HeldOut
    from grader.rubric.load import parse_assignment

    spec = parse_assignment(request["rubric"], Path(request["rubric_path"]), check_files=False)
    data = request["dataset"]
    arrays = mapped_arrays(Path(request["data"]))  # shared by the batch's judges, not copied
    given = Dataset(
        name=spec.dataset,
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        source=data["source"],
        description=data["description"],
        class_names=DATA_CLASS_NAMES[spec.dataset],
    )
    arrays = mapped_arrays(Path(request["held_out"]))
    held_out = HeldOut(x=arrays["x"], y=arrays["y"])
    # Builds the reference's models (seconds for VGG19) unless calibration measured them.
    figures = {str(k): float(v) for k, v in request["reference_figures"].items()}
    prepare_reference_costs(spec, figures)
    return Prepared(request, spec, given, held_out, figures)


def judge(request: dict[str, t.Any] | Prepared, out: t.TextIO) -> None:
    """Run every check of the request's rubric on its artefacts; write the findings to ``out``."""
    from grader.checks.base import CheckContext, run_check
    from grader.framework import framework_of

    prepared = request if isinstance(request, Prepared) else prepare(request)
    spec, given, held_out = prepared.spec, prepared.given, prepared.held_out
    request = prepared.request
    artefacts = framework_of(spec).read_artefacts(
        Path(request["artefacts"]), spec, max_bytes=int(request["max_bytes"])
    )
    ctx = CheckContext(
        artefacts,
        spec,
        given,
        held_out,
        spec.plan(request["budget"]),
        prepared.figures,
        pretrained_available=bool(request["pretrained_available"]),
    )
    for check in spec.checks:
        result = run_check(check, ctx)
        _emit(
            out,
            {
                "check": {
                    "id": result.id,
                    "status": result.status,
                    "message": result.message,
                    "details": result.details,
                }
            },
        )
    _emit(
        out,
        {
            "artefacts": {
                "fits": [dataclasses.asdict(f) for f in artefacts.fit_records()],
                "role_variables": artefacts.role_variables,
                "notes": artefacts.notes,
            }
        },
    )
    _emit(out, {"done": True})


def main(argv: list[str] | None = None) -> int:
    """Judge one request read from stdin; ``argv`` (else the command line's) names the
    framework imported first, while the notebook runs: ``--framework torch`` or Keras."""
    argv = sys.argv[1:] if argv is None else argv
    framework: t.Literal["keras", "torch"] = (
        "torch" if argv == ["--framework", "torch"] else "keras"
    )
    # Findings go to stdout and nothing else may: Keras and TensorFlow print to it.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    from grader.framework import framework_named

    framework_named(framework).warm_judge()
    line = sys.stdin.readline()
    if not line:
        return 0  # the grader had nothing to judge (the notebook was refused)
    # Loaded while the notebook still runs; the evidence is read only after the go.
    prepared = prepare(json.loads(line))
    if sys.stdin.readline().strip() != GO:
        return 0  # the notebook could not be run to its end: nothing to judge
    judge(prepared, out)
    # The findings are all written: the grader waits for this process to end, and a Python
    # that has TensorFlow loaded takes seconds to tear it down (measured 4-5 s at load 12,
    # 0.1-0.2 s without). Nothing is left to release that the sandbox does not remove.
    out.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
