"""The pipeline for one submission: rubric -> execute -> capture -> check -> report.

Library first: :func:`grade` and :func:`check` are what the CLI calls.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import platform
import secrets
import tempfile
import time
import typing as t
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import nbformat

from grader import data as datasets
from grader import sandbox
from grader.budget import Budget
from grader.calibrate import cache_dir, calibration, data_fingerprint
from grader.evidence import MAX_EVIDENCE_BYTES, EvidenceCollector
from grader.exceptions import InputError, InvalidNotebookError, NotANotebookError
from grader.execute import Execution, run_notebook, strip_ansi
from grader.feedback import View, warning_notices
from grader.flags import accuracy_flags
from grader.judge import Judge, judge_argv
from grader.kernel_code import finish_code, setup_code
from grader.limits import MB
from grader.locked_cells import describe as describe_locked
from grader.locked_cells import restore_locked
from grader.outcomes import outcome_of
from grader.pretrained import PretrainedWeights, find_weights
from grader.report import write_reports
from grader.results import CheckResult, DataInfo, GradeResult, Incident, write_atomic
from grader.review.answers import collect_answers, missing_answers
from grader.rubric import Assignment, load_assignment
from grader.secret import grader_secret

METADATA_KEY = "grader"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a submission.

    Raises:
        InputError: the path does not exist or is a folder.
        NotANotebookError: wrong suffix, not UTF-8 text, or not a JSON object.
        InvalidNotebookError: a JSON object (or text opening like one) that is corrupt or is
            not a valid nbformat 4 notebook.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the notebook file")
    if path.suffix != ".ipynb":
        raise NotANotebookError.from_path(path, f"the name ends in {path.suffix or 'nothing'!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NotANotebookError.from_path(path, "not UTF-8 text") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        # A notebook cut short or edited by hand still opens like one; anything else is not one.
        error = InvalidNotebookError if text.lstrip().startswith("{") else NotANotebookError
        raise error.from_path(path, f"invalid JSON at line {exc.lineno}") from exc
    if not isinstance(raw, dict):
        raise NotANotebookError.from_path(path, f"JSON {type(raw).__name__}, not an object")
    try:
        nb: nbformat.NotebookNode = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types for a malformed file
        raise InvalidNotebookError.from_path(
            path, f"not nbformat 4: {str(exc).splitlines()[0]}"
        ) from exc
    return nb


def assignment_of(nb: nbformat.NotebookNode) -> str | None:
    """The assignment id written into a released notebook's metadata, if any."""
    value = nb.metadata.get(METADATA_KEY, {}).get("assignment")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class PreparedData:
    """One assignment's data, split, with the files the kernel and the judge read."""

    visible: datasets.Dataset
    """What the kernel receives."""
    held_out: datasets.HeldOut
    """What accuracy is measured on; never in the kernel."""
    kernel_file: Path
    held_out_file: Path


@functools.cache
def _prepared_data(
    dataset: str, data_dir: Path | None, seed: int, held_back: int, secret: str
) -> PreparedData:
    """Load, split and write the kernel's share of the data (and the judge's) once per process."""
    folder = cache_dir() / "data"
    ds = datasets.load(dataset, data_dir=data_dir, seed=seed, secret=secret, cache=folder)
    visible, held_out = datasets.hold_out(ds, held_back, seed, secret)
    fingerprint = data_fingerprint(visible, held_out)
    kernel_path = folder / f"kernel-{dataset}-{fingerprint}.npz"
    if not kernel_path.is_file():
        datasets.write_npz(visible, kernel_path)
    held_out_path = folder / f"held-out-{dataset}-{fingerprint}.npz"
    if not held_out_path.is_file():
        datasets.save_arrays(held_out_path, x=held_out.x, y=held_out.y)
    return PreparedData(visible, held_out, kernel_path, held_out_path)


def versions() -> dict[str, str]:
    """Versions that affect a grade, recorded in every result."""
    out = {
        name: metadata.version(dist)
        for name, dist in (
            ("grader", "keras-notebook-grader"),
            ("keras", "keras"),
            ("numpy", "numpy"),
        )
    }
    out["python"] = platform.python_version()
    try:
        out["tensorflow"] = metadata.version("tensorflow-cpu")
    except metadata.PackageNotFoundError:
        out["tensorflow"] = metadata.version("tensorflow")
    return out


def grade(
    submission: Path,
    *,
    assignment: str | Path | Assignment,
    out: Path,
    budget: str = "standard",
    cell_timeout: float | None = None,
    total_timeout: float | None = None,
    data_dir: Path | None = None,
    view: View = "instructor",
    sandbox_options: sandbox.SandboxOptions | None = None,
    weights_dir: Path | None = None,
    secret: str | None = None,
) -> GradeResult:
    """Grade one notebook and write ``result.json``, reports and the executed notebook.

    A file that is not a notebook, or a damaged one, still gets a result: every check fails
    and ``outcome`` says why (``not_a_notebook``, ``invalid_notebook``).

    Args:
        submission: the student's ``.ipynb``.
        assignment: an assignment id, folder, or an already loaded :class:`Assignment`.
        out: the submission's results go to ``out/<notebook stem>/``.
        budget: ``smoke``, ``standard`` or ``full`` (see :mod:`grader.budget`).
        cell_timeout: seconds per cell; the rubric's value when None.
        total_timeout: seconds for the whole notebook; the rubric's value when None.
        data_dir: a folder holding real ``cifar-10-batches-py``; Keras' cache when None.
        view: whom ``report.html``/``report.md`` are for: ``instructor`` (everything) or
            ``student`` (hidden checks as status and points only). ``result.json`` is always
            complete.
        sandbox_options: isolation and limits; the rubric's limits, sandbox on, when None.
        weights_dir: a folder holding the ImageNet weights files the assignment needs
            (see :mod:`grader.pretrained`); Keras' cache when None, else random weights.
        secret: the grader's secret (see :mod:`grader.secret`); this installation's when None.

    Returns:
        The result, also written to ``out/<stem>/result.json``.

    Example:
        >>> r = grade(Path("hw.ipynb"), assignment="cifar10_transfer", out=Path("out"))
        >>> r.score, r.max_score
        (100.0, 100.0)
    """
    started = time.monotonic()
    spec = assignment if isinstance(assignment, Assignment) else load_assignment(assignment)
    plan = spec.plan(budget)
    data = _prepared_data(
        spec.dataset, data_dir, spec.seed, spec.held_back, secret or grader_secret()
    )
    try:
        nb = read_notebook(Path(submission))
    except NotANotebookError as exc:
        return _refused(Path(submission), spec, plan, data, exc, out, view, started)
    options = sandbox_options or sandbox.SandboxOptions(limits=spec.limits)
    template = _released_template(spec)
    # Written answers as submitted (issue 17), before locked cells are restored.
    manual = collect_answers(spec.manual, nb.cells, template.cells)
    nb, locked_changes = restore_locked(nb, template)
    pretrained = [find_weights(name, weights_dir) for name in spec.pretrained]

    t0 = time.monotonic()
    reference = calibration(spec, plan, data.visible, data.held_out, pretrained=pretrained)
    calibrate_s = time.monotonic() - t0

    with (
        sandbox.prepare(
            options,
            submission=Path(submission),
            data=data.kernel_file,
            # Keras' cache is hidden from the kernel: it gets its own copy of the weights.
            extra_files=[spec.folder / name for name in spec.sandbox_files]
            + [w.path for w in pretrained if w.path is not None],
            hide=_hidden_from_kernel(spec, Path(submission), data_dir),
        ) as box,
        tempfile.TemporaryDirectory(prefix="grader-evidence-") as evidence_root,
    ):
        # Started first, so that its Keras import overlaps the notebook's run.
        judge = Judge(judge_argv(), sandbox.kernel_env(Path(evidence_root)))
        try:
            Path(evidence_root).chmod(0o711)
            collector = EvidenceCollector(
                box.artefacts,
                Path(evidence_root) / f"artefacts-{secrets.token_hex(8)}",
                spec.roles,
                max_file_bytes=options.limits.file_size_mb * MB,
                max_total_bytes=MAX_EVIDENCE_BYTES,
            )
            config = {
                "seed": spec.seed,
                "dataset": spec.dataset,
                "data_path": str(box.data),
                "data_note": data.visible.source,
                "budget": {"name": plan.name, **plan.limits()},
                "artefacts": str(box.artefacts),
                "roles": spec.roles,
                "variables": spec.variables,
                "pretrained": {
                    w.application: w.path and str(box.work / w.path.name) for w in pretrained
                },
            }
            execution = run_notebook(
                nb,
                workdir=box.work,
                setup=setup_code(config),
                finish=finish_code(),
                cell_timeout=cell_timeout or spec.cell_timeout,
                total_timeout=total_timeout or spec.total_timeout,
                env=sandbox.kernel_env(box.work),
                sandbox=box,
                after_cell=collector.after_cell,
            )
            collector.at_end()
            t0 = time.monotonic()
            findings = judge.run(
                _judge_request(spec, plan, data, collector.dest, reference.accuracy, pretrained),
                spec,
                timeout=spec.judge_timeout,
            )
            checks_s = time.monotonic() - t0
        finally:
            judge.close()

    stem = Path(submission).stem
    incidents = list(execution.incidents)
    if findings.problem:
        incidents.append(Incident(findings.problem, -1, findings.detail))
    result = GradeResult(
        assignment=spec.id,
        submission=stem,
        score=round(sum(c.score for c in findings.checks), 6),
        max_score=spec.max_score,
        checks=findings.checks,
        cells=execution.cells,
        fits=findings.fits,
        budget=plan.name,
        budget_limits=plan.limits(),
        data=_data_info(data.visible, data.held_out),
        seed=spec.seed,
        timings={
            "execute": execution.duration_s,
            "calibrate": calibrate_s,
            "checks": checks_s,
            "total": time.monotonic() - started,
        },
        versions=versions(),
        notices=[
            *_notices(plan, data.visible, execution, findings.role_variables),
            *warning_notices(_stderr_by_cell(execution.notebook)),
            *_sandbox_notices(options, box),
            *(w.notice() for w in pretrained),
            *(describe_locked(change) for change in locked_changes),
            *(f"Ignored: {note}" for note in [*collector.notes, *findings.notes]),
        ],
        reference_fits=reference.fits,
        outcome=outcome_of(incidents),
        incidents=incidents,
        locked_cells=locked_changes,
        flags=accuracy_flags(findings.checks, {c.id: c.kind for c in spec.checks}),
        manual=manual,
    )
    folder = Path(out) / stem
    write_reports(result, folder, view=view)
    write_atomic(folder / "executed.ipynb", nbformat.writes(execution.notebook))  # type: ignore[no-untyped-call]
    # Last, so that a result.json on disk means the submission's folder is complete.
    result.write(folder / "result.json")
    return result


def _judge_request(
    spec: Assignment,
    plan: Budget,
    data: PreparedData,
    artefacts: Path,
    reference_accuracy: dict[str, float],
    pretrained: t.Sequence[PretrainedWeights],
) -> dict[str, t.Any]:
    """Everything the judge needs, as plain data: the rubric's text, never its folder."""
    return {
        "rubric": (spec.folder / "assignment.toml").read_text(encoding="utf-8"),
        "rubric_path": str(spec.folder / "assignment.toml"),
        "budget": plan.name,
        "artefacts": str(artefacts),
        "data": str(data.kernel_file),
        "held_out": str(data.held_out_file),
        "dataset": {"source": data.visible.source, "description": data.visible.description},
        "reference_accuracy": reference_accuracy,
        "pretrained_available": all(w.path is not None for w in pretrained),
        "max_bytes": MAX_EVIDENCE_BYTES,
    }


def _data_info(visible: datasets.Dataset, held_out: datasets.HeldOut) -> DataInfo:
    return DataInfo(
        visible.source,
        visible.description,
        len(visible.y_train),
        len(visible.y_test),
        len(held_out.y),
    )


def _hidden_from_kernel(
    spec: Assignment, submission: Path, data_dir: Path | None
) -> list[Path | None]:
    """What the kernel must not see: held-back data, the rubric and solution, other work."""
    reference = importlib.util.find_spec(spec.reference)
    keras_home = os.environ.get("KERAS_HOME")
    return [
        cache_dir(),
        data_dir,
        Path(keras_home) if keras_home else Path.home() / ".keras",
        # Every assignment's folder, not only this one's: another assignment's solution is
        # as much a secret as this one's.
        spec.folder.parent,
        Path(reference.origin).parent if reference and reference.origin else None,
        submission.resolve().parent,
    ]


def _sandbox_notices(options: sandbox.SandboxOptions, box: sandbox.Sandbox) -> list[str]:
    if not options.enabled:
        return ["The notebook ran without the sandbox (--no-sandbox): no limits, no isolation."]
    if not box.namespaces:
        return [
            "The notebook ran with resource limits but without network and file-system "
            "isolation: this machine does not allow namespaces."
        ]
    return []


def _refused(
    submission: Path,
    spec: Assignment,
    plan: Budget,
    data: PreparedData,
    error: NotANotebookError,
    out: Path,
    view: View,
    started: float,
) -> GradeResult:
    """The result of a file that could not be run: every check fails, the outcome says why."""
    reason = error.message.split(": ", 1)[-1]
    result = GradeResult(
        assignment=spec.id,
        submission=submission.stem,
        score=0.0,
        max_score=spec.max_score,
        checks=[
            CheckResult(c.id, c.title, "fail", 0.0, c.points, f"not graded: {reason}", c.hint)
            for c in spec.checks
        ],
        cells=[],
        fits=[],
        budget=plan.name,
        budget_limits=plan.limits(),
        data=_data_info(data.visible, data.held_out),
        seed=spec.seed,
        timings={"total": time.monotonic() - started},
        versions=versions(),
        notices=[f"Not graded: {reason}"],
        outcome=error.outcome,
        incidents=[Incident(error.outcome, -1, reason)],
        manual=missing_answers(spec.manual),
    )
    folder = Path(out) / submission.stem
    write_reports(result, folder, view=view)
    result.write(folder / "result.json")
    return result


def _released_template(spec: Assignment) -> nbformat.NotebookNode:
    """The assignment's released student notebook: the authority on its locked cells."""
    if not spec.student_notebook.is_file():
        return t.cast(nbformat.NotebookNode, nbformat.v4.new_notebook())  # type: ignore[no-untyped-call]
    return read_notebook(spec.student_notebook)


def _notices(
    plan: Budget, ds: datasets.Dataset, execution: Execution, role_variables: dict[str, str]
) -> list[str]:
    notes = []
    if plan.capped:
        caps = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in plan.limits().items())
        notes.append(
            f"Budget '{plan.name}': every fit/evaluate/predict call was capped ({caps}). "
            "Accuracy thresholds come from the reference trained under the same caps."
        )
    if ds.source == "synthetic":
        label = datasets.DATASETS.get(ds.name, ds.name)
        notes.append(f"Graded on {ds.description}. Accuracy figures are not {label} accuracies.")
    else:
        notes.append(f"Graded on real data: {ds.description}.")
    for role, variable in sorted(role_variables.items()):
        notes.append(f"The {role} model was taken from the notebook variable `{variable}`.")
    if execution.finish_error:
        notes.append(f"Saving the models after the last cell failed: {execution.finish_error}")
    return notes


def _stderr_by_cell(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """What each code cell wrote to stderr (where Keras' warnings go)."""
    return [
        (
            index,
            strip_ansi(
                "".join(
                    str(out.get("text", ""))
                    for out in cell.get("outputs", [])
                    if out.get("name") == "stderr"
                )
            ),
        )
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    ]


def check(
    notebook: Path,
    *,
    assignment: str | Path | None = None,
    budget: str = "smoke",
    data_dir: Path | None = None,
    view: View = "student",
    weights_dir: Path | None = None,
) -> tuple[GradeResult, Path]:
    """A student's self-check: grade at the smoke budget, write the HTML report beside the notebook.

    ``view`` is the report's audience: ``student`` unless an instructor asks for more.

    Returns:
        The result and the path of the HTML report.
    """
    nb = read_notebook(Path(notebook))
    chosen = assignment or assignment_of(nb)
    if chosen is None:
        raise InputError(f"{notebook}: no assignment id in its metadata; pass --assignment")
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        result = grade(
            Path(notebook),
            assignment=chosen,
            out=Path(tmp),
            budget=budget,
            data_dir=data_dir,
            weights_dir=weights_dir,
        )
    paths = write_reports(
        result, Path(notebook).parent, stem=f"{Path(notebook).stem}.report", view=view
    )
    return result, paths["html"]


def prepare(
    *,
    assignment: str | Path | Assignment,
    budget: str = "standard",
    data_dir: Path | None = None,
    weights_dir: Path | None = None,
    secret: str | None = None,
) -> dict[str, float]:
    """Prepare the data and calibrate the reference without grading anything.

    A batch does this once before its workers start, so they find the calibration cached.

    Returns:
        The reference's held-out accuracy per model role.
    """
    spec = assignment if isinstance(assignment, Assignment) else load_assignment(assignment)
    plan = spec.plan(budget)
    data = _prepared_data(
        spec.dataset, data_dir, spec.seed, spec.held_back, secret or grader_secret()
    )
    pretrained = [find_weights(name, weights_dir) for name in spec.pretrained]
    return calibration(spec, plan, data.visible, data.held_out, pretrained=pretrained).accuracy
