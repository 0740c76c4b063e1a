"""What grading produces: typed results, written as ``result.json``.

The JSON schema in docs/results.md is generated from these dataclasses
(``python -m grader schema``), so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import tempfile
import types
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

if t.TYPE_CHECKING:
    from grader.budget import Budget
    from grader.rubric import Assignment

SCHEMA_VERSION = 1

CheckStatus = t.Literal["pass", "fail", "error", "not_judged"]
CellStatus = t.Literal["ok", "error", "timeout", "skipped"]
Outcome = t.Literal[
    "ok",
    "timeout",
    "memory_limit",
    "kernel_died",
    "message_too_large",
    "process_limit",
    "disk_limit",
    "output_truncated",
    "not_a_notebook",
    "invalid_notebook",
    "judge_timeout",
    "judge_failed",
    "missing_module",
]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one rubric check."""

    id: str
    """Stable check id from the rubric, e.g. ``transfer.frozen``."""
    title: str
    """One-line description of what the check judges."""
    status: CheckStatus
    """``pass``; ``fail`` (the submission is wrong, or an input it needs is missing);
    ``error`` (the grader could not judge it: a bug, a broken judge); ``not_judged`` (the
    budget cannot tell a correct submission from an untrained one: ``details`` hold the
    figures, and ``score`` what the rubric's ``when_not_judged`` gives, all or nothing)."""
    score: float
    """Points earned."""
    max_score: float
    """Points available."""
    message: str
    """What was found, naming every difference; empty on a plain pass."""
    hint: str
    """What is wrong and where to look, from the rubric, for students; shown when the check
    does not pass. It never gives the solution's code."""
    details: dict[str, t.Any] = field(default_factory=dict)
    """Machine-readable evidence (measured accuracy, thresholds, layer diffs)."""
    hidden: bool = False
    """A hidden check: the student view shows only its status and points."""
    fix: str = ""
    """The fix, solution code included, from the rubric: for the instructor view only."""


@dataclass(frozen=True)
class CellResult:
    """How one notebook code cell ran."""

    index: int
    """Position of the cell in the submitted notebook (0-based, all cells counted)."""
    status: CellStatus
    """``ok``, ``error`` (raised), ``timeout`` (hit the per-cell or total limit), ``skipped``
    (never reached because the total timeout ran out)."""
    duration_s: float
    """Wall-clock seconds the cell ran."""
    source: str
    """The cell's source, as submitted."""
    error_name: str = ""
    """Exception class name, e.g. ``NameError``."""
    error_value: str = ""
    """Exception message."""
    traceback: str = ""
    """Traceback with terminal colour codes stripped."""


@dataclass(frozen=True)
class FitRecord:
    """One ``fit`` call the notebook made, as the grader saw it."""

    model: str
    """Role of the trained model in the rubric (``base``, ``transfer``) or ``other``."""
    epochs_requested: int
    epochs_run: int
    samples_requested: int
    samples_used: int
    history: dict[str, list[float]]
    """Per-epoch metrics Keras reported (``loss``, ``accuracy``, ``val_loss`` ...)."""


@dataclass(frozen=True)
class Incident:
    """Something the sandbox stopped, cut or refused while grading a submission."""

    outcome: Outcome
    """What happened: ``timeout``, ``memory_limit``, ``kernel_died``, ``message_too_large``
    (the kernel sent a message over the grader's bound in all its parts, and was stopped),
    ``process_limit``, ``disk_limit``, ``output_truncated``, ``not_a_notebook``,
    ``invalid_notebook``, ``judge_timeout`` (measuring the saved models took longer than the
    rubric allows), ``judge_failed`` (the judge process broke) or ``missing_module`` (a cell
    imported a package the grading environment lacks)."""
    cell: int
    """Index of the cell it happened in (as in ``cells[]``), or -1 for the whole notebook."""
    detail: str
    """One line: the limit that was hit, the exit code or signal, why the file was refused."""


@dataclass(frozen=True)
class Flag:
    """Something an instructor should look at; it never changes the score."""

    check: str
    """The check whose evidence raised it."""
    kind: t.Literal["accuracy_above_reference"]
    """``accuracy_above_reference``: held-out accuracy far above what the reference reaches
    under the same budget (training past the budget, or on the test images)."""
    detail: str
    """One line with the figures."""


@dataclass(frozen=True)
class DataInfo:
    """Where the data the notebook received came from."""

    source: t.Literal["real", "synthetic"]
    description: str
    """Human-readable origin, e.g. the folder real CIFAR-10 was read from."""
    train_samples: int
    test_samples_given: int
    """Test images handed to the kernel."""
    test_samples_held_back: int
    """Test images the kernel never received; accuracy is measured on these."""


@dataclass(frozen=True)
class LockedCellChange:
    """A cell the released notebook locks, found edited or deleted in the submission."""

    cell_id: str
    """The cell's nbformat id, as written by ``grader release``."""
    index: int
    """Position of the cell in the released notebook (0-based, all cells counted)."""
    change: t.Literal["edited", "deleted"]
    diff: str
    """Unified diff from the released source to the submitted one (empty when deleted)."""


# --- Graded by a person (issue 17): written answers and score overrides ------------------------

ManualStatus = t.Literal["pending", "graded"]


@dataclass(frozen=True)
class ManualAnswer:
    """A rubric item graded by a person (``[[manual]]``): the answer found, and its grade."""

    id: str
    """Stable item id from the rubric, e.g. ``written.transfer``."""
    title: str
    """The question, as the rubric words it."""
    max_score: float
    """Points available."""
    answer: str
    """What the student wrote: the source of the answer cells, joined by blank lines."""
    answer_digest: str
    """SHA-256 of the answer with white space collapsed; decisions are kept against it."""
    cells: list[int] = field(default_factory=list)
    """Positions of the answer cells in the submitted notebook (empty: no answer found)."""
    status: ManualStatus = "pending"
    """``pending`` until a person grades it (exports say so, never 0); then ``graded``."""
    score: float | None = None
    """Points a person awarded; ``null`` while pending."""
    criteria: list[str] = field(default_factory=list)
    """The rubric criteria the grader ticked as met, by their text."""
    comment: str = ""
    """The grader's comment to the student."""
    answer_changed: bool = False
    """A decision exists for an earlier answer to this item that differs from this one: it
    was not applied, and the item is pending again."""


@dataclass(frozen=True)
class CheckOverride:
    """A person's score for an automatic check, kept beside the check's own verdict."""

    check: str
    """The check id; its entry in ``checks[]`` keeps the automatic status and score."""
    score: float
    """Points that count instead of the automatic ones."""
    reason: str
    """Why, in the instructor's words."""
    automatic_status: CheckStatus
    """The automatic verdict the override was made against."""
    automatic_score: float
    """The automatic points the override replaces."""


@dataclass(frozen=True)
class GradeResult:
    """Everything known about one graded submission."""

    assignment: str
    submission: str
    """Submission name (file stem)."""
    score: float
    max_score: float
    checks: list[CheckResult]
    cells: list[CellResult]
    fits: list[FitRecord]
    budget: str
    """``smoke``, ``standard`` or ``full``."""
    budget_limits: dict[str, int]
    """The caps applied to every ``fit``/``evaluate``/``predict`` call (empty at ``full``)."""
    data: DataInfo
    seed: int
    timings: dict[str, float]
    """Seconds spent per stage: ``execute``, ``calibrate``, ``checks``, ``total``, and the
    profile of a graded notebook: ``rubric``, ``data``, ``sandbox``, ``kernel_start``,
    ``setup_cell``, ``cells``, ``evidence``, ``finish_cell``, ``kernel_stop``, ``reports``;
    and the kernel's CPU-seconds, ``kernel_cpu`` and ``cells_cpu`` (its cells' own). Recorded
    for every grade, never read by a verdict."""
    versions: dict[str, str]
    """Versions of the grader, Python, Keras, TensorFlow and NumPy."""
    notices: list[str] = field(default_factory=list)
    """Things the student should know that are not check failures (budget caps, data source)."""
    schema_version: int = SCHEMA_VERSION
    reference_fits: list[FitRecord] = field(default_factory=list)
    """The reference's ``fit`` calls under the same budget, data and seed, for comparison."""
    locked_cells: list[LockedCellChange] = field(default_factory=list)
    """Cells students must not edit that were edited or deleted; each was graded restored."""
    outcome: Outcome = "ok"
    """``ok`` when the notebook ran within every limit; otherwise the most serious incident's
    outcome (``not_a_notebook``, ``invalid_notebook``, ``kernel_died``, ``message_too_large``,
    ``judge_failed``, ``judge_timeout``, ``memory_limit``, ``process_limit``, ``disk_limit``,
    ``timeout``, ``output_truncated``, ``missing_module``, in that order)."""
    incidents: list[Incident] = field(default_factory=list)
    """Every limit hit, in the order it happened."""
    flags: list[Flag] = field(default_factory=list)
    """For the instructor's eyes: evidence that looks out of reach (see :class:`Flag`). The
    student view omits them."""
    manual: list[ManualAnswer] = field(default_factory=list)
    """Items a person grades (written answers), ``pending`` until graded. ``score`` and
    ``max_score`` above never include them: see :func:`grader.score.final_score`."""
    overrides: list[CheckOverride] = field(default_factory=list)
    """Check scores a person replaced, with the reasons; ``checks[]`` keeps the verdicts."""

    def to_json(self) -> str:
        """Serialise with a stable key order and rounding, so equal grades give equal bytes."""
        return json.dumps(_rounded(dataclasses.asdict(self)), indent=2) + "\n"

    def written(self) -> GradeResult:
        """The result as ``result.json`` records it: its floats rounded as :meth:`to_json` rounds
        them. What is rendered from it (the reports) is then what a later render from the file
        gives, without encoding the result as JSON text and parsing it back."""
        return GradeResult.from_dict(_rounded(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, text: str) -> GradeResult:
        """Read what :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict[str, t.Any]) -> GradeResult:
        """Build a result from ``result.json``'s parsed object (nested records included)."""
        return cls(
            **{
                **raw,
                "checks": [CheckResult(**c) for c in raw["checks"]],
                "cells": [CellResult(**c) for c in raw["cells"]],
                "fits": [FitRecord(**f) for f in raw["fits"]],
                "data": DataInfo(**raw["data"]),
                "reference_fits": [FitRecord(**f) for f in raw.get("reference_fits", [])],
                "locked_cells": [LockedCellChange(**c) for c in raw.get("locked_cells", [])],
                "incidents": [Incident(**i) for i in raw.get("incidents", [])],
                "flags": [Flag(**f) for f in raw.get("flags", [])],
                "manual": [ManualAnswer(**m) for m in raw.get("manual", [])],
                "overrides": [CheckOverride(**o) for o in raw.get("overrides", [])],
            }
        )

    def write(self, path: Path) -> None:
        """Write ``result.json`` atomically: readers see the old file or the new one, never half."""
        write_atomic(path, self.to_json())


def unjudged_result(
    spec: Assignment,
    submission: str,
    reason: str,
    *,
    status: t.Literal["fail", "error"],
    budget: Budget,
    data: DataInfo,
    outcome: Outcome = "ok",
) -> GradeResult:
    """The result of a notebook that could not be judged: every check ``status``, no points.

    Args:
        spec: the assignment.
        submission: the submission's name (file stem or student id).
        reason: one line: every check's message, and the first notice.
        status: ``fail`` when the submission is at fault (not a notebook), ``error`` when the
            grader is (a worker died): the batch grades ``error`` results again next time.
        budget: the budget it was to be graded at.
        data: where the data would have come from.
        outcome: the outcome, with an incident saying ``reason`` unless ``ok``.
    """
    return GradeResult(
        assignment=spec.id,
        submission=submission,
        score=0.0,
        max_score=spec.max_score,
        checks=[c.result(status, reason) for c in spec.checks],
        cells=[],
        fits=[],
        budget=budget.name,
        budget_limits=budget.limits(),
        data=data,
        seed=spec.seed,
        timings={},
        versions={},
        notices=[reason[:1].upper() + reason[1:]],
        outcome=outcome,
        incidents=[Incident(outcome, -1, reason)] if outcome != "ok" else [],
    )


UNREADABLE = frozenset({"not_a_notebook", "invalid_notebook"})
"""Outcomes of a file that is no notebook to grade: no grade, not a 0."""


def unreadable(result: GradeResult) -> str:
    """``not_a_notebook (<why>)`` or ``invalid_notebook (<why>)`` for a file that is no
    notebook to grade; "" for any other result."""
    if result.outcome not in UNREADABLE:
        return ""
    why = next((i.detail for i in result.incidents if i.outcome in UNREADABLE), "")
    why = why.removeprefix("not graded: ")
    return f"{result.outcome} ({why})" if why else result.outcome


def _rounded(value: t.Any) -> t.Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; results and reports are meant to be shared.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


SCHEMA_ID = f"urn:keras-notebook-grader:result:v{SCHEMA_VERSION}"
"""The schema's ``$id``: names this version of ``result.json``'s format."""


def json_schema() -> dict[str, t.Any]:
    """JSON Schema (draft 2020-12) of ``result.json``, derived from the dataclasses above.

    ``schema_version`` is a ``const``: a reader validating against this schema refuses a file of
    another version instead of misreading it.
    """
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Keras notebook grader result",
        **_schema_of(GradeResult),
    }
    version = schema["properties"]["schema_version"]
    schema["properties"]["schema_version"] = {"const": SCHEMA_VERSION, **version}
    del schema["properties"]["schema_version"]["type"]
    return schema


def _schema_of(tp: t.Any) -> dict[str, t.Any]:
    origin = t.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        hints = t.get_type_hints(tp)
        fields = dataclasses.fields(tp)
        docs = _field_docs(t.cast(type, tp))
        props = {}
        for f in fields:
            prop = _schema_of(hints[f.name])
            if f.name in docs:
                prop["description"] = docs[f.name]
            props[f.name] = prop
        return {"type": "object", "properties": props, "required": [f.name for f in fields]}
    if origin is t.Literal:
        return {"enum": list(t.get_args(tp))}
    if origin in (t.Union, types.UnionType):
        return {"anyOf": [_schema_of(arg) for arg in t.get_args(tp)]}
    if origin is list:
        return {"type": "array", "items": _schema_of(t.get_args(tp)[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(t.get_args(tp)[1])}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if tp in simple:
        return {"type": simple[tp]}
    return {}


def _field_docs(cls: type) -> dict[str, str]:
    """Read the docstring that follows each field in the class source (PEP 257 attribute docs)."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for prev, node in itertools.pairwise(body):
        if (
            isinstance(prev, ast.AnnAssign)
            and isinstance(prev.target, ast.Name)
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            docs[prev.target.id] = " ".join(node.value.value.split())
    return docs
