"""Runs inside the student's kernel: serves the grader's data, applies the budget, records fits.

Imported by the cells in :mod:`grader.kernel.cells`. Everything written here is an artefact the
grader validates before use; no score is computed in the kernel, where student code could have
patched Keras or NumPy.

The artefact folder's layout is :mod:`grader.kernel.layout`. Every file is written once, under a
new name. The grader copies the fit records and snapshots out of this folder after each cell, so
a later cell cannot rewrite the evidence of an earlier fit, and the judge (not this kernel)
computes every digest from the arrays.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import typing as t
from pathlib import Path

import numpy as np

from grader.budget import Budget, sample_count
from grader.kernel import layout, nesting
from grader.kernel.applications import APPLICATIONS, PUBLIC_MODULES
from grader.kernel.variables import Summaries, save_variables

_STATE: dict[str, t.Any] = {}


def install(config: dict[str, t.Any]) -> None:
    """Seed, serve the grader's data set, and wrap ``fit``/``evaluate``/``predict``."""
    import keras

    _STATE.update(config=config, budget=Budget(**config["budget"]), fit_count=0)
    _STATE["artefacts"] = Path(config["artefacts"])
    keras.utils.set_random_seed(config["seed"])
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Same submission, same score: op determinism removes run-to-run float differences.
        tf.config.experimental.enable_op_determinism()
        _keep_eager_execution(tf)
    _serve_dataset(config["dataset"], Path(config["data_path"]))
    _serve_applications(config.get("pretrained", {}), config.get("offline_weights", {}))
    _wrap_model_methods(keras.Model)
    _checkpoint_after_each_cell()
    limits = _STATE["budget"].limits()
    if limits:
        caps = ", ".join(f"{k}={v}" for k, v in limits.items())
        print(f"[grader] budget '{_STATE['budget'].name}': {caps} (data: {config['data_note']})")


def _keep_eager_execution(tf: t.Any) -> None:
    """Make TensorFlow 1's switches to graph mode notices: Keras 3 trains, saves and reads
    weights only eagerly, so a notebook written for tf.keras 2 with eager execution disabled
    would otherwise fail in ``fit`` although its model is right."""
    import importlib

    # ``import tensorflow.compat.v1`` makes a module of its own and binds it to
    # ``tf.compat.v1``: import it first, so that the one a notebook gets is patched.
    importlib.import_module("tensorflow.compat.v1")
    for name in ("disable_eager_execution", "disable_v2_behavior"):

        def ignored(*args: t.Any, _name: str = name, **kwargs: t.Any) -> None:
            print(
                f"[grader] tf.compat.v1.{_name}() ignored: Keras 3 runs only with eager "
                "execution (as tf.keras does under TensorFlow 2); the notebook runs unchanged"
            )

        modules = [tf.compat.v1, *(m for n, m in sys.modules.items() if n.endswith("compat.v1"))]
        for module in modules:
            if getattr(module, name, None) is not None:
                setattr(module, name, ignored)


def _serve_dataset(name: str, path: Path) -> None:
    """Make ``<name>.load_data`` return the grader's arrays under every import path."""
    import importlib

    candidates = [
        f"keras.datasets.{name}",
        f"keras.src.datasets.{name}",
        f"keras._tf_keras.keras.datasets.{name}",
        f"tensorflow.keras.datasets.{name}",
    ]
    for module in candidates:
        try:
            importlib.import_module(module)
        except ImportError:
            continue

    def load_data(*args: t.Any, **kwargs: t.Any) -> tuple[tuple[t.Any, t.Any], tuple[t.Any, t.Any]]:
        with np.load(path, allow_pickle=False) as z:
            return (z["x_train"], z["y_train"]), (z["x_test"], z["y_test"])

    load_data.__doc__ = f"The grader's {name} data (real or synthetic; see the report)."
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.endswith(f"datasets.{name}") and hasattr(mod, "load_data"):
            mod.load_data = load_data  # type: ignore[attr-defined]


def _serve_applications(pretrained: dict[str, str | None], offline: dict[str, str]) -> None:
    """Make ``VGG19(weights="imagenet")`` and the other listed bases read the grader's weights
    files, never download.

    ``pretrained`` are the bases the assignment asks for (a file, or None: random weights, and
    the notebook is told so); ``offline`` other bases' files found on the grading machine.
    Any other base asked for with ImageNet weights starts from random weights with a notice
    that names what the assignment asks for: its checks judge it, and the cells after it
    still run.
    """
    import importlib

    for prefix in ("keras", "keras._tf_keras.keras", "tensorflow.keras"):
        for suffix in ("", *(f".{m}" for m in PUBLIC_MODULES)):
            try:
                importlib.import_module(f"{prefix}.applications{suffix}")
            except ImportError:
                continue
    asked = ", ".join(APPLICATIONS[a][0] for a in pretrained) or "no ImageNet base"
    for application, (function, module_name, _) in APPLICATIONS.items():
        module = importlib.import_module(f"keras.src.applications.{module_name}")
        # Installed twice in one process (tests), wrap Keras' own function, not the last wrapper.
        original = inspect.unwrap(getattr(module, function))
        if application in pretrained:
            build = _builder(original, function, pretrained[application], asked=None)
        else:
            build = _builder(original, function, offline.get(application), asked=asked)
        for mod_name, mod in list(sys.modules.items()):
            found = getattr(mod, function, None) if "applications" in mod_name else None
            if found is not None and inspect.unwrap(found) is original:
                setattr(mod, function, build)


def _builder(
    original: t.Callable[..., t.Any], function: str, weights: str | None, *, asked: str | None
) -> t.Callable[..., t.Any]:
    """``original`` reading ``weights`` for ``weights="imagenet"``; ``asked`` names what the
    assignment asks for when this base is not it."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def build(*args: t.Any, **kwargs: t.Any) -> t.Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if bound.arguments["weights"] == "imagenet":
            if asked is not None and weights is None:
                print(
                    f"[grader] {function}(weights='imagenet'): this assignment asks for {asked}; "
                    f"nothing is downloaded, so {function} starts from random weights",
                    file=sys.stderr,
                )
                bound.arguments["weights"] = None
            elif bound.arguments["include_top"]:
                print(f"[grader] only {function}'s no-top ImageNet weights are available offline")
                bound.arguments["weights"] = None
            else:
                bound.arguments["weights"] = weights
            if bound.arguments["weights"] is None and asked is None:
                print(
                    f"[grader] {function}: no ImageNet weights on this machine; "
                    "random initial weights (the report explains)"
                )
        return original(*bound.args, **bound.kwargs)

    return build


def _wrap_model_methods(model_cls: t.Any) -> None:
    if getattr(model_cls.fit, "__grader_wrapped__", False):
        return
    for method, wrapper in (
        ("fit", _fit_wrapper),
        ("evaluate", _eval_wrapper),
        ("predict", _eval_wrapper),
    ):
        original = getattr(model_cls, method)
        wrapped = functools.wraps(original)(wrapper(original))
        wrapped.__grader_wrapped__ = True  # type: ignore[attr-defined]
        setattr(model_cls, method, wrapped)


def _bind(
    original: t.Callable[..., t.Any], args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
) -> tuple[t.Any, dict[str, t.Any]]:
    bound = inspect.signature(original).bind(*args, **kwargs)
    arguments = dict(bound.arguments)
    self = arguments.pop("self")
    extra = arguments.pop("kwargs", {})
    return self, {**arguments, **extra}


def _fit_wrapper(original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def fit(*args: t.Any, **kwargs: t.Any) -> t.Any:
        model, kw = _bind(original, args, kwargs)
        requested_epochs = kw.get("epochs", 1)
        requested_samples = sample_count(kw.get("x"))
        kw, notes = _STATE["budget"].cap_fit(kw)
        if notes:
            print(f"[grader] budget '{_STATE['budget'].name}': fit capped ({'; '.join(notes)})")
        index = _STATE["fit_count"]
        _STATE["fit_count"] += 1
        folder: Path = _STATE["artefacts"]
        (folder / layout.SNAPSHOTS).mkdir(parents=True, exist_ok=True)
        before_saved = model.built
        if before_saved:
            save_weights(model, folder / layout.snapshot(index, "before"))
        history, raised = None, True
        try:
            history = original(model, **kw)
            raised = False
        finally:
            # A fit that raised (labels of the wrong shape, an interrupt) is recorded too: it
            # may have changed weights before it stopped, and the numbering stays whole.
            save_weights(model, folder / layout.snapshot(index, "after"))
            record = {
                "index": index,
                "model_id": id(model),
                "model_name": model.name,
                "epochs_requested": int(requested_epochs)
                if isinstance(requested_epochs, int)
                else -1,
                "epochs_run": len(getattr(history, "epoch", []) or []),
                "samples_requested": requested_samples if requested_samples is not None else -1,
                "samples_used": sample_count(kw.get("x")) or -1,
                "history": _history(history),
                "built": bool(before_saved),
                "raised": raised,
                "layers": layer_records(model),
            }
            (folder / layout.FITS).mkdir(exist_ok=True)
            (folder / layout.fit_record(index)).write_text(json.dumps(record), encoding="utf-8")
        return history

    return fit


def _eval_wrapper(original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        model, kw = _bind(original, args, kwargs)
        kw, notes = _STATE["budget"].cap_eval(kw)
        if notes:
            name = original.__name__
            print(f"[grader] budget '{_STATE['budget'].name}': {name} capped ({'; '.join(notes)})")
        return original(model, **kw)

    return call


def _history(history: t.Any) -> dict[str, list[float]]:
    raw = getattr(history, "history", {}) or {}
    return {str(k): [float(v) for v in vals] for k, vals in raw.items()}


def layer_records(model: t.Any) -> list[dict[str, t.Any]]:
    """Per layer, nested models seen through (:mod:`grader.kernel.nesting`): name, the models
    it is nested in, class, whether it trains and how many weight arrays it has."""
    return [
        {
            "name": leaf.layer.name,
            "within": list(leaf.within),
            "class": type(leaf.layer).__name__,
            "trainable": leaf.trainable,
            "weights": len(leaf.layer.weights),
        }
        for leaf in nesting.leaves(model)
    ]


def save_weights(model: t.Any, path: Path) -> None:
    """Every weight array of ``model`` as ``l<layer>_w<index>`` in a plain ``.npz``, layers
    numbered as :func:`layer_records` lists them."""
    arrays = {
        layout.weight_key(i, j): np.asarray(w)
        for i, leaf in enumerate(nesting.leaves(model))
        for j, w in enumerate(leaf.layer.get_weights())
    }
    np.savez(path, **arrays)  # type: ignore[arg-type]


def finish(namespace: dict[str, t.Any]) -> None:
    """Save each role's model and summarise the data variables the rubric names."""
    _STATE["finished"] = True
    artefacts: Path = _STATE["artefacts"]
    (artefacts / layout.MODELS).mkdir(parents=True, exist_ok=True)
    _save_state(namespace, lambda final: artefacts / final)


def _save_state(
    namespace: dict[str, t.Any],
    path: t.Callable[[str], Path],
    previous: Summaries | None = None,
) -> None:
    """Each role's model, the data variables, then the role table (last: it marks a complete
    set), under ``path(final name)``; ``previous``: see
    :func:`~grader.kernel.variables.summarise_variables`."""
    import keras

    config = _STATE["config"]
    roles: dict[str, dict[str, t.Any]] = {}
    for role, names in config["roles"].items():
        for name in names:
            value = namespace.get(name)
            if isinstance(value, keras.Model):
                try:
                    value.save(path(layout.model_file(role)))
                except Exception as exc:  # reported to the grader, not raised in the notebook
                    roles[role] = {"variable": name, "model_id": id(value), "error": repr(exc)}
                    break
                roles[role] = {"variable": name, "model_id": id(value)}
                break
    save_variables(namespace, config["variables"], path, previous)
    # How many fits ran: a record removed with its snapshots shows as one fit too few.
    path(layout.ROLES).write_text(
        json.dumps({**roles, layout.FIT_COUNT: _STATE.get("fit_count", 0)})
    )


def _checkpoint_after_each_cell() -> None:
    """Save the role models and data variables after each cell that changed them, so that a
    kernel dying later (``os._exit``, a segfault, memory) does not take the work with it."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    _STATE.update(checkpoints=0, checkpointed=None)

    def after_cell(_result: t.Any = None) -> None:
        if _STATE.get("finished"):
            return
        try:
            checkpoint(shell.user_ns)
        except Exception as exc:  # a checkpoint must never break the student's cell
            print(f"[grader] could not checkpoint the models: {exc!r}", file=sys.stderr)

    shell.events.register("post_run_cell", after_cell)


def _signature(namespace: dict[str, t.Any]) -> t.Any:
    """What a checkpoint depends on, cheaply: which objects the role and data variables hold,
    how many fits ran, and each role model's layers, their trainable flags and optimizer."""
    import keras

    config = _STATE["config"]
    models = []
    for names in config["roles"].values():
        model = next((v for n in names if isinstance(v := namespace.get(n), keras.Model)), None)
        if model is not None:
            layers = tuple((f.layer.name, f.trainable) for f in nesting.leaves(model))
            models.append((id(model), layers, id(getattr(model, "optimizer", None))))
    data = tuple(
        (name, id(value), getattr(value, "shape", None))
        for name in config["variables"]
        if (value := namespace.get(name)) is not None
    )
    return (_STATE["fit_count"], tuple(models), data)


def checkpoint(namespace: dict[str, t.Any]) -> bool:
    """Write checkpoint k (see :mod:`grader.kernel.layout`) if anything it holds changed.

    Returns:
        Whether a checkpoint was written.
    """
    signature = _signature(namespace)
    if signature == _STATE.get("checkpointed") or not (signature[1] or signature[2]):
        return False
    index = _STATE["checkpoints"]
    folder: Path = _STATE["artefacts"]
    (folder / layout.CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    # A checkpoint only stands in for a kernel that dies before its end: it may keep an
    # earlier checkpoint's range of an array it finds unchanged (see variables.py), where
    # the final summary reads every array. Reading a training set's range after every cell
    # that changed anything was a tenth of a notebook's cells' CPU (profiled 2026-12-07).
    summaries: Summaries = _STATE.setdefault("summaries", {})
    _save_state(namespace, lambda final: folder / layout.checkpoint_file(index, final), summaries)
    _STATE.update(checkpoints=index + 1, checkpointed=signature)
    return True
