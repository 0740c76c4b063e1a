"""Read back, in the judge, what a PyTorch kernel left for grading (as the grader copied it).

The PyTorch counterpart of :mod:`grader.artefacts.folder`. The files are those of
:mod:`grader.framework.pytorch.kernel.layout`, all hostile input: each JSON file is bounded in size
and checked field by field (types, lengths, numbers in range, names without control characters:
:mod:`grader.framework.pytorch.judge.records`); whatever does not conform is ignored with a note.
Models are ONNX graphs, checked before any runtime sees them
(:mod:`grader.framework.pytorch.judge.models`); nothing is unpickled or ``torch.load``-ed.

:class:`TorchArtefacts` is an :class:`~grader.artefacts.folder.Artefacts`, so the shared checks work
unchanged: ``model(role)`` gives an object with Keras' ``predict`` (the ``accuracy`` check
measures the ONNX graph on the held-back images), and ``fit_records()`` reports each role's
training passes as ``fits``.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from grader.artefacts.folder import Artefacts, MissingInput
from grader.framework.pytorch.judge.models import (
    OnnxClassifier,
    OnnxRefused,
    check_graph,
    description_matches,
    graph_ops,
)
from grader.framework.pytorch.judge.records import (
    MAX_PASSES,
    Malformed,
    MetricCall,
    OptimizerRecord,
    PassRecord,
    bounded_list,
    numbers,
    parse_description,
    parse_metric,
    parse_optimizer,
    parse_pass,
    text,
)
from grader.framework.pytorch.kernel import layout
from grader.results import FitRecord

if t.TYPE_CHECKING:
    from grader.rubric import Assignment
    from grader.rubric.pytorch import TorchSpec

MAX_JSON_BYTES = 16 * 2**20
MAX_CELL_FILES = 2000
_PREPROCESSING = ("ToTensor", "Normalize")
"""A test transform the judge can apply to the held-back images itself: ``ToTensor``, then at
most one ``Normalize``. Anything else (resizing, colour changes) falls back to the rubric's."""


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
            path = self.folder / layout.FOLDER / layout.model_files(role)[0]
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

    def module_key(self, role: str) -> int:
        """The key of the module object the role was judged on: records made with that object
        (optimizers, metric calls) are the role's, in whichever cell they were made.

        Raises:
            MissingInput: no module was taken for the role, or the kernel gave it no key.
        """
        key = self.description(role).get("module")
        if not isinstance(key, int):
            raise MissingInput(f"the {role} model's records cannot be told from another's")
        return key

    def optimizers_of(self, role: str) -> list[OptimizerRecord]:
        """The optimizers that held the role's module's parameters (as its record lists them,
        or as each optimizer's record names its module), oldest first."""
        described = self.description(role)
        keys = set(described.get("optimizers", []))
        module = described.get("module")
        if isinstance(module, int):
            keys |= {k for k, o in self.optimizers.items() if o.module == module}
        return [self.optimizers[k] for k in sorted(keys) if k in self.optimizers]

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
            if numbers(mean, channels) and numbers(std, channels):
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
        folder: the grader's copy of what the kernel wrote (:mod:`grader.judge.evidence`).
        assignment: the rubric: its roles and its ``[torch]`` table.
        max_bytes: the most any one model file may hold.
    """
    notes: list[str] = []
    root = folder / layout.FOLDER
    passes: dict[int, PassRecord] = {}
    optimizers: dict[int, OptimizerRecord] = {}
    calls: list[MetricCall] = []
    cells = sorted(
        (int(m.group(1)), p)
        for p in (root.iterdir() if root.is_dir() else [])
        if (m := layout.CELL_FILE.fullmatch(p.name))
    )[:MAX_CELL_FILES]
    for _, path in cells:
        try:
            raw = _json_object(path)
            cell = text(raw.get("cell", ""), "a cell id")
            for item in bounded_list(raw.get("passes", []), MAX_PASSES, "passes"):
                record = parse_pass(item, cell)
                passes[record.index] = record  # a pass spanning cells: its latest counts
            for item in bounded_list(raw.get("optimizers", []), 1000, "optimizers"):
                record_o = parse_optimizer(item)
                optimizers[record_o.key] = record_o
            for item in bounded_list(raw.get("metrics", []), 1000, "metrics"):
                if isinstance(item, dict) and "error" not in item:
                    calls.append(parse_metric(item, cell))
        except (Malformed, KeyError, TypeError, ValueError, RecursionError) as exc:
            notes.append(f"{path.name} was ignored: {str(exc)[:200]}")
    descriptions: dict[str, dict[str, t.Any]] = {}
    role_variables: dict[str, str] = {}
    role_errors: dict[str, str] = {}
    for role in assignment.roles:
        path = root / layout.model_files(role)[1]
        if not path.is_file():
            continue
        try:
            raw = _json_object(path)
            if "error" in raw:
                role_errors[role] = text(raw["error"], "an error", 1000)
            if raw.get("variable"):
                role_variables[role] = text(raw["variable"], "a variable")
            if "error" not in raw:
                descriptions[role] = parse_description(raw)
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
