"""Read back, and validate, what the kernel left in the artefact folder.

Nothing here is trusted as it comes: JSON is type-checked field by field, arrays are read with
``allow_pickle=False``, and models are loaded with ``safe_mode=True`` in the grader process,
out of reach of anything the student's code patched in its kernel.
"""

from __future__ import annotations

import json
import typing as t
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import keras_env
from grader.results import FitRecord


class MissingInput(Exception):  # a reason for failing a check, not an error
    """A check's input does not exist (cell errored, variable missing); the check fails."""


@dataclass(frozen=True)
class LayerState:
    name: str
    cls: str
    trainable: bool
    weights: tuple[str, ...]
    """Digest of each weight array."""


@dataclass(frozen=True)
class FitCapture:
    """One ``fit`` call as recorded in the kernel."""

    index: int
    model_id: int
    model_name: str
    epochs_requested: int
    epochs_run: int
    samples_requested: int
    samples_used: int
    history: dict[str, list[float]]
    before: tuple[LayerState, ...] | None
    after: tuple[LayerState, ...]


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
    _models: dict[tuple[str, str], t.Any] = field(default_factory=dict)

    def model(self, role: str, *, when: t.Literal["final", "trained"] = "final") -> t.Any:
        """Load a role's model with ``safe_mode=True`` (cached).

        ``final`` is the model at the end of the notebook; ``trained`` the same model as it was
        right after its own last ``fit`` (falls back to ``final`` if it was never trained).

        Raises:
            MissingInput: no notebook variable holds that role's model.
        """
        key = (role, when)
        if key not in self._models:
            path = self.folder / "models" / f"{role}.keras"
            if when == "trained" and role in self.roles:
                snapshot = self.folder / "snapshots" / f"{self.roles[role]}.keras"
                path = snapshot if snapshot.is_file() else path
            if role in self.role_errors:
                raise MissingInput(f"the {role} model could not be saved: {self.role_errors[role]}")
            if not path.is_file():
                raise MissingInput(f"no {role} model found in the notebook")
            keras = keras_env.keras()
            with warnings.catch_warnings():
                # The saved optimizer state never matches a fresh one; it is not used here.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                self._models[key] = keras.saving.load_model(path, safe_mode=True, compile=True)
        return self._models[key]

    def fits_of(self, role: str) -> list[FitCapture]:
        """The ``fit`` calls made on a role's model, in order."""
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
        ]


def read_artefacts(folder: Path) -> Artefacts:
    """Validate and load the artefact folder the kernel wrote (any part may be missing)."""
    fits = []
    fits_path = folder / "fits.jsonl"
    if fits_path.is_file():
        for line in fits_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                fits.append(_fit_from(json.loads(line)))
    roles: dict[str, int] = {}
    role_variables: dict[str, str] = {}
    role_errors: dict[str, str] = {}
    for role, info in _json_object(folder / "roles.json").items():
        if isinstance(info, dict) and isinstance(info.get("model_id"), int):
            roles[role] = info["model_id"]
            role_variables[role] = str(info.get("variable", ""))
            if "error" in info:
                role_errors[role] = str(info["error"])
    variables: dict[str, VariableSummary] = {}
    variable_errors: dict[str, str] = {}
    summaries = _json_object(folder / "variables.json")
    arrays: dict[str, np.ndarray] = {}
    if (folder / "variables.npz").is_file():
        with np.load(folder / "variables.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    for name, info in summaries.items():
        if not isinstance(info, dict):
            continue
        if "error" in info:
            variable_errors[name] = str(info["error"])
        elif name in arrays:
            variables[name] = VariableSummary(
                shape=tuple(int(d) for d in info["shape"]),
                dtype=str(info["dtype"]),
                min=float(info["min"]),
                max=float(info["max"]),
                rows=tuple(int(r) for r in info["rows"]),
                values=arrays[name],
            )
    return Artefacts(folder, fits, roles, role_variables, role_errors, variables, variable_errors)


def _json_object(path: Path) -> dict[str, t.Any]:
    if not path.is_file():
        return {}
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path.name}: expected a JSON object")
    return value


def _layers(raw: t.Any) -> tuple[LayerState, ...]:
    if not isinstance(raw, list):
        raise ValueError("layer states must be a list")
    return tuple(
        LayerState(
            str(x["name"]),
            str(x["class"]),
            bool(x["trainable"]),
            tuple(str(w) for w in x["weights"]),
        )
        for x in raw
    )


def _fit_from(raw: t.Any) -> FitCapture:
    if not isinstance(raw, dict):
        raise ValueError("fit record must be a JSON object")
    history = raw.get("history", {})
    return FitCapture(
        index=int(raw["index"]),
        model_id=int(raw["model_id"]),
        model_name=str(raw["model_name"]),
        epochs_requested=int(raw["epochs_requested"]),
        epochs_run=int(raw["epochs_run"]),
        samples_requested=int(raw["samples_requested"]),
        samples_used=int(raw["samples_used"]),
        history={str(k): [float(v) for v in vals] for k, vals in history.items()},
        before=_layers(raw["layers_before"]) if raw.get("layers_before") is not None else None,
        after=_layers(raw["layers_after"]),
    )
