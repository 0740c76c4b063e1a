"""Read back, in the judge, what a PyTorch kernel left for grading (as the grader copied it).

The PyTorch counterpart of :mod:`grader.capture`. The files are those of
:mod:`grader.kernel.torch_layout`, all hostile input: each JSON file is bounded in size and
checked field by field (types, lengths, numbers in range, names without control characters);
whatever does not conform is ignored with a note. Models are ONNX graphs, checked before any
runtime sees them (:mod:`grader.judge.torch_models`); nothing is unpickled or ``torch.load``-ed.

:class:`TorchArtefacts` is an :class:`~grader.capture.Artefacts`, so the shared checks work
unchanged: ``model(role)`` gives an object with Keras' ``predict`` (the ``accuracy`` check
measures the ONNX graph on the held-back images), and ``fit_records()`` reports each role's
training passes as ``fits``.
"""

from __future__ import annotations

import json
import math
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.judge.artefacts import Artefacts, MissingInput
from grader.judge.torch_models import (
    OnnxClassifier,
    OnnxRefused,
    check_graph,
    description_matches,
    graph_ops,
)
from grader.kernel import torch_layout
from grader.kernel.torch_describe import MAX_MODULES, MAX_OPS
from grader.results import FitRecord

if t.TYPE_CHECKING:
    from grader.rubric import Assignment
    from grader.rubric_torch import TorchSpec

MAX_JSON_BYTES = 16 * 2**20
MAX_CELL_FILES = 2000
MAX_PASSES = 20_000
MAX_LABELS = 200_000
MAX_LIST = 64
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{0,200}")
_PREPROCESSING = ("ToTensor", "Normalize")
"""A test transform the judge can apply to the held-back images itself: ``ToTensor``, then at
most one ``Normalize``. Anything else (resizing, colour changes) falls back to the rubric's."""


class Malformed(ValueError):
    """A record does not have the shape the runtime writes."""


@dataclass(frozen=True)
class PassRecord:
    """One pass over a DataLoader, as the kernel recorded it."""

    index: int
    cell: str
    split: str
    """``train`` or ``test`` (the grader's data sets), ``other`` (anything else)."""
    dataset: str
    transform: tuple[dict[str, t.Any], ...] | None
    """The data set's transform pipeline when the pass began (None: no such attribute)."""
    batch_size: int | None
    dataset_size: int | None
    batches: int
    samples: int
    skipped: bool
    """The budget skipped it: the optimizer in use had its training passes."""
    steps: dict[int, int]
    """Optimizer key -> steps it took during the pass."""
    loss: float | None
    """Mean of the scalar losses back-propagated during the pass."""
    losses: tuple[str, ...]
    """Loss modules and functions called during the pass."""
    optimizer: int | None
    """For a skipped pass, the optimizer it was charged to."""

    @property
    def training(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True)
class OptimizerRecord:
    key: int
    cls: str
    hyper: dict[str, t.Any]
    passes: int
    skipped: int


@dataclass(frozen=True)
class MetricCall:
    """One call of a scikit-learn metric in the notebook: what it was given and returned."""

    cell: str
    function: str
    options: dict[str, t.Any]
    weighted: bool
    y_true: np.ndarray
    y_pred: np.ndarray
    result: t.Any


@dataclass
class TorchArtefacts(Artefacts):
    """Everything a PyTorch notebook left for the grader, validated."""

    spec: TorchSpec | None = None
    passes: list[PassRecord] = field(default_factory=list)
    optimizers: dict[int, OptimizerRecord] = field(default_factory=dict)
    metric_calls: list[MetricCall] = field(default_factory=list)
    descriptions: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    _graphs: dict[str, t.Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        assert self.spec is not None
        return self.spec.input_shape

    def description(self, role: str) -> dict[str, t.Any]:
        """The role's module as the kernel described it (validated).

        Raises:
            MissingInput: no module was taken for the role, or its export failed.
        """
        if role in self.role_errors:
            raise MissingInput(f"the {role} model could not be taken: {self.role_errors[role]}")
        if role not in self.descriptions:
            raise MissingInput(f"no {role} model found in the notebook")
        return self.descriptions[role]

    def graph(self, role: str) -> t.Any:
        """The role's checked ONNX graph (``onnx.ModelProto``).

        Raises:
            MissingInput: absent, or refused by the allow-list (the reason is given).
        """
        if role not in self._graphs:
            self.description(role)
            path = self.folder / torch_layout.FOLDER / torch_layout.model_files(role)[0]
            if not path.is_file():
                raise MissingInput(f"the {role} model was not exported")
            try:
                data = _read_bounded(path, min(self.max_bytes, 2**31))
                self._graphs[role] = (check_graph(data, self.input_shape), data)
            except (OnnxRefused, OSError) as exc:
                raise MissingInput(f"the {role} model was not loaded: {exc}") from exc
        return self._graphs[role][0]

    def model(self, role: str, *, when: t.Literal["final", "trained"] = "final") -> t.Any:
        """The role's ONNX graph behind ``predict``, fed as the notebook's test transform
        feeds it. A PyTorch module is taken once, trained: ``when`` changes nothing.

        Raises:
            MissingInput: see :meth:`graph`.
        """
        key = (role, "final")
        if key not in self._models:
            self.graph(role)
            mean, std = self.test_normalisation()
            self._models[key] = OnnxClassifier(
                self._graphs[role][1], input_shape=self.input_shape, mean=mean, std=std
            )
        return self._models[key]

    def structure(self, role: str) -> tuple[list[dict[str, t.Any]], str]:
        """The role's operations and where they come from: ``fx`` (the kernel's trace, when it
        agrees with the graph) or ``onnx`` (the judge's reading of the graph)."""
        described = self.description(role).get("ops")
        graph = self.graph(role)
        if described is not None and description_matches(described, graph):
            return described, "fx"
        return graph_ops(graph), "onnx"

    def test_normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The mean and std of the notebook's test transform (its last pass over the test
        split), when it is ``ToTensor`` and a ``Normalize``; else the rubric's."""
        assert self.spec is not None
        return test_normalisation(self.passes, self.spec)

    def optimizers_of(self, role: str) -> list[OptimizerRecord]:
        """The optimizers that held the role's module's parameters."""
        keys = self.description(role).get("optimizers", [])
        return [self.optimizers[k] for k in keys if k in self.optimizers]

    def fit_records(self) -> list[FitRecord]:
        """Each role's training, as ``fits`` in ``result.json``: one record per role."""
        roles = {
            role: [k for k in desc.get("optimizers", []) if isinstance(k, int)]
            for role, desc in self.descriptions.items()
        }
        return training_runs(self.passes, roles)


def test_normalisation(
    passes: t.Sequence[PassRecord], spec: TorchSpec
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std of the test transform of the last pass over the test split, when it is
    ``ToTensor`` (then a ``Normalize``); else the rubric's. The held-back images go through it
    as the notebook's own test images did."""
    channels = spec.input_shape[0]
    for record in reversed(passes):
        if record.split != "test" or not record.transform:
            continue
        types = [entry.get("type") for entry in record.transform]
        if types == ["ToTensor"]:
            return (0.0,), (1.0,)
        if types == list(_PREPROCESSING):
            mean, std = record.transform[1].get("mean"), record.transform[1].get("std")
            if _numbers(mean, channels) and _numbers(std, channels):
                assert isinstance(mean, list) and isinstance(std, list)
                if all(s > 0 for s in std):
                    return tuple(map(float, mean)), tuple(map(float, std))
        break
    return spec.mean, spec.std


def training_runs(passes: t.Sequence[PassRecord], roles: dict[str, list[int]]) -> list[FitRecord]:
    """One :class:`FitRecord` per role that trained: its training passes as epochs.

    ``epochs_requested`` counts the passes the loop started (the skipped ones too),
    ``epochs_run`` those during which the role's optimizer stepped; samples are those of the
    first training pass; ``history`` holds the mean loss of each training pass.
    """
    out = []
    for role, keys in roles.items():
        trained = [p for p in passes if any(k in p.steps for k in keys)]
        if not trained:
            continue
        skipped = [p for p in passes if p.skipped and p.optimizer in keys]
        losses = [p.loss for p in trained if p.loss is not None]
        out.append(
            FitRecord(
                model=role,
                epochs_requested=len(trained) + len(skipped),
                epochs_run=len(trained),
                samples_requested=trained[0].dataset_size or trained[0].samples,
                samples_used=trained[0].samples,
                history={"loss": losses} if len(losses) == len(trained) else {},
            )
        )
    return out


def read_torch_artefacts(
    folder: Path, assignment: Assignment, *, max_bytes: int = 2**31
) -> TorchArtefacts:
    """Validate and load a PyTorch notebook's artefact folder (any part may be missing).

    Args:
        folder: the grader's copy of what the kernel wrote (:mod:`grader.evidence`).
        assignment: the rubric: its roles and its ``[torch]`` table.
        max_bytes: the most any one model file may hold.
    """
    notes: list[str] = []
    root = folder / torch_layout.FOLDER
    passes: dict[int, PassRecord] = {}
    optimizers: dict[int, OptimizerRecord] = {}
    calls: list[MetricCall] = []
    cells = sorted(
        (int(m.group(1)), p)
        for p in (root.iterdir() if root.is_dir() else [])
        if (m := torch_layout.CELL_FILE.fullmatch(p.name))
    )[:MAX_CELL_FILES]
    for _, path in cells:
        try:
            raw = _json_object(path)
            cell = _text(raw.get("cell", ""), "a cell id")
            for item in _list(raw.get("passes", []), MAX_PASSES, "passes"):
                record = parse_pass(item, cell)
                passes[record.index] = record  # a pass spanning cells: its latest counts
            for item in _list(raw.get("optimizers", []), 1000, "optimizers"):
                record_o = _optimizer(item)
                optimizers[record_o.key] = record_o
            for item in _list(raw.get("metrics", []), 1000, "metrics"):
                if isinstance(item, dict) and "error" not in item:
                    calls.append(_metric(item, cell))
        except (Malformed, KeyError, TypeError, ValueError, RecursionError) as exc:
            notes.append(f"{path.name} was ignored: {str(exc)[:200]}")
    descriptions: dict[str, dict[str, t.Any]] = {}
    role_variables: dict[str, str] = {}
    role_errors: dict[str, str] = {}
    for role in assignment.roles:
        path = root / torch_layout.model_files(role)[1]
        if not path.is_file():
            continue
        try:
            raw = _json_object(path)
            if "error" in raw:
                role_errors[role] = _text(raw["error"], "an error", 1000)
            if "variable" in raw:
                role_variables[role] = _text(raw["variable"], "a variable")
            if "error" not in raw:
                descriptions[role] = _description(raw)
        except (Malformed, KeyError, TypeError, ValueError, RecursionError) as exc:
            notes.append(f"{path.name} was ignored: {str(exc)[:200]}")
    return TorchArtefacts(
        folder=folder,
        fits=[],
        roles={},
        role_variables=role_variables,
        role_errors=role_errors,
        variables={},
        variable_errors={},
        notes=notes,
        max_bytes=max_bytes,
        spec=assignment.torch,
        passes=[passes[i] for i in sorted(passes)],
        optimizers=optimizers,
        metric_calls=calls,
        descriptions=descriptions,
    )


# --- validation ------------------------------------------------------------------------------


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit:,} bytes")
    return data


def _json_object(path: Path) -> dict[str, t.Any]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise Malformed(f"larger than {MAX_JSON_BYTES:,} bytes")
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise Malformed("not a JSON object")
    return value


def _text(value: t.Any, what: str, limit: int = 200) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise Malformed(f"{what} must be text of at most {limit} characters")
    if limit <= 200 and not _TEXT.fullmatch(value):
        raise Malformed(f"{what} holds control characters")
    return value


def _int(value: t.Any, what: str, low: int = 0, high: int = 2**62) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Malformed(f"{what} must be an integer in [{low}, {high}]")
    return value


def _optional_int(value: t.Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _list(value: t.Any, limit: int, what: str) -> list[t.Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise Malformed(f"{what} must be a list of at most {limit}")
    return value


def _scalar(value: t.Any) -> t.Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Malformed("a number is not finite")
        return value
    if isinstance(value, str):
        return _text(value, "a value")
    raise Malformed(f"unexpected value of type {type(value).__name__}")


def _value(value: t.Any) -> t.Any:
    """A configuration value: a scalar, or a short list of scalars (one level)."""
    if isinstance(value, list):
        return [_scalar(v) for v in _list(value, MAX_LIST, "a list value")]
    return _scalar(value)


def _config(value: t.Any) -> dict[str, t.Any]:
    if not isinstance(value, dict) or len(value) > MAX_LIST:
        raise Malformed("a configuration must be an object of at most 64 fields")
    return {_text(k, "a field name"): _value(v) for k, v in value.items()}


def _numbers(value: t.Any, channels: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) in (1, channels)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _transform(value: t.Any) -> tuple[dict[str, t.Any], ...] | None:
    if value is None:
        return None
    out = []
    for entry in _list(value, 50, "a transform pipeline"):
        config = _config(entry)
        _text(config.get("type"), "a transform's type")
        out.append(config)
    return tuple(out)


def parse_pass(raw: t.Any, cell: str) -> PassRecord:
    """A pass record as the runtime writes it, validated.

    Raises:
        Malformed: it does not have the runtime's shape.
    """
    if not isinstance(raw, dict):
        raise Malformed("a pass must be an object")
    steps = raw.get("steps", {})
    if not isinstance(steps, dict) or len(steps) > 1000:
        raise Malformed("steps must be an object")
    count = _int(raw.get("loss_count", 0), "loss_count")
    total = raw.get("loss_sum", 0.0)
    if not isinstance(total, int | float) or isinstance(total, bool) or not math.isfinite(total):
        raise Malformed("loss_sum must be a number")
    return PassRecord(
        index=_int(raw["index"], "a pass index", 0, MAX_PASSES * 100),
        cell=cell,
        split=_text(raw["split"], "a split"),
        dataset=_text(raw["dataset"], "a data set"),
        transform=_transform(raw.get("transform")),
        batch_size=_optional_int(raw.get("batch_size"), "batch_size"),
        dataset_size=_optional_int(raw.get("dataset_size"), "dataset_size"),
        batches=_int(raw["batches"], "batches"),
        samples=_int(raw["samples"], "samples"),
        skipped=bool(raw.get("skipped", False) is True),
        steps={_int(int(k), "an optimizer key"): _int(v, "a step count") for k, v in steps.items()},
        loss=float(total) / count if count else None,
        losses=tuple(_text(n, "a loss name") for n in _list(raw.get("losses", []), 10, "losses")),
        optimizer=_optional_int(raw.get("optimizer"), "optimizer"),
    )


def _optimizer(raw: t.Any) -> OptimizerRecord:
    if not isinstance(raw, dict):
        raise Malformed("an optimizer must be an object")
    return OptimizerRecord(
        key=_int(raw["key"], "an optimizer key"),
        cls=_text(raw["class"], "an optimizer class"),
        hyper=_config(raw.get("hyper", {})),
        passes=_int(raw.get("passes", 0), "passes"),
        skipped=_int(raw.get("skipped", 0), "skipped"),
    )


def _labels(value: t.Any) -> np.ndarray:
    values = _list(value, MAX_LABELS, "labels")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise Malformed("labels must be integers")
    return np.asarray(values, dtype=np.int64)


def _metric(raw: dict[str, t.Any], cell: str) -> MetricCall:
    result = raw.get("result")
    if isinstance(result, list):
        rows = _list(result, 1000, "a matrix")
        result = [_list(row, 1000, "a row") if isinstance(row, list) else row for row in rows]
        flat = [v for row in result for v in (row if isinstance(row, list) else [row])]
        if len(flat) > 1_000_000 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in flat
        ):
            raise Malformed("a metric's matrix must hold numbers")
    else:
        result = _scalar(result)
    return MetricCall(
        cell=cell,
        function=_text(raw["function"], "a metric"),
        options=_config(raw.get("options", {})),
        weighted=raw.get("weighted_samples") is True,
        y_true=_labels(raw["y_true"]),
        y_pred=_labels(raw["y_pred"]),
        result=result,
    )


def _op(raw: t.Any, *, module: bool) -> dict[str, t.Any]:
    if not isinstance(raw, dict):
        raise Malformed("an operation must be an object")
    out = {
        "type": _text(raw["type"], "a layer type"),
        "config": _config(raw.get("config", {})),
        "params": _int(raw.get("params", 0), "a parameter count"),
        "trainable": raw.get("trainable") is not False,
    }
    if module:
        out["path"] = _text(raw["path"], "a module path")
        return out
    shape = _list(raw.get("output_shape", []), 8, "an output shape")
    out["name"] = _text(raw["name"], "an operation name")
    out["output_shape"] = [None if d is None else _int(d, "a dimension") for d in shape]
    return out


def _description(raw: dict[str, t.Any]) -> dict[str, t.Any]:
    ops = raw.get("ops")
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise Malformed("parameters must be an object")
    return {
        "variable": _text(raw.get("variable", ""), "a variable"),
        "class": _text(raw.get("class", ""), "a class name"),
        "modules": [
            _op(m, module=True) for m in _list(raw.get("modules", []), MAX_MODULES, "modules")
        ],
        "ops": None if ops is None else [_op(o, module=False) for o in _list(ops, MAX_OPS, "ops")],
        "trace_error": _text(raw.get("trace_error", ""), "a trace error", 1000),
        "parameters": {
            "trainable": _int(params.get("trainable", 0), "a parameter count"),
            "non_trainable": _int(params.get("non_trainable", 0), "a parameter count"),
        },
        "optimizers": [
            _int(k, "an optimizer key") for k in _list(raw.get("optimizers", []), 100, "optimizers")
        ],
    }
