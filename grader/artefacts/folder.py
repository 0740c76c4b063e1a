"""Read back, in the judge, what the kernel left for grading (as the grader copied it).

Runs in the judge process (:mod:`grader.judge.__main__`), never in the grader: it deserialises what
a student's kernel wrote. Nothing is trusted as it comes: the records (fits, data variables)
are type-checked field by field (:mod:`grader.artefacts.records`), arrays are read within a
declared-size bound and without pickles (:mod:`grader.artefacts.arrays`), and a model is loaded
only after its config passed the allow-list (:mod:`grader.artefacts.policy`), then with
``safe_mode=True``. Every weight digest is computed in the judge, from the arrays: the kernel's
records say which model a ``fit`` trained and how long, never what its weights were.
"""

from __future__ import annotations

import typing as t
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader import keras_env
from grader.artefacts.arrays import UnreadableArrays, read_npz
from grader.artefacts.policy import ModelRefused, inspect_archive
from grader.artefacts.records import (
    FitCapture,
    LayerState,
    VariableSummary,
    fit_from,
    json_object,
    layer_states,
    missing_records,
    read_variables,
)
from grader.artefacts.unbuilt import unbuildable
from grader.kernel import layout, nesting
from grader.results import FitRecord


class MissingInput(Exception):  # a reason for failing a check, not an error
    """A check's input does not exist (cell errored, variable missing); the check fails."""


L = t.TypeVar("L")


def without_input(layers: t.Iterable[L]) -> list[L]:
    """Layers as a rubric counts them: without the input layer, which Keras lists first in a
    functional model and leaves out of a sequential one. Takes layers or :class:`LayerState`."""
    return [
        x
        for x in layers
        if (x.cls if isinstance(x, LayerState) else type(x).__name__) != "InputLayer"
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
            entry = json_object(table, []).get(role)
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
    for role, info in json_object(folder / layout.ROLES, notes).items():
        if isinstance(info, dict) and isinstance(info.get("model_id"), int):
            roles[role] = info["model_id"]
            role_variables[role] = str(info.get("variable", ""))[:200]
            if "error" in info:
                role_errors[role] = str(info["error"])[:2000]
    role_ids = set(roles.values())
    fits = []
    for path in sorted((folder / layout.FITS).glob("*.json"), key=lambda p: int(p.stem)):
        raw = json_object(path, notes)
        model_id = raw.get("model_id")
        digested = isinstance(model_id, int) and model_id in role_ids
        try:
            fits.append(fit_from(raw, folder, digested, max_bytes))
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(f"the record of fit {path.stem} is malformed and was ignored ({exc})")
    count = json_object(folder / layout.ROLES, []).get(layout.FIT_COUNT)
    record_problems = missing_records(fits, count if isinstance(count, int) else None)
    variables, variable_errors = read_variables(folder, max_bytes, notes)
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
