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

The runtime is split by purpose: :mod:`~grader.framework.pytorch.kernel.hooks` patches the
libraries, :mod:`~grader.framework.pytorch.kernel.passes` records and caps one pass,
:mod:`~grader.framework.pytorch.kernel.optimizers` keeps the optimizers,
:mod:`~grader.framework.pytorch.kernel.roles` takes the rubric's modules; this module holds the
state they share and writes each cell's records.

Everything written here is hostile input for the judge, which validates it and checks the
description against the ONNX graph; no score is computed here. The same class runs in the grader
process to calibrate the reference (:mod:`grader.framework.pytorch.calibrate`), under the same caps.
"""

from __future__ import annotations

import math
import random
import typing as t
from pathlib import Path

import numpy as np

from grader.budget import Budget
from grader.framework.pytorch.kernel import hooks, layout, values
from grader.framework.pytorch.kernel.capture import artefact_folder, write_once
from grader.framework.pytorch.kernel.data import ServedData
from grader.framework.pytorch.kernel.modules import Modules, predicted_labels
from grader.framework.pytorch.kernel.optimizers import OptimizerRecord, Optimizers
from grader.framework.pytorch.kernel.passes import Pass, new_record
from grader.framework.pytorch.kernel.patches import Patches
from grader.framework.pytorch.kernel.roles import capture_remaining, capture_role

MAX_METRIC_CALLS = 200
MAX_HELD = 8
"""Modules that trained kept alive by the runtime (roles take the first that trained)."""
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
    capture_remaining(_RUNTIME, namespace)
    _RUNTIME.flush(0, "end of notebook")


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
        """The record of the pass that last yielded a batch."""
        self.pass_open = False
        """Whether the active pass is still yielding (a call after its end is not its own)."""
        self.touched: set[int] = set()
        """Passes changed since the last cell's records were written."""
        self.optimizers = Optimizers()
        self.modules = Modules()
        self.patches = Patches()
        self.data = ServedData(self.dataset, self.data_path, self.data_note)
        self._metrics_flushed = 0
        self._trained_sources: set[tuple[str, t.Any]] = set()
        self._announced: set[t.Any] = set()
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
        self.patches.on_undo(
            lambda: torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        )
        self.data.serve(self.patches.set, self.say)
        hooks.cap_loaders(self)
        hooks.watch_training(self)
        hooks.watch_modules(self)
        hooks.watch_metrics(self)

    def uninstall(self) -> None:
        """Undo every patch, last first (calibration runs in the grader's own process)."""
        self.patches.undo_all()

    def say(self, key: t.Any, line: str) -> None:
        """Print ``line`` in the notebook, once per ``key`` (unless quiet)."""
        if key not in self._announced and not self.quiet:
            print(line)
        self._announced.add(key)

    def arrays(self) -> dict[str, np.ndarray]:
        """The kernel's share of the data: ``x_train``, ``y_train``, ``x_test``, ``y_test``."""
        return self.data.arrays()

    # --- DataLoader passes and their caps -----------------------------------------------------

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

    def start_pass(self, loader: t.Any, make_iterator: t.Callable[[], t.Any]) -> Pass:
        """A new pass over ``loader``: recorded, capped, or skipped when the budget is spent."""
        record = new_record(len(self.passes), loader)
        split, source = record["split"], record["source"]
        self.passes.append(record)
        self.touched.add(record["index"])
        limit = self.sample_limit(loader)
        current = self.optimizers.current()
        if (
            self.budget.max_epochs is not None
            and source in self._trained_sources
            and current is not None
            and current.passes >= self.budget.max_epochs
        ):
            if not self.optimizers.unspent(current, self.budget.max_epochs):
                self._skip(record, current)
                return Pass(self, record, None, 0)
            # Another optimizer may train in this pass (optimizers created together in a cell
            # of their own): it runs, and ends at the first step of a spent optimizer.
            record["deferred"] = True
        if limit is not None:
            full = values.length(loader.dataset)
            if full is None or full > limit:
                batches = self.batch_limit(loader)
                self.say(
                    ("cap", id(loader)),
                    f"[grader] budget '{self.budget.name}': DataLoader over "
                    f"{record['dataset']}(train={split == 'train'}) capped at {limit:,} samples "
                    f"per pass ({batches} batches of {loader.batch_size})",
                )
        return Pass(self, record, make_iterator, limit)

    def _skip(self, record: dict[str, t.Any], optimizer: OptimizerRecord) -> None:
        record["skipped"] = True
        record["optimizer"] = optimizer.key
        optimizer.skipped += 1
        self.say(
            ("skip", optimizer.key),
            f"[grader] budget '{self.budget.name}': the {optimizer.cls} optimizer had its "
            f"{self.budget.max_epochs} training pass(es); later passes over "
            f"{record['dataset']}(train={record['split'] == 'train'}) yield nothing",
        )

    # --- what the hooks see -------------------------------------------------------------------

    def root_called(self, module: t.Any, output: t.Any) -> None:
        """A module called by the notebook itself (not as a layer of another): keyed, tied to
        the pass it ran in, and its predictions kept where they may be a metric's."""
        if next(module.parameters(), None) is None:
            return  # a loss, an activation: nothing to train or judge
        import torch

        record = self.modules.record(module)
        active = self.active if self.pass_open else None
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

    def stepped(self, optimizer: t.Any) -> None:
        """An optimizer step: counted for the pass that last yielded a batch."""
        info = self.optimizers.step(optimizer)
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
        self.touched.add(active["index"])
        self._trained(info, active)

    def _trained(self, info: OptimizerRecord, active: dict[str, t.Any]) -> None:
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
            record.trained, record.optimizer = self.optimizers.seq, info.cls
            record.trained_cell = self._last_count + 1
            if self.modules.held() < MAX_HELD:  # a search over many models keeps the first
                record.held = module

    def loss_used(self, name: str) -> None:
        """A loss module or function was called: named in the active pass's record."""
        active = self.active
        if active is not None and name not in active["losses"] and len(active["losses"]) < 10:
            active["losses"].append(name[:100])

    def metric_called(self, record: dict[str, t.Any]) -> None:
        """A scikit-learn metric call, recorded (up to :data:`MAX_METRIC_CALLS`)."""
        if len(self.metrics) < MAX_METRIC_CALLS:
            self.metrics.append(record)

    # --- cells and their records ----------------------------------------------------------

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
                capture_role(self, role, namespace, f"cell {cell_id}")
        self.flush(count, cell_id)

    def flush(self, count: int, cell_id: str) -> None:
        """Write what happened since the last flush, under a name of its own."""
        if self.artefacts is None:
            return
        passes = [self.passes[i] for i in sorted(self.touched)]
        metrics = self.metrics[self._metrics_flushed :]
        self.touched.clear()
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
                "optimizers": self.optimizers.as_records(),
            },
        )


def _user_namespace() -> dict[str, t.Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return dict(shell.user_ns) if shell is not None else {}
