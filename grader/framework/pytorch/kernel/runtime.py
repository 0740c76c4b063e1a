"""Runs inside a PyTorch notebook's kernel: serves the grader's data, caps loops, records them.

The PyTorch counterpart of :mod:`grader.kernel.runtime`, imported by the cells of
:mod:`grader.framework.pytorch.kernel.cells`. A hand-written training loop has no ``fit`` to cap, so
the budget caps what the loop consumes:

- **Data.** ``torchvision.datasets.CIFAR10`` and ``MNIST`` (any ``root``, ``download=True``
  included) serve the grader's arrays, the training set and the visible part of the test set, as PIL
  images through the notebook's own transforms, as torchvision would. Nothing is downloaded; the
  held-back images never reach the kernel (:mod:`grader.framework.pytorch.kernel.data`).
- **Budget.** Each pass over a ``DataLoader`` yields at most ``max_train_samples`` samples
  (``max_eval_samples`` over the test split), and ``len(loader)`` says so. A model gets at most
  ``max_epochs`` training passes (passes during which its optimizer stepped): once the current
  optimizer has had them, further passes over a data set that was trained on yield nothing.
  Every cap is printed in the notebook, as for Keras.
- **Records.** Each pass (which data, its transform pipeline, batches and samples, optimizer steps,
  mean loss), each optimizer (class and hyper-parameters), each scikit-learn metric call (arguments
  and result) is written per cell to ``torch/cell-<n>.json``; each rubric role's module is exported
  to ONNX and described (:mod:`grader.framework.pytorch.kernel.capture`) when the cell the rubric
  names ends, or at the end of the notebook.
- **Objects.** Passes, optimizers and metric calls carry the key of the module they were used with
  (:mod:`grader.framework.pytorch.kernel.modules`). A role's variable is a first guess: without one
  (a model built inside ``main()``), the role's module is the first that trained on the training
  data and no other role took; a role never built is recorded as such.

Everything written here is hostile input for the judge, which validates it and checks the
description against the ONNX graph; no score is computed here. The same class runs in the grader
process to calibrate the reference (:mod:`grader.framework.pytorch.calibrate`), under the same caps.
"""

from __future__ import annotations

import contextlib
import math
import random
import typing as t
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.budget import Budget
from grader.framework.pytorch.kernel import layout, values
from grader.framework.pytorch.kernel.capture import (
    artefact_folder,
    capture_module,
    find_module,
    write_once,
)
from grader.framework.pytorch.kernel.data import ServedData
from grader.framework.pytorch.kernel.modules import ModuleRecord, Modules, predicted_labels

MAX_METRIC_CALLS = 200
MAX_HELD = 8
"""Modules that trained kept alive by the runtime (roles take the first that trained)."""
METRIC_FUNCTIONS = (
    "accuracy_score",
    "confusion_matrix",
    "precision_score",
    "recall_score",
    "f1_score",
)
_METRIC_OPTIONS = ("average", "normalize", "labels", "zero_division", "pos_label")
_OPTIMIZER_FIELDS = (
    "lr",
    "momentum",
    "dampening",
    "nesterov",
    "weight_decay",
    "betas",
    "eps",
    "alpha",
    "rho",
    "amsgrad",
)
_LOSS_FUNCTIONS = ("cross_entropy", "nll_loss", "mse_loss")
_RUNTIME: Runtime | None = None


def install(config: dict[str, t.Any]) -> None:
    """The setup cell: seed, serve the data, cap and record loops (see the module docstring)."""
    global _RUNTIME
    from grader.framework.pytorch.environment import without_triton

    without_triton()  # before the notebook's first torch import (it may import TensorFlow too)
    if _RUNTIME is not None:
        _RUNTIME.uninstall()
    _RUNTIME = Runtime(config)
    _RUNTIME.install()
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        shell.events.register("post_run_cell", _RUNTIME.on_cell)
    limits = _RUNTIME.budget.limits()
    if limits:
        caps = ", ".join(f"{k}={v}" for k, v in limits.items())
        print(
            f"[grader] budget '{_RUNTIME.budget.name}': {caps}, applied to every DataLoader "
            f"(data: {config['data_note']})"
        )


def finish(namespace: dict[str, t.Any]) -> None:
    """The closing cell: take the roles not taken yet, and write the last records.

    A role tied to a cell that never ran (a notebook whose cells lost their ids, say) is taken
    here too, as the notebook left it: judged rather than missing, and its record says so.
    """
    if _RUNTIME is None:
        return
    _RUNTIME.capture_remaining(namespace)
    _RUNTIME.flush(0, "end of notebook")


@dataclass
class _Optimizer:
    key: int
    cls: str
    created: int
    last_step: int = -1
    hyper: dict[str, t.Any] = field(default_factory=dict)
    params: dict[int, weakref.ref[t.Any]] = field(default_factory=dict)
    """Its parameters by id, held weakly: which module it trained outlives the optimizer."""
    module: int | None = None
    """The key of the module owning its parameters (see
    :mod:`~grader.framework.pytorch.kernel.modules`)."""
    looked: int = -1
    """The pass during which its module was last looked for (once per pass)."""

    def holds(self, parameter: t.Any) -> bool:
        ref = self.params.get(id(parameter))
        return ref is not None and ref() is parameter

    passes: int = 0
    """Training passes: passes over a DataLoader during which it stepped."""
    skipped: int = 0
    """Passes the budget skipped while it was the optimizer in use."""


@dataclass
class _Undo:
    target: t.Any
    name: str
    value: t.Any
    existed: bool

    def __call__(self) -> None:
        if self.existed:
            setattr(self.target, self.name, self.value)
        else:
            with contextlib.suppress(AttributeError):
                delattr(self.target, self.name)


class Runtime:
    """One kernel's (or one calibration's) data, caps and records.

    Args:
        config: as the grader writes it for the setup cell: ``seed``, ``dataset``,
            ``data_path``, ``budget``, ``roles``, ``artefacts`` (None: keep records in memory
            only), and ``torch``: ``input_shape``, ``capture`` (role -> cell id), ``cell_ids``
            (the ids of the code cells that run, in order).
    """

    def __init__(self, config: dict[str, t.Any]) -> None:
        options = config.get("torch", {})
        self.seed = int(config.get("seed", 0))
        self.budget = Budget(**config["budget"])
        self.dataset = str(config["dataset"])
        self.data_path = Path(config["data_path"])
        self.data_note = str(config.get("data_note", ""))
        self.roles: dict[str, list[str]] = dict(config.get("roles", {}))
        self.artefacts = Path(config["artefacts"]) if config.get("artefacts") else None
        self.input_shape = tuple(int(d) for d in options.get("input_shape", ()))
        self.capture: dict[str, str] = dict(options.get("capture", {}))
        self.cell_ids: list[str] = list(options.get("cell_ids", []))
        self.quiet = bool(options.get("quiet", False))
        self.passes: list[dict[str, t.Any]] = []
        self.metrics: list[dict[str, t.Any]] = []
        self.captured: dict[str, dict[str, t.Any]] = {}
        self.active: dict[str, t.Any] | None = None
        self._touched: set[int] = set()
        self._metrics_flushed = 0
        self._seq = 0
        self._optimizers: weakref.WeakKeyDictionary[t.Any, _Optimizer] = weakref.WeakKeyDictionary()
        self._records: dict[int, _Optimizer] = {}
        self._trained_sources: set[tuple[str, t.Any]] = set()
        self._announced: set[t.Any] = set()
        self.data = ServedData(self.dataset, self.data_path, self.data_note)
        self._undo: list[t.Callable[[], None]] = []
        self._in_loss = False
        self.modules = Modules()
        self._pass_open = False
        """Whether the active pass is still yielding (a call after its end is not its own)."""
        self._last_count = 0

    # --- installing and removing the patches ------------------------------------------------

    def install(self) -> None:
        """Seed, and patch torchvision, DataLoader, optimizers, losses and sklearn.metrics."""
        import torch

        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        torch.manual_seed(self.seed)
        # Same submission, same score: deterministic kernels where PyTorch has them.
        deterministic = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
        self._undo.append(
            lambda: torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        )
        self._serve_datasets()
        self._cap_loaders()
        self._watch_training()
        self._watch_modules()
        self._watch_metrics()

    def uninstall(self) -> None:
        """Undo every patch, last first (calibration runs in the grader's own process)."""
        while self._undo:
            self._undo.pop()()

    def _patch(self, target: t.Any, name: str, value: t.Any) -> None:
        existed = name in vars(target) if isinstance(target, type) else hasattr(target, name)
        self._undo.append(_Undo(target, name, getattr(target, name, None), existed))
        setattr(target, name, value)

    def _say(self, key: t.Any, line: str) -> None:
        if key not in self._announced and not self.quiet:
            print(line)
        self._announced.add(key)

    # --- data ---------------------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """The kernel's share of the data: ``x_train``, ``y_train``, ``x_test``, ``y_test``."""
        return self.data.arrays()

    def _serve_datasets(self) -> None:
        self.data.serve(self._patch, self._say)

    # --- DataLoader caps ------------------------------------------------------------------------

    def _cap_loaders(self) -> None:
        from torch.utils.data import DataLoader

        runtime = self
        original_iter = getattr(DataLoader.__iter__, "__wrapped__", DataLoader.__iter__)
        original_len = getattr(DataLoader.__len__, "__wrapped__", DataLoader.__len__)

        def capped_iter(loader: t.Any) -> t.Any:
            return runtime.start_pass(loader, lambda: original_iter(loader))

        def capped_len(loader: t.Any) -> int:
            full = int(original_len(loader))
            limit = runtime.batch_limit(loader)
            return full if limit is None else min(full, limit)

        capped_iter.__wrapped__ = original_iter  # type: ignore[attr-defined]
        capped_len.__wrapped__ = original_len  # type: ignore[attr-defined]
        self._patch(DataLoader, "__iter__", capped_iter)
        self._patch(DataLoader, "__len__", capped_len)

    def sample_limit(self, loader: t.Any) -> int | None:
        """Samples one pass over ``loader`` may yield (None: no cap)."""
        split, _ = values.source(loader.dataset)
        return self.budget.max_eval_samples if split == "test" else self.budget.max_train_samples

    def batch_limit(self, loader: t.Any) -> int | None:
        """Batches one pass over ``loader`` may yield (None: no cap)."""
        samples = self.sample_limit(loader)
        if samples is None:
            return None
        size = loader.batch_size or 1
        return max(1, math.ceil(samples / size))

    def start_pass(self, loader: t.Any, make_iterator: t.Callable[[], t.Any]) -> _Pass:
        """A new pass over ``loader``: recorded, capped, or skipped when the budget is spent."""
        split, source = values.source(loader.dataset)
        base = values.base_dataset(loader.dataset)
        record: dict[str, t.Any] = {
            "index": len(self.passes),
            "split": split,
            "dataset": type(base).__name__[:100],
            "transform": values.describe_transform(getattr(base, "transform", None)),
            "batch_size": loader.batch_size,
            "dataset_size": values.length(loader.dataset),
            "batches": 0,
            "samples": 0,
            "skipped": False,
            "steps": {},
            "loss_sum": 0.0,
            "loss_count": 0,
            "losses": [],
            "grad": None,
            "modules": [],
            "source": source,
        }
        self.passes.append(record)
        self._touched.add(record["index"])
        limit = self.sample_limit(loader)
        current = self.current_optimizer()
        if (
            self.budget.max_epochs is not None
            and source in self._trained_sources
            and current is not None
            and current.passes >= self.budget.max_epochs
        ):
            if not self._unspent(current):
                self._skip(record, current)
                return _Pass(self, record, None, 0)
            # Another optimizer may train in this pass (optimizers created together in a cell
            # of their own): it runs, and ends at the first step of a spent optimizer.
            record["deferred"] = True
        if limit is not None:
            full = values.length(loader.dataset)
            if full is None or full > limit:
                batches = self.batch_limit(loader)
                self._say(
                    ("cap", id(loader)),
                    f"[grader] budget '{self.budget.name}': DataLoader over "
                    f"{record['dataset']}(train={split == 'train'}) capped at {limit:,} samples "
                    f"per pass ({batches} batches of {loader.batch_size})",
                )
        return _Pass(self, record, make_iterator, limit)

    def _unspent(self, current: _Optimizer) -> bool:
        """Whether an optimizer other than ``current`` has training passes left."""
        limit = self.budget.max_epochs
        return limit is not None and any(
            r is not current and r.passes < limit for r in self._optimizers.values()
        )

    def _skip(self, record: dict[str, t.Any], optimizer: _Optimizer) -> None:
        record["skipped"] = True
        record["optimizer"] = optimizer.key
        optimizer.skipped += 1
        self._say(
            ("skip", optimizer.key),
            f"[grader] budget '{self.budget.name}': the {optimizer.cls} optimizer had its "
            f"{self.budget.max_epochs} training pass(es); later passes over "
            f"{record['dataset']}(train={record['split'] == 'train'}) yield nothing",
        )

    # --- optimizers, losses ---------------------------------------------------------------------

    def _watch_training(self) -> None:
        import torch
        import torch.nn.functional as functional
        from torch.nn.modules.loss import _Loss
        from torch.optim.optimizer import register_optimizer_step_post_hook

        runtime = self
        optimizer_init = torch.optim.Optimizer.__init__
        optimizer_init = getattr(optimizer_init, "__wrapped__", optimizer_init)

        def init(optimizer: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
            optimizer_init(optimizer, *args, **kwargs)
            runtime.optimizer(optimizer)

        init.__wrapped__ = optimizer_init  # type: ignore[attr-defined]
        self._patch(torch.optim.Optimizer, "__init__", init)
        handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: runtime.stepped(opt))
        self._undo.append(handle.remove)

        backward = getattr(torch.Tensor.backward, "__wrapped__", torch.Tensor.backward)

        def recorded_backward(tensor: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
            active = runtime.active
            if active is not None and tensor.numel() == 1:
                value = float(tensor.detach().float())
                if math.isfinite(value):
                    active["loss_sum"] += value
                    active["loss_count"] += 1
            return backward(tensor, *args, **kwargs)

        recorded_backward.__wrapped__ = backward  # type: ignore[attr-defined]
        self._patch(torch.Tensor, "backward", recorded_backward)

        def loss_call(module: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
            runtime.loss_used(type(module).__name__)
            return torch.nn.Module.__call__(module, *args, **kwargs)

        self._patch(_Loss, "__call__", loss_call)
        for name in _LOSS_FUNCTIONS:
            original = getattr(functional, name)
            original = getattr(original, "__wrapped__", original)
            self._patch(functional, name, _recording_loss(runtime, name, original))

    def _watch_modules(self) -> None:
        from torch.nn.modules.module import (
            register_module_forward_hook,
            register_module_forward_pre_hook,
        )

        modules = self.modules

        def before(module: t.Any, args: t.Any) -> None:
            modules.depth += 1

        def after(module: t.Any, args: t.Any, output: t.Any) -> None:
            modules.depth = max(0, modules.depth - 1)
            if modules.depth == 0 and not modules.paused:
                try:
                    self.root_called(module, output)
                except Exception:  # recording must never break the student's forward
                    return

        self._undo.append(register_module_forward_pre_hook(before).remove)
        self._undo.append(register_module_forward_hook(after, always_call=True).remove)

    def root_called(self, module: t.Any, output: t.Any) -> None:
        """A module called by the notebook itself (not as a layer of another): keyed, tied to
        the pass it ran in, and its predictions kept where they may be a metric's."""
        if next(module.parameters(), None) is None:
            return  # a loss, an activation: nothing to train or judge
        import torch

        record = self.modules.record(module)
        active = self.active if self._pass_open else None
        called = active["modules"] if active is not None else None
        if called is not None and record.key not in called and len(called) < 10:
            called.append(record.key)
        evaluating = not torch.is_grad_enabled() or not module.training
        if active is not None and (active["split"] == "test" or evaluating):
            group = active["index"]
        elif active is None and evaluating:
            group = -1 - len(self.passes)  # outside any pass (a tensor of test images)
        else:
            return
        labels = predicted_labels(output)
        if labels is not None:
            self.modules.add_predictions(group, record.key, labels)

    def optimizer(self, optimizer: t.Any) -> _Optimizer:
        """The record of ``optimizer``, created on first sight."""
        info = self._optimizers.get(optimizer)
        if info is None:
            self._seq += 1
            info = _Optimizer(len(self._records), type(optimizer).__name__[:100], self._seq)
            self._optimizers[optimizer] = info
            self._records[info.key] = info
        for group in optimizer.param_groups:
            info.params.update((id(p), weakref.ref(p)) for p in group["params"])
        return info

    def stepped(self, optimizer: t.Any) -> None:
        """An optimizer step: counted for the pass that last yielded a batch."""
        info = self.optimizer(optimizer)
        self._seq += 1
        info.last_step = self._seq
        if not info.hyper and optimizer.param_groups:
            group = optimizer.param_groups[0]
            info.hyper = {k: values.plain_value(group[k]) for k in _OPTIMIZER_FIELDS if k in group}
        active = self.active
        if active is None:
            return
        key = str(info.key)
        limit = self.budget.max_epochs
        spent = limit is not None and info.passes >= limit
        if active.get("deferred") and key not in active["steps"] and spent:
            self._skip(active, info)  # its one step here is the cost of not guessing
            return
        if active["skipped"]:
            return
        if key not in active["steps"]:
            active["steps"][key] = 0
            info.passes += 1
            if active.get("source") is not None:
                self._trained_sources.add(active["source"])
        active["steps"][key] += 1
        self._touched.add(active["index"])
        self._trained(info, active)

    def _trained(self, info: _Optimizer, active: dict[str, t.Any]) -> None:
        """Tie the optimizer to its module, which trained if the pass is over training data."""
        if info.module is None and info.looked != active["index"]:
            info.looked = active["index"]
            owner = self.modules.owner(info.holds, active["modules"])
            if owner is not None:
                info.module = self.modules.record(owner).key
        if info.module is None or active["split"] != "train":
            return
        record = self.modules.by_key[info.module]
        if record.trained < 0 and (module := record.module()) is not None:
            record.trained, record.optimizer = self._seq, info.cls
            record.trained_cell = self._last_count + 1
            if self.modules.held() < MAX_HELD:  # a search over many models keeps the first
                record.held = module

    def current_optimizer(self) -> _Optimizer | None:
        """The optimizer the next training pass will most likely step: the newest one if it was
        created after the last step of any, else the one that stepped last."""
        records = list(self._optimizers.values())
        if not records:
            return None
        newest = max(records, key=lambda r: r.created)
        stepped = [r for r in records if r.last_step >= 0]
        if not stepped:
            return newest
        last = max(stepped, key=lambda r: r.last_step)
        return newest if newest.created > last.last_step else last

    def loss_used(self, name: str) -> None:
        active = self.active
        if active is not None and name not in active["losses"] and len(active["losses"]) < 10:
            active["losses"].append(name[:100])

    # --- scikit-learn metrics ---------------------------------------------------------------

    def _watch_metrics(self) -> None:
        try:
            import sklearn.metrics
            import sklearn.metrics._classification as classification
        except ImportError:
            return
        for name in METRIC_FUNCTIONS:
            original = getattr(sklearn.metrics, name)
            original = getattr(original, "__wrapped__", original)
            wrapped = _recording_metric(self, name, original)
            for module in (sklearn.metrics, classification):
                self._patch(module, name, wrapped)

    def metric_called(self, record: dict[str, t.Any]) -> None:
        if len(self.metrics) < MAX_METRIC_CALLS:
            self.metrics.append(record)

    # --- roles and records ------------------------------------------------------------------

    def on_cell(self, result: t.Any) -> None:
        """IPython's ``post_run_cell``: take the roles tied to this cell, write its records."""
        info = getattr(result, "info", None)
        if info is None or not getattr(info, "store_history", False):
            return  # the grader's own cells, and cells a notebook runs itself
        count = int(getattr(result, "execution_count", 0) or 0)
        cell_id = self.cell_ids[count - 1] if 0 < count <= len(self.cell_ids) else ""
        self.cell_done(count, cell_id, _user_namespace())

    def cell_done(self, count: int, cell_id: str, namespace: dict[str, t.Any]) -> None:
        """A notebook cell ended: take the roles tied to it, and write its records."""
        self._last_count = count
        for role, anchor in self.capture.items():
            if anchor == cell_id and role not in self.captured:
                self.capture_role(role, namespace, f"cell {cell_id}")
        self.flush(count, cell_id)

    def capture_remaining(self, namespace: dict[str, t.Any]) -> None:
        """Take every role not taken after its cell, from the notebook's last state.

        A variable that several roles name (``model`` for the CNN and for its dropout variant)
        says nothing at the end of the notebook about which role it holds: those roles take
        the modules that trained, in the order they trained, before any variable.
        """
        for role in self.roles:
            if role in self.captured:
                continue
            anchor = self.capture.get(role)
            when = "end of notebook"
            if anchor is not None:
                when += f" (its cell {anchor!r} never ran)"
            shared = any(
                set(names) & set(self.roles.get(role, []))
                for other, names in self.roles.items()
                if other != role
            )
            self.capture_role(role, namespace, when, trained_first=shared)

    def choose(
        self, role: str, namespace: dict[str, t.Any], *, trained_first: bool = False
    ) -> tuple[t.Any, str, str]:
        """The module a role is judged on, the variable that held it (or ""), and how it was
        found; (None, "", why) when the notebook never built one.

        The role's variables are a first guess; a module another role already took is never
        taken twice. Without one, the role's module is the first that trained on the grader's
        training data and no other role took.
        """
        taken = {
            rec["module"]
            for other, rec in self.captured.items()
            if other != role and isinstance(rec.get("module"), int)
        }
        names = self.roles.get(role, [])
        found = find_module(namespace, names)
        by_variable = None
        if found is not None:
            record = self.modules.record(namespace[found])
            if record.key not in taken:
                by_variable = (namespace[found], found, f"the variable `{found}`")
        if by_variable is not None and not trained_first:
            return by_variable
        why = (
            "roles sharing a variable are told apart by the order they trained"
            if by_variable is not None
            else f"no variable {' or '.join(f'`{n}`' for n in names)} held a module of its own"
        )
        for record, module in self.modules.trained():
            if record.key not in taken:
                return module, "", self._object(record, why)
        if by_variable is not None:
            return by_variable
        held = (
            f"`{found}` holds the module another role took"
            if found
            else (f"no variable {', '.join(f'`{n}`' for n in names)} holds a module")
        )
        return None, "", f"never built: {held}, and no other module trained on the training data"

    def _object(self, record: ModuleRecord, why: str) -> str:
        count = record.trained_cell
        cell = self.cell_ids[count - 1] if 0 < count <= len(self.cell_ids) else ""
        where = f"cell {cell!r}" if cell else f"code cell {count}"
        return (
            f"the {record.cls} object the {record.optimizer} optimizer trained in {where} ({why})"
        )

    def capture_role(
        self, role: str, namespace: dict[str, t.Any], when: str, *, trained_first: bool = False
    ) -> None:
        """Export and describe the module a role is judged on (:meth:`choose`)."""
        self.captured[role] = {}
        module, variable, how = self.choose(role, namespace, trained_first=trained_first)
        if module is not None:
            self.captured[role] = {"module": self.modules.record(module).key}
        if self.artefacts is None:
            return
        folder = artefact_folder(self.artefacts)
        onnx_name, json_name = layout.model_files(role)
        if module is None:
            write_once(folder / json_name, {"role": role, "error": how})
            return
        self.modules.paused = True  # exporting and tracing call the module: not the notebook
        try:
            record = capture_module(
                module,
                folder,
                self.input_shape,
                record={
                    "role": role,
                    "variable": variable,
                    "module": self.modules.record(module).key,
                    "taken": how[:200],
                    "when": when,
                    "input_shape": list(self.input_shape),
                    "optimizers": self.optimizers_of(module),
                },
                onnx_name=onnx_name,
                json_name=json_name,
            )
        finally:
            self.modules.paused = False
        self.captured[role] = record
        if not self.quiet:
            print(f"[grader] took {how} ({record['class']}) for the rubric's {role!r} ({when})")

    def optimizers_of(self, module: t.Any) -> list[int]:
        """The optimizers, alive or not, that held any of ``module``'s parameters."""
        params = list(module.parameters())
        return sorted(
            info.key for info in self._records.values() if any(info.holds(p) for p in params)
        )

    def optimizer_records(self) -> list[dict[str, t.Any]]:
        return [
            {
                "key": r.key,
                "class": r.cls,
                "hyper": r.hyper,
                "passes": r.passes,
                "skipped": r.skipped,
                "module": r.module,
            }
            for r in self._records.values()
        ]

    def flush(self, count: int, cell_id: str) -> None:
        """Write what happened since the last flush, under a name of its own."""
        if self.artefacts is None:
            return
        passes = [self.passes[i] for i in sorted(self._touched)]
        metrics = self.metrics[self._metrics_flushed :]
        self._touched.clear()
        self._metrics_flushed = len(self.metrics)
        if not passes and not metrics and count:
            return
        folder = artefact_folder(self.artefacts)
        name = layout.cell_file(count if count else len(self.cell_ids) + 1)
        write_once(
            folder / name,
            {
                "cell": cell_id,
                "passes": [{k: v for k, v in p.items() if k != "source"} for p in passes],
                "metrics": metrics,
                "optimizers": self.optimizer_records(),
            },
        )


class _Pass:
    """One pass over a DataLoader: yields at most ``limit`` samples, records what it yields."""

    def __init__(
        self,
        runtime: Runtime,
        record: dict[str, t.Any],
        make_iterator: t.Callable[[], t.Any] | None,
        limit: int | None,
    ) -> None:
        self.runtime = runtime
        self.record = record
        self.make_iterator = make_iterator
        self.inner: t.Any = None
        self.limit = limit

    def __iter__(self) -> _Pass:
        return self

    def __getattr__(self, name: str) -> t.Any:
        # The student holds what iter(loader) returned: an error names that, not this class
        # (Python 2's it.next(), for one).
        inner = self.__dict__.get("inner")
        shown = type(inner).__name__ if inner is not None else "_SingleProcessDataLoaderIter"
        raise AttributeError(f"'{shown}' object has no attribute '{name}'")

    def __next__(self) -> t.Any:
        record = self.record
        if (
            self.make_iterator is None
            or record["skipped"]
            or (self.limit is not None and record["samples"] >= self.limit)
        ):
            self.inner = None  # lets a multi-process iterator shut its workers down
            if self.runtime.active is record:
                self.runtime._pass_open = False
            raise StopIteration
        if self.inner is None:
            self.inner = self.make_iterator()
        batch = next(self.inner)
        size = values.batch_size(batch)
        if self.limit is not None and size is not None and record["samples"] + size > self.limit:
            size = self.limit - record["samples"]
            batch = values.head(batch, size)
        if record["batches"] == 0:
            import torch

            record["grad"] = bool(torch.is_grad_enabled())
        record["batches"] += 1
        record["samples"] += size or 0
        self.runtime.active = record
        self.runtime._pass_open = True
        self.runtime._touched.add(record["index"])
        return batch


def _recording_loss(runtime: Runtime, name: str, original: t.Any) -> t.Any:
    def loss(*args: t.Any, **kwargs: t.Any) -> t.Any:
        runtime.loss_used(name)
        return original(*args, **kwargs)

    loss.__wrapped__ = original  # type: ignore[attr-defined]
    loss.__name__ = name
    return loss


def _recording_metric(runtime: Runtime, name: str, original: t.Any) -> t.Any:
    import functools
    import inspect

    signature = inspect.signature(original)

    @functools.wraps(original)
    def metric(*args: t.Any, **kwargs: t.Any) -> t.Any:
        result = original(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            y_true = values.labels(arguments["y_true"])
            y_pred = values.labels(arguments["y_pred"])
            model, attributed = runtime.modules.predicted(y_pred)
            runtime.metric_called(
                {
                    "function": name,
                    "options": {
                        k: values.plain_value(arguments[k])
                        for k in _METRIC_OPTIONS
                        if k in arguments
                    },
                    "weighted_samples": arguments.get("sample_weight") is not None,
                    "y_true": y_true,
                    "y_pred": y_pred,
                    "result": values.plain_value(result),
                    "model": model,
                    "attributed": attributed,
                }
            )
        except Exception as exc:  # recording must never break the student's call
            runtime.metric_called({"function": name, "error": repr(exc)[:300]})
        return result

    return metric


def _user_namespace() -> dict[str, t.Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return dict(shell.user_ns) if shell is not None else {}
