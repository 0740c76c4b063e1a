"""Read back, in the judge, what the kernel left for grading (as the grader copied it).

Runs in the judge process (:mod:`grader.judge.__main__`), never in the grader: it deserialises what
a student's kernel wrote. Nothing is trusted as it comes: JSON is type-checked field by field,
arrays are read within a declared-size bound and without pickles (:mod:`grader.judge.arrays`),
and a model is loaded only after its config passed the allow-list (:mod:`grader.judge.policy`),
then with ``safe_mode=True``. Every weight digest is computed here, from the arrays: the
kernel's records say which model a ``fit`` trained and how long, never what its weights were.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import keras_env
from grader.judge.arrays import UnreadableArrays, read_npz
from grader.judge.policy import ModelRefused, inspect_archive
from grader.judge.unbuilt import unbuildable
from grader.kernel import layout, nesting
from grader.results import FitRecord

MAX_JSON_BYTES = 16 * 2**20
MAX_VARIABLE_BYTES = 256 * 2**20
"""The data variables the kernel summarises: labels in full and 24 sampled images each, a few
megabytes for any course exercise."""


class MissingInput(Exception):  # a reason for failing a check, not an error
    """A check's input does not exist (cell errored, variable missing); the check fails."""


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


L = t.TypeVar("L")


def without_input(layers: t.Iterable[L]) -> list[L]:
    """Layers as a rubric counts them: without the input layer, which Keras lists first in a
    functional model and leaves out of a sequential one. Takes layers or :class:`LayerState`."""
    return [
        x
        for x in layers
        if (x.cls if isinstance(x, LayerState) else type(x).__name__) != "InputLayer"
    ]


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


@dataclass
class Artefacts:
    """Everything the notebook left for the grader, validated."""

    folder: Path
    fits: list[FitCapture]
    roles: dict[str, int]
    """Role -> model id (matches ``FitCapture.model_id``)."""
    role_variables: dict[str, str]
    """Role -> the notebook variable it was found in."""
    role_errors: dict[str, str]
    variables: dict[str, VariableSummary]
    variable_errors: dict[str, str]
    notes: list[str] = field(default_factory=list)
    """Artefacts that were malformed and ignored, one line each."""
    max_bytes: int = 2**31
    """The most one model file may unpack to."""
    record_problems: list[str] = field(default_factory=list)
    """Fits whose record is missing or unusable, so that no check can tell which model they
    trained: every check relying on fit records fails on them."""
    _models: dict[tuple[str, str], t.Any] = field(default_factory=dict)
    _compile: dict[str, dict[str, t.Any] | None] = field(default_factory=dict)
    _checkpoints: dict[str, tuple[int, list[LayerState]] | str | None] = field(default_factory=dict)

    def model(self, role: str, *, when: t.Literal["final", "trained"] = "final") -> t.Any:
        """A role's model (cached).

        ``final`` is the model at the end of the notebook; ``trained`` the same model with the
        weights and trainable flags it had right after its own last ``fit`` (the final model
        when it was never trained, or its layers changed since).

        Raises:
            MissingInput: no notebook variable holds that role's model, or it was refused.
        """
        key = (role, when)
        if key not in self._models:
            final = self._load_final(role)
            self._models[key] = final if when == "final" else self._trained(role, final)
        return self._models[key]

    def compile_config(self, role: str) -> dict[str, t.Any] | None:
        """The arguments the role's model was compiled with, as saved (None: never compiled)."""
        self._load_final(role)
        return self._compile[role]

    def _load_final(self, role: str) -> t.Any:
        if (role, "final") in self._models:
            return self._models[(role, "final")]
        if role in self.role_errors:
            raise MissingInput(f"the {role} model could not be saved: {self.role_errors[role]}")
        path = self.folder / layout.model_file(role)
        if not path.is_file():
            raise MissingInput(f"no {role} model found in the notebook")
        model, self._compile[role] = self._load(path, role)
        self._models[(role, "final")] = model
        return model

    def first_checkpoint(self, role: str) -> tuple[int, list[LayerState]] | str | None:
        """The role's final model (the same model object, by the kernel's id) as the earliest
        complete checkpoint that holds it saved it: its number and layers. None when no
        checkpoint holds it (artefacts made without a kernel's cells); why, when the earliest
        one is unusable (a later one cannot stand in: the model may have been trained since).

        A checkpoint is taken after the cell that wrote it and never read again, so what it
        holds is the model as that cell left it, out of reach of every later cell.
        """
        if role in self._checkpoints:
            return self._checkpoints[role]
        model_id = self.roles.get(role)
        found: tuple[int, list[LayerState]] | str | None = None
        folder = self.folder / layout.CHECKPOINTS
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        numbered = sorted(
            named[0]
            for name in names
            if (named := layout.final_of_checkpoint(name)) is not None and named[1] == layout.ROLES
        )
        for number in numbered:
            table = self.folder / layout.checkpoint_file(number, layout.ROLES)
            entry = _json_object(table, []).get(role)
            if not isinstance(entry, dict) or entry.get("model_id") != model_id:
                continue
            path = self.folder / layout.checkpoint_file(number, layout.model_file(role))
            if "error" in entry or not path.is_file():
                found = f"checkpoint {number} holds no usable {role} model"
                break
            try:
                found = (number, layer_states(self._load(path, role)[0]))
            except MissingInput as exc:
                found = f"checkpoint {number}'s {role} model is unusable ({exc})"
            break
        self._checkpoints[role] = found
        return found

    def _load(self, path: Path, role: str) -> tuple[t.Any, dict[str, t.Any] | None]:
        """A saved model (with its nested models' flags) and its compile arguments, loaded
        after its archive passed the allow-list.

        Raises:
            MissingInput: the archive was refused or cannot be rebuilt.
        """
        try:
            archive = inspect_archive(path, max_bytes=self.max_bytes)
        except ModelRefused as exc:
            raise MissingInput(f"the {role} model was not loaded: {exc}") from exc
        keras = keras_env.keras()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # compile=False: the compile check reads the saved arguments, so no optimizer,
            # loss or metric object of the student's is ever built.
            try:
                model = keras.saving.load_model(path, safe_mode=True, compile=False)
            except Exception as exc:  # a wrong model that cannot be rebuilt fails its checks
                why = unbuildable(archive.config, exc)
                raise MissingInput(f"the {role} model was not loaded: {why}") from exc
        _restore_container_flags(model, archive.config)
        return model, archive.compile_config

    def _trained(self, role: str, final: t.Any) -> t.Any:
        fits = self.fits_of(role)
        if not fits:
            return final
        snapshot = self.folder / layout.snapshot(fits[-1].index, "after")
        try:
            arrays = read_npz(snapshot, max_bytes=self.max_bytes)
        except (OSError, UnreadableArrays):
            return final
        layers = fits[-1].layers
        if [(s.name, s.cls) for s in layers] != [
            (leaf.layer.name, type(leaf.layer).__name__) for leaf in nesting.leaves(final)
        ]:
            return final  # the model was changed after training: judge it as it ended
        keras = keras_env.keras()
        model = keras.models.clone_model(final)
        try:
            for i, (leaf, state) in enumerate(zip(nesting.leaves(model), layers, strict=True)):
                layer = leaf.layer
                weights = [arrays[layout.weight_key(i, j)] for j in range(len(layer.weights))]
                layer.set_weights(weights)
                layer.trainable = state.trainable
        except (KeyError, ValueError):
            return final
        return model

    def fits_of(self, role: str) -> list[FitCapture]:
        """The ``fit`` calls made on a role's model that finished, in order."""
        return [f for f in self.attempts_of(role) if not f.raised]

    def attempts_of(self, role: str) -> list[FitCapture]:
        """Every ``fit`` call made on a role's model, those that raised included."""
        model_id = self.roles.get(role)
        return [f for f in self.fits if f.model_id == model_id] if model_id is not None else []

    def variable(self, name: str) -> VariableSummary:
        if name in self.variable_errors:
            raise MissingInput(f"variable {name} is unusable: {self.variable_errors[name]}")
        if name not in self.variables:
            raise MissingInput(f"variable {name} is not defined in the notebook")
        return self.variables[name]

    def fit_records(self) -> list[FitRecord]:
        """Fits as reported in ``result.json``, with the model named by its rubric role."""
        role_of = {mid: role for role, mid in self.roles.items()}
        return [
            FitRecord(
                model=role_of.get(f.model_id, "other"),
                epochs_requested=f.epochs_requested,
                epochs_run=f.epochs_run,
                samples_requested=f.samples_requested,
                samples_used=f.samples_used,
                history=f.history,
            )
            for f in self.fits
            if not f.raised
        ]


def read_artefacts(folder: Path, *, max_bytes: int = 2**31) -> Artefacts:
    """Validate and load the artefact folder (any part may be missing).

    Args:
        folder: the grader's copy of what the kernel wrote (:mod:`grader.judge.evidence`).
        max_bytes: the most any one file may declare (arrays) or unpack to (models).
    """
    notes: list[str] = []
    roles: dict[str, int] = {}
    role_variables: dict[str, str] = {}
    role_errors: dict[str, str] = {}
    for role, info in _json_object(folder / layout.ROLES, notes).items():
        if isinstance(info, dict) and isinstance(info.get("model_id"), int):
            roles[role] = info["model_id"]
            role_variables[role] = str(info.get("variable", ""))[:200]
            if "error" in info:
                role_errors[role] = str(info["error"])[:2000]
    role_ids = set(roles.values())
    fits = []
    for path in sorted((folder / layout.FITS).glob("*.json"), key=lambda p: int(p.stem)):
        raw = _json_object(path, notes)
        model_id = raw.get("model_id")
        digested = isinstance(model_id, int) and model_id in role_ids
        try:
            fits.append(_fit_from(raw, folder, digested, max_bytes))
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(f"the record of fit {path.stem} is malformed and was ignored ({exc})")
    count = _json_object(folder / layout.ROLES, []).get(layout.FIT_COUNT)
    record_problems = _missing_records(fits, count if isinstance(count, int) else None)
    variables, variable_errors = _variables(folder, max_bytes, notes)
    return Artefacts(
        folder,
        fits,
        roles,
        role_variables,
        role_errors,
        variables,
        variable_errors,
        notes,
        max_bytes,
        record_problems,
    )


def _missing_records(fits: list[FitCapture], count: int | None) -> list[str]:
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


def _restore_container_flags(model: t.Any, config: dict[str, t.Any]) -> None:
    """Give each nested model the trainable flag it was saved with: Keras 3.15 loads a
    Sequential nested in another model as trainable whatever its saved flag (its layers keep
    theirs), which would make a frozen ``base`` look trainable."""
    saved = {
        str(c.get("name")): c.get("trainable")
        for c in _nested_configs(config.get("config", {}))
        if isinstance(c, dict)
    }
    for container in _containers(model):
        if saved.get(container.name) is False and container.trainable:
            container.trainable = False


def _nested_configs(config: t.Any, depth: int = 0) -> t.Iterator[dict[str, t.Any]]:
    """The configs of every layer with layers of its own, at any depth (bounded)."""
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list) or depth > 50:
        return
    for layer in layers:
        inner = layer.get("config") if isinstance(layer, dict) else None
        if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
            yield inner
            yield from _nested_configs(inner, depth + 1)


def _containers(model: t.Any) -> t.Iterator[t.Any]:
    for layer in model.layers:
        if nesting.is_container(layer):
            yield layer
            yield from _containers(layer)


def _variables(
    folder: Path, max_bytes: int, notes: list[str]
) -> tuple[dict[str, VariableSummary], dict[str, str]]:
    summaries = _json_object(folder / layout.VARIABLES, notes)
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
    """Variable summaries (as :func:`grader.kernel.runtime.summarise_variables` makes them),
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


def _json_object(path: Path, notes: list[str]) -> dict[str, t.Any]:
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


def _fit_from(raw: dict[str, t.Any], folder: Path, digested: bool, max_bytes: int) -> FitCapture:
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
