"""The Keras kernel's records read back in the judge: fits and data variables, checked field
by field.

Runs in the judge process. Each JSON file is bounded and type-checked (:func:`json_object`);
each fit record's layers are matched against its weight snapshots, whose digests are computed
here (:func:`digest`), never taken from the kernel; a variable summary holds what the kernel's
summary holds or is refused. :mod:`grader.artefacts.folder` builds on these.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.artefacts.arrays import UnreadableArrays, read_npz
from grader.kernel import layout, nesting

MAX_JSON_BYTES = 16 * 2**20
MAX_VARIABLE_BYTES = 256 * 2**20
"""The data variables the kernel summarises: labels in full and 24 sampled images each, a few
megabytes for any course exercise."""


@dataclass(frozen=True)
class LayerState:
    """One layer, nested models seen through (:mod:`grader.kernel.nesting`)."""

    name: str
    cls: str
    trainable: bool
    """Whether training changes it: its own flag and those of the models holding it."""
    weights: tuple[str, ...]
    """Digest of each weight array."""
    within: tuple[str, ...] = ()
    """The models it is nested in, outermost first."""

    @property
    def label(self) -> str:
        """The layer as the student nested it (:data:`grader.kernel.nesting.SEPARATOR`)."""
        return nesting.label(self.name, self.within)


@dataclass(frozen=True)
class FitCapture:
    """One ``fit`` call: what the kernel recorded, and the weights the judge digested."""

    index: int
    model_id: int
    epochs_requested: int
    epochs_run: int
    samples_requested: int
    samples_used: int
    history: dict[str, list[float]]
    layers: tuple[LayerState, ...]
    """The model's layers when the fit ended (weight digests from the ``after`` snapshot)."""
    before: tuple[LayerState, ...] | None
    """The same layers when the fit began; None if the model had no weights yet, or the
    snapshot is missing or does not match the layers."""
    after: tuple[LayerState, ...] | None
    """The layers' weights when the fit ended; None if the snapshot is unusable."""
    built: bool = True
    """The kernel says the model had weights when the fit began (a ``before`` snapshot)."""
    raised: bool = False
    """The fit stopped with an exception: not training, but it may have changed weights."""
    problem: str = ""
    """Why this fit's evidence is incomplete (a snapshot missing, unreadable or not matching
    its layers); empty when complete. Checks relying on the fit fail on it."""


@dataclass(frozen=True)
class VariableSummary:
    """A data variable the rubric names: shape and range in full, some rows sampled."""

    shape: tuple[int, ...]
    dtype: str
    min: float
    max: float
    rows: tuple[int, ...]
    """Indices of the sampled rows (images), or all rows (labels)."""
    values: np.ndarray
    """The sampled rows for images (ndim > 2), the whole array for labels."""


def digest(array: t.Any) -> str:
    """A short digest of one weight array's values."""
    data = np.ascontiguousarray(np.asarray(array, dtype=np.float32)).tobytes()
    return hashlib.sha256(data).hexdigest()[:20]


def layer_states(model: t.Any) -> list[LayerState]:
    """Every layer of a loaded model, nested models seen through, with a digest of each
    weight array (numbered as the kernel numbers a snapshot's layers)."""
    return [
        LayerState(
            leaf.layer.name,
            type(leaf.layer).__name__,
            leaf.trainable,
            tuple(digest(w) for w in leaf.layer.get_weights()),
            leaf.within,
        )
        for leaf in nesting.leaves(model)
    ]


def missing_records(fits: list[FitCapture], count: int | None) -> list[str]:
    """Fits that ran but left no usable record: numbers skipped (a snapshot without its record
    included), and fewer records than the kernel counted fits. A fit is numbered when it
    starts and recorded however it ends, so an honest notebook's records are 0..n-1; only a
    kernel that died during a fit leaves a snapshot past the last record, uncounted."""
    recorded = {f.index for f in fits}
    ran = max([*recorded, (count or 0) - 1], default=-1) + 1
    lost = sorted(set(range(ran)) - recorded)
    if not lost:
        return []
    numbers = ", ".join(f"#{i + 1}" for i in lost[:10]) + (", ..." if len(lost) > 10 else "")
    return [
        f"the record of fit {numbers} is missing or unusable, so which model it trained and "
        "how cannot be told: the training evidence is incomplete"
    ]


def read_variables(
    folder: Path, max_bytes: int, notes: list[str]
) -> tuple[dict[str, VariableSummary], dict[str, str]]:
    """The data variables the kernel summarised in ``folder``, and those that are unusable
    (every one, when their arrays are unreadable)."""
    summaries = json_object(folder / layout.VARIABLES, notes)
    arrays: dict[str, np.ndarray] = {}
    if (folder / layout.VARIABLE_ARRAYS).is_file():
        try:
            arrays = read_npz(
                folder / layout.VARIABLE_ARRAYS, max_bytes=min(max_bytes, MAX_VARIABLE_BYTES)
            )
        except UnreadableArrays as exc:
            return {}, dict.fromkeys(summaries, str(exc))
    return variables_from(summaries, arrays)


def variables_from(
    summaries: dict[str, t.Any], arrays: dict[str, np.ndarray]
) -> tuple[dict[str, VariableSummary], dict[str, str]]:
    """Variable summaries (as :func:`grader.kernel.variables.summarise_variables` makes them),
    type-checked field by field, and the variables that could not be summarised."""
    variables: dict[str, VariableSummary] = {}
    errors: dict[str, str] = {}
    for name, info in summaries.items():
        if not isinstance(info, dict):
            continue
        if "error" in info:
            errors[name] = str(info["error"])[:2000]
        elif name in arrays:
            try:
                summary = VariableSummary(
                    shape=tuple(int(d) for d in info["shape"]),
                    dtype=str(info["dtype"])[:40],
                    min=float(info["min"]),
                    max=float(info["max"]),
                    rows=tuple(int(r) for r in info["rows"]),
                    values=arrays[name],
                )
            except (KeyError, TypeError, ValueError) as exc:
                errors[name] = f"its summary is malformed ({exc})"
                continue
            partial = _partial(summary)
            if partial:
                errors[name] = f"its summary is incomplete or inconsistent ({partial})"
            else:
                variables[name] = summary
        elif "shape" in info:
            errors[name] = "its summary has no arrays (incomplete)"
    return variables, errors


def _partial(v: VariableSummary) -> str:
    """Why a summary does not hold what the kernel's summary holds (labels whole, images'
    sampled rows: every row up to :data:`layout.SAMPLED_ROWS`, spread over the array); empty
    when it does. A check must not judge the half it was given."""
    n = v.shape[0] if v.shape else 0
    if len(set(v.rows)) != min(n, layout.SAMPLED_ROWS) or not all(0 <= r < n for r in v.rows):
        return f"{len(v.rows)} sampled rows of {n}"
    kept = (len(v.rows), *v.shape[1:]) if len(v.shape) > 2 else v.shape
    if tuple(v.values.shape) != kept:
        return f"arrays of shape {tuple(v.values.shape)} for a variable of shape {v.shape}"
    return ""


def json_object(path: Path, notes: list[str]) -> dict[str, t.Any]:
    """A JSON object the kernel wrote; empty (and a note) when it is not one."""
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"larger than {MAX_JSON_BYTES:,} bytes")
        value = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        notes.append(f"{path.name} was ignored: {exc}")
        return {}
    return value


def _snapshot(
    path: Path, layers: list[dict[str, t.Any]], max_bytes: int
) -> tuple[LayerState, ...] | str:
    """The layers with digests of the snapshot's arrays, or why the snapshot is unusable."""
    if not path.is_file():
        return f"{path.parent.name}/{path.name} is missing"
    try:
        arrays = read_npz(path, max_bytes=max_bytes)
    except UnreadableArrays as exc:
        return f"{path.parent.name}/{path.name} is unreadable ({exc})"
    states = []
    for i, layer in enumerate(layers):
        count = int(layer["weights"])
        keys = [layout.weight_key(i, j) for j in range(count)]
        if not all(k in arrays for k in keys):
            break
        states.append(
            LayerState(
                str(layer["name"]),
                str(layer["class"]),
                bool(layer["trainable"]),
                tuple(digest(arrays[k]) for k in keys),
                _within(layer),
            )
        )
    expected = {
        layout.weight_key(i, j)
        for i, layer in enumerate(layers)
        for j in range(int(layer["weights"]))
    }
    if len(states) != len(layers) or set(arrays) != expected:
        return f"{path.parent.name}/{path.name} does not match the layers the fit recorded"
    return tuple(states)


def _within(layer: dict[str, t.Any]) -> tuple[str, ...]:
    within = layer.get("within", [])
    if not isinstance(within, list) or len(within) > 20:
        raise ValueError("a layer's nesting must be a list of at most 20 names")
    return tuple(str(name) for name in within)


_NAME = re.compile(r"[^\x00-\x1f]{0,200}")


def fit_from(raw: dict[str, t.Any], folder: Path, digested: bool, max_bytes: int) -> FitCapture:
    """One fit record, checked field by field; with its snapshots' digests when ``digested``
    (a role's model: only their weights are judged).

    Raises:
        KeyError, TypeError, ValueError: the record is malformed.
    """
    index = int(raw["index"])
    layers = raw.get("layers")
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ValueError("a fit record's layers must be a list of objects")
    names = [str(n) for x in layers for n in [x.get("name", ""), *_within(x)]]
    if not all(_NAME.fullmatch(name) for name in names):
        raise ValueError("a layer name is too long or holds control characters")
    history = raw.get("history", {})
    if not isinstance(history, dict) or len(history) > 50:
        raise ValueError("a fit record's history must be an object of at most 50 metrics")
    plain = tuple(
        LayerState(str(x["name"]), str(x["class"]), bool(x["trainable"]), (), _within(x))
        for x in layers
    )
    built, raised = raw.get("built", True), raw.get("raised", False)
    if not isinstance(built, bool) or not isinstance(raised, bool):
        raise ValueError("a fit record's 'built' and 'raised' must be true or false")
    after: tuple[LayerState, ...] | str | None = None
    before: tuple[LayerState, ...] | str | None = None
    problems = []
    if digested:
        after = _snapshot(folder / layout.snapshot(index, "after"), layers, max_bytes)
        before_path = folder / layout.snapshot(index, "before")
        # An unbuilt model has no weights to snapshot; a snapshot there anyway is judged.
        if built or before_path.exists():
            before = _snapshot(before_path, layers, max_bytes)
        problems = [p for p in (before, after) if isinstance(p, str)]
    return FitCapture(
        index=index,
        model_id=int(raw["model_id"]),
        epochs_requested=int(raw["epochs_requested"]),
        epochs_run=int(raw["epochs_run"]),
        samples_requested=int(raw["samples_requested"]),
        samples_used=int(raw["samples_used"]),
        history={str(k)[:100]: [float(v) for v in vals][:10_000] for k, vals in history.items()},
        layers=plain,
        before=None if isinstance(before, str) else before,
        after=None if isinstance(after, str) else after,
        built=built,
        raised=raised,
        problem="; ".join(problems),
    )
