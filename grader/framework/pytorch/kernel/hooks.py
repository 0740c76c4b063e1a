"""Where the runtime hooks into PyTorch and scikit-learn (imported in the kernel).

Each ``watch_*`` function patches one library surface and routes what it sees to the
:class:`~grader.framework.pytorch.kernel.runtime.Runtime`, which decides what to cap and record;
every patch goes through the runtime's :class:`~grader.framework.pytorch.kernel.patches.Patches`,
so uninstalling undoes it. A patch never changes what the notebook's call returns, and a
recording that fails never breaks the call.
"""

from __future__ import annotations

import functools
import inspect
import math
import typing as t

from grader.framework.pytorch.kernel import values

if t.TYPE_CHECKING:
    from grader.framework.pytorch.kernel.runtime import Runtime

METRIC_FUNCTIONS = (
    "accuracy_score",
    "confusion_matrix",
    "precision_score",
    "recall_score",
    "f1_score",
)
_METRIC_OPTIONS = ("average", "normalize", "labels", "zero_division", "pos_label")
_LOSS_FUNCTIONS = ("cross_entropy", "nll_loss", "mse_loss")


def cap_loaders(runtime: Runtime) -> None:
    """``DataLoader``: each pass is one of the runtime's (capped, recorded), and ``len`` says
    how many batches the cap leaves."""
    from torch.utils.data import DataLoader

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
    runtime.patches.set(DataLoader, "__iter__", capped_iter)
    runtime.patches.set(DataLoader, "__len__", capped_len)


def watch_training(runtime: Runtime) -> None:
    """Optimizers (created, stepped), scalar ``backward`` calls (the loss) and loss functions."""
    import torch
    import torch.nn.functional as functional
    from torch.nn.modules.loss import _Loss
    from torch.optim.optimizer import register_optimizer_step_post_hook

    optimizer_init = torch.optim.Optimizer.__init__
    optimizer_init = getattr(optimizer_init, "__wrapped__", optimizer_init)

    def init(optimizer: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        optimizer_init(optimizer, *args, **kwargs)
        runtime.optimizers.record(optimizer)

    init.__wrapped__ = optimizer_init  # type: ignore[attr-defined]
    runtime.patches.set(torch.optim.Optimizer, "__init__", init)
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: runtime.stepped(opt))
    runtime.patches.on_undo(handle.remove)

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
    runtime.patches.set(torch.Tensor, "backward", recorded_backward)

    def loss_call(module: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        runtime.loss_used(type(module).__name__)
        return torch.nn.Module.__call__(module, *args, **kwargs)

    runtime.patches.set(_Loss, "__call__", loss_call)
    for name in _LOSS_FUNCTIONS:
        original = getattr(functional, name)
        original = getattr(original, "__wrapped__", original)
        runtime.patches.set(functional, name, _recording_loss(runtime, name, original))


def watch_modules(runtime: Runtime) -> None:
    """Every module call the notebook makes itself (not a layer's, inside another module)."""
    from torch.nn.modules.module import (
        register_module_forward_hook,
        register_module_forward_pre_hook,
    )

    modules = runtime.modules

    def before(module: t.Any, args: t.Any) -> None:
        modules.depth += 1

    def after(module: t.Any, args: t.Any, output: t.Any) -> None:
        modules.depth = max(0, modules.depth - 1)
        if modules.depth == 0 and not modules.paused:
            try:
                runtime.root_called(module, output)
            except Exception:  # recording must never break the student's forward
                return

    runtime.patches.on_undo(register_module_forward_pre_hook(before).remove)
    runtime.patches.on_undo(register_module_forward_hook(after, always_call=True).remove)


def watch_metrics(runtime: Runtime) -> None:
    """scikit-learn's classification metrics, recorded with their arguments and result."""
    try:
        import sklearn.metrics
        import sklearn.metrics._classification as classification
    except ImportError:
        return
    for name in METRIC_FUNCTIONS:
        original = getattr(sklearn.metrics, name)
        original = getattr(original, "__wrapped__", original)
        wrapped = _recording_metric(runtime, name, original)
        for module in (sklearn.metrics, classification):
            runtime.patches.set(module, name, wrapped)


def _recording_loss(runtime: Runtime, name: str, original: t.Any) -> t.Any:
    def loss(*args: t.Any, **kwargs: t.Any) -> t.Any:
        runtime.loss_used(name)
        return original(*args, **kwargs)

    loss.__wrapped__ = original  # type: ignore[attr-defined]
    loss.__name__ = name
    return loss


def _recording_metric(runtime: Runtime, name: str, original: t.Any) -> t.Any:
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
