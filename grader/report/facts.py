"""What a report shows, derived from a result: views, layer diffs, curves, confusion, hints.

Every renderer (HTML, Markdown, terminal) takes its facts from here, so the three say the same
thing. Nothing here reads a notebook or a model: a report can be re-rendered from
``result.json`` alone.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing as t
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from grader.options import View
from grader.results import CellResult, CheckResult, FitRecord, GradeResult

LAYER_OP_TEXT = {
    "same": "✔ same",
    "changed": "✘ fields differ",
    "replaced": "✘ different layer type",
    "missing": "✘ missing layer",
    "extra": "✘ extra layer",
}
"""How every report says what happened to a layer (``op`` of an architecture comparison row)."""

HIDDEN_MESSAGE = "Hidden check: only its result and points are shown."

RENDERED_DETAILS = frozenset({"comparison", "expected", "actual", "parameters", "confusion"})
"""Evidence keys the report already draws as tables; the instructor's raw evidence omits them."""


def raw_evidence(check: CheckResult) -> dict[str, t.Any]:
    """A check's evidence that no table of the report shows already."""
    return {k: v for k, v in check.details.items() if k not in RENDERED_DETAILS}


def for_view(result: GradeResult, view: View) -> GradeResult:
    """The result as ``view`` may see it.

    Args:
        result: The full result, as graded.
        view: ``instructor`` sees everything. ``student`` sees hidden checks as status and
            points only (no message, hint or evidence), no grader-internal tracebacks, no
            instructor's fix (it holds the solution's code), and no flags (they are for the
            instructor to look into).

    Returns:
        ``result`` itself for the instructor; a redacted copy for the student.
    """
    if view == "instructor":
        return result
    return dataclasses.replace(result, checks=[_student_check(c) for c in result.checks], flags=[])


def _student_check(check: CheckResult) -> CheckResult:
    if check.hidden:
        return dataclasses.replace(check, message=HIDDEN_MESSAGE, hint="", fix="", details={})
    # A grader error's traceback is about the grader, not the submission.
    details = {k: v for k, v in check.details.items() if k != "traceback"}
    return dataclasses.replace(check, details=details, fix="")


# --- architecture -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerDiff:
    """One architecture check's side-by-side table, from its ``details``."""

    check: CheckResult
    rows: list[dict[str, t.Any]]
    """Aligned pairs: ``op``, ``position``, ``expected``/``actual`` rows, ``differing``."""
    fields: list[str]
    """Configuration fields any layer on either side has, in a stable order."""
    parameters: dict[str, dict[str, int]]
    """``expected``/``actual`` -> ``trainable``/``non_trainable`` parameter counts."""

    @property
    def differences(self) -> int:
        """Layers that differ in type or configuration, or are missing or extra."""
        return sum(1 for r in self.rows if r["op"] != "same")

    @property
    def trainable_differences(self) -> int:
        """Paired layers whose trainable flag differs from the reference's."""
        return sum(1 for r in self.rows if r["trainable_differs"])

    @property
    def summary(self) -> str:
        """One line: how many layers differ, and how many trainable flags."""
        if self.differences:
            text = f"{self.differences} of {len(self.rows)} layer rows differ"
        else:
            text = f"all {len(self.rows)} layers match"
        if self.trainable_differences:
            n = self.trainable_differences
            text += f"; {n} trainable flag{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}"
        return text


def layer_diffs(checks: Iterable[CheckResult]) -> list[LayerDiff]:
    """A :class:`LayerDiff` for every check that recorded a layer comparison."""
    out = []
    for check in checks:
        rows = check.details.get("comparison")
        if not isinstance(rows, list):
            continue
        fields: list[str] = []
        for row in rows:
            for side in (row.get("expected"), row.get("actual")):
                for key in (side or {}).get("config", {}):
                    if key not in fields:
                        fields.append(key)
        out.append(LayerDiff(check, rows, fields, dict(check.details.get("parameters", {}))))
    return out


# --- curves ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvePanel:
    """One metric of one fit: the student's series and the reference's, on the same scale."""

    metric: str
    student: dict[str, list[float]]
    reference: dict[str, list[float]]
    y_range: tuple[float, float] | None
    """Shared vertical range of both charts; None when neither has a finite value."""


@dataclass(frozen=True)
class FitCurves:
    """A student's ``fit`` call beside the reference's fit of the same model role."""

    number: int
    """1-based position among the notebook's fits."""
    fit: FitRecord
    reference: FitRecord | None
    panels: list[CurvePanel]


def fit_curves(result: GradeResult) -> list[FitCurves]:
    """Pair the k-th fit of each role with the reference's k-th fit of that role."""
    reference_by_role: dict[str, list[FitRecord]] = {}
    for ref in result.reference_fits:
        reference_by_role.setdefault(ref.model, []).append(ref)
    seen: dict[str, int] = {}
    out = []
    for number, fit in enumerate(result.fits, start=1):
        k = seen.get(fit.model, 0)
        seen[fit.model] = k + 1
        candidates = reference_by_role.get(fit.model, [])
        reference = candidates[k] if k < len(candidates) else None
        ref_groups = dict(metric_groups(reference.history)) if reference else {}
        panels = []
        for metric, series in metric_groups(fit.history):
            ref_series = ref_groups.get(metric, {})
            panels.append(CurvePanel(metric, series, ref_series, _range([series, ref_series])))
        out.append(FitCurves(number, fit, reference, panels))
    return out


def metric_groups(
    history: Mapping[str, Sequence[float]],
) -> list[tuple[str, dict[str, list[float]]]]:
    """Pair each training metric with its ``val_`` twin, one chart per pair.

    Args:
        history: Keras history, metric name -> per-epoch values.

    Returns:
        ``[(metric, {name: values})]`` with ``loss`` first, then ``accuracy``, then the rest
        in the order Keras reported them; the training series precedes ``val_``.
    """
    groups: dict[str, dict[str, list[float]]] = {}
    for name, values in history.items():
        base = name.removeprefix("val_")
        groups.setdefault(base, {})[name] = list(values)
    for base, members in groups.items():
        groups[base] = dict(sorted(members.items(), key=lambda kv: kv[0].startswith("val_")))
    order = {"loss": 0, "accuracy": 1}
    return sorted(groups.items(), key=lambda kv: order.get(kv[0], 2))


def _range(groups: Sequence[Mapping[str, Sequence[float]]]) -> tuple[float, float] | None:
    values = [
        float(v)
        for group in groups
        for series in group.values()
        for v in series
        if isinstance(v, int | float) and math.isfinite(v)
    ]
    return (min(values), max(values)) if values else None


# --- confusion matrices -------------------------------------------------------------------------


@dataclass(frozen=True)
class Confusion:
    """The confusion matrix an accuracy check measured on the held-back images."""

    check: CheckResult
    rows: list[int]
    columns: list[int]
    names: dict[int, str]
    counts: list[list[int]]

    def row_total(self, i: int) -> int:
        return sum(self.counts[i])

    def recall(self, i: int) -> float:
        """Share of class ``rows[i]`` predicted correctly."""
        total = self.row_total(i)
        label = self.rows[i]
        return self.counts[i][self.columns.index(label)] / total if total else 0.0


def confusions(checks: Iterable[CheckResult]) -> list[Confusion]:
    """A :class:`Confusion` for every check that recorded one."""
    out = []
    for check in checks:
        raw = check.details.get("confusion")
        if not isinstance(raw, dict):
            continue
        out.append(
            Confusion(
                check,
                [int(r) for r in raw["rows"]],
                [int(c) for c in raw["columns"]],
                {int(k): str(v) for k, v in raw["names"].items()},
                [[int(n) for n in row] for row in raw["counts"]],
            )
        )
    return out


# --- hints for failed cells ---------------------------------------------------------------------


@dataclass(frozen=True)
class KnownError:
    """An error students meet often, recognised by a pattern, with what to do about it."""

    pattern: re.Pattern[str]
    """Searched in ``ErrorName: message``, then the traceback and the cell's source."""
    hint: str
    lead: str = "printed a Keras warning"
    """What a cell that printed it did, for a warning's notice ("Cell 3 printed ...")."""


KNOWN_ERRORS: tuple[KnownError, ...] = tuple(
    KnownError(re.compile(pattern, re.IGNORECASE | re.MULTILINE), hint)
    for pattern, hint in (
        (
            r"np_utils",
            "Keras 3 removed keras.utils.np_utils: call keras.utils.to_categorical(y, n) "
            "directly (from keras.utils import to_categorical).",
        ),
        (
            r"unexpected keyword argument 'lr'|not recognized: \{'lr'",
            "Keras 3 optimizers take learning_rate=, not lr= (e.g. Adam(learning_rate=1e-3)).",
        ),
        (
            r"border_mode",
            "Keras 2 renamed border_mode= to padding= (e.g. Conv2D(32, (3, 3), padding='same')).",
        ),
        (
            r"'(subsample|init|output_dim|nb_epoch)'|\b(subsample|output_dim|nb_epoch)\s*=",
            "Keras 1 argument names no longer exist: subsample= is strides=, init= is "
            "kernel_initializer=, output_dim= is units=, nb_epoch= is epochs=.",
        ),
        (
            r"output size would be (zero or )?negative|negative dimension size"
            r"|dimensions in the output is <= 0",
            "A layer's output shrank below one pixel. In Keras 3, Conv2D(32, 5, 5) means a 5x5 "
            "kernel with strides 5 (Keras 1's Convolution2D(32, 5, 5) was a 5x5 kernel): write "
            "Conv2D(32, (5, 5)).",
        ),
        (
            r"has no attribute 'next'",
            "Python 3 iterators have no .next() method: call next(it), e.g. "
            "images, labels = next(iter(train_loader)).",
        ),
        (
            r"Weights only load failed|WeightsUnpickler|weights_only",
            "torch.load now reads weights only (weights_only=True), not a pickled module: save "
            "model.state_dict() and load it into a model you build with "
            "model.load_state_dict(torch.load(path)).",
        ),
        (
            r"URL fetch failure|urlopen error|Temporary failure in name resolution"
            r"|Name or service not known|Network is unreachable|nothing is downloaded",
            "Nothing is downloaded while grading: load the data with the course's loader "
            "(e.g. keras.datasets.cifar10.load_data()) and the weights the assignment names "
            "(VGG19(weights='imagenet')), which the grader serves offline.",
        ),
        (
            r"has no attribute 'predict_classes'",
            "predict_classes was removed: use np.argmax(model.predict(x), axis=-1).",
        ),
        (
            r"has no attribute 'fit_generator'|has no attribute 'evaluate_generator'",
            "fit_generator/evaluate_generator were removed: pass the generator to fit/evaluate.",
        ),
        (
            r"No module named 'keras\.(layers\.core|layers\.convolutional|engine|wrappers)",
            "Keras 3 flattened its modules: import layers from keras.layers "
            "(e.g. from keras.layers import Dense, Conv2D).",
        ),
        (
            r"Shapes \(None, \d+\) and \(None, \d+\) are incompatible"
            r"|`target` and `output` must have the same shape",
            "The labels' one-hot width and the last Dense layer's units differ: "
            "to_categorical(y, n) needs a final Dense(n).",
        ),
        (
            r"expected axis -1 of input shape to have value|is incompatible with the layer",
            "The data's shape does not match the model's input: compare x.shape[1:] with "
            "the input shape of the first layer (keras.Input(shape=...)).",
        ),
        (
            r"^NameError: name '(\w+)' is not defined",
            "A name was used before it was defined: check its spelling, and that the cell "
            "defining it ran earlier without an error.",
        ),
        (
            r"^(ResourceExhaustedError|MemoryError)",
            "Out of memory: use a smaller batch_size, or float32 arrays instead of float64.",
        ),
    )
)

KNOWN_WARNINGS: tuple[KnownError, ...] = (
    KnownError(
        re.compile(r"Do not pass an `input_shape`/`input_dim` argument to a layer"),
        "Keras 3 prefers keras.Input(shape=...) as the model's first item over input_shape= "
        "on the first layer; both build the same model, so this warning costs no points.",
    ),
    KnownError(
        re.compile(r"^\[grader\] (\w+)\(weights='imagenet'\): this assignment asks for .*$", re.M),
        "Nothing is downloaded while grading: only the ImageNet weights of the base the "
        "assignment asks for (and of others found on the grading machine) are served, so "
        "this base started from random weights; the checks judge the model as built.",
        "asked for ImageNet weights the grader does not have",
    ),
)


def cell_hint(cell: CellResult) -> str:
    """Advice for a failed cell whose error is a known one; empty when none applies."""
    if cell.status == "timeout":
        return (
            "The cell ran out of time: train for fewer epochs, or stop printing every batch "
            "(verbose=2)."
        )
    texts = (f"{cell.error_name}: {cell.error_value}", cell.traceback, cell.source)
    for known in KNOWN_ERRORS:
        if any(known.pattern.search(text) for text in texts if text):
            return known.hint
    return ""


def warning_notices(stderr_by_cell: Iterable[tuple[int, str]]) -> list[str]:
    """A notice for each known warning a cell printed, once per warning.

    Args:
        stderr_by_cell: ``(cell index, text the cell wrote to stderr)`` pairs.
    """
    notices: list[str] = []
    seen: set[str] = set()
    for index, text in stderr_by_cell:
        for known in KNOWN_WARNINGS:
            if known.hint not in seen and known.pattern.search(text):
                seen.add(known.hint)
                notices.append(f"Cell {index} {known.lead}. {known.hint}")
    return notices
