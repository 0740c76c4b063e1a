"""Run a variant's source in this process, as its cells would run, and judge what it built.

A variant is the code a student writes in an assignment's cells. It is executed here with
``keras.Model.fit`` recording every call as the kernel records it (the layers' weight digests
before and after, the model's identity); the models are then found under the rubric's variable
names, saved, read back by the judge's own :class:`~grader.artefacts.folder.Artefacts` and
judged by the real checks. No kernel, no notebook: a variant costs a model build and one
eager training step per fit (the structural verdicts read the graph, the trainable flags and
whether weights moved, never how well the model learned; tracing a ``tf.function`` for each fit
cost ten times the step itself).
"""

from __future__ import annotations

import re
import textwrap
import typing as t
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from grader.artefacts.records import FitCapture, layer_states
from grader.checks.base import CheckContext, run_check
from grader.data.sets import HeldOut
from grader.results import CheckResult
from grader.rubric import Assignment
from grader.rubric.load import load_assignment
from tests.checks.test_checks import artefacts

STRUCTURAL = frozenset({"architecture", "compile", "frozen", "weights_transferred"})
"""The check kinds judged from the model graph: the ones every idiom must get alike."""


@dataclass(frozen=True)
class Judged:
    """A variant's structural verdicts, by check id."""

    results: dict[str, CheckResult]

    def statuses(self) -> dict[str, str]:
        return {k: r.status for k, r in self.results.items()}

    def message(self, check_id: str) -> str:
        return self.results[check_id].message


def data(assignment: str) -> dict[str, t.Any]:
    """Two images and one-hot labels per training set, named as the variants use them: one
    training step's worth."""
    rng = np.random.default_rng(0)

    def images(shape: tuple[int, ...]) -> np.ndarray:
        return rng.random((2, *shape), dtype=np.float32)

    def labels(width: int) -> np.ndarray:
        return keras.utils.to_categorical(np.arange(2) % width, width)

    if assignment == "mnist_transfer":
        return {"xa": images((28, 28, 1)), "ya": labels(5)}
    if assignment == "vgg19_finetune":
        return {"xtrain": images((32, 32, 3)), "ytrain": labels(10)}
    return {"x1": images((32, 32, 3)), "y1": labels(5), "x2": images((32, 32, 3)), "y2": labels(10)}


def run_variant(
    source: str, assignment: str, monkeypatch: t.Any
) -> tuple[dict[str, t.Any], list[FitCapture]]:
    """Execute ``source`` with recorded fits; returns its namespace and the fits in order."""
    fits: list[FitCapture] = []
    original = keras.Model.fit

    def recording_fit(self: keras.Model, *args: t.Any, **kwargs: t.Any) -> t.Any:
        before = tuple(layer_states(self)) if self.built else None
        kwargs["verbose"] = 0
        # Eager: one step on two images, no graph to trace. Not saved with the model.
        self.run_eagerly = True
        history = original(self, *args, **kwargs)
        after = tuple(layer_states(self))
        n = len(args[0]) if args else 0
        built = before is not None  # as the kernel says of a model with no weights yet
        fits.append(FitCapture(len(fits), id(self), 1, 1, n, n, {}, after, before, after, built))
        return history

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    namespace: dict[str, t.Any] = {"__name__": "__main__", **data(assignment)}
    exec(compile(textwrap.dedent(source), f"<{assignment} variant>", "exec"), namespace)
    monkeypatch.setattr(keras.Model, "fit", original)
    return namespace, fits


def roles(spec: Assignment, namespace: dict[str, t.Any]) -> dict[str, keras.Model]:
    """Each role's model: the first of the rubric's variable names the variant defined."""
    found = {}
    for role, names in spec.roles.items():
        for name in names:
            if isinstance(namespace.get(name), keras.Model):
                found[role] = namespace[name]
                break
    return found


def judge_variant(source: str, assignment: str, tmp_path: Path, monkeypatch: t.Any) -> Judged:
    """Run ``source`` and judge every structural check of ``assignment`` on what it built."""
    # Collecting garbage costs more than a small variant; VGG19's 20M weights are worth it.
    keras.utils.clear_session(free_memory=assignment == "vgg19_finetune")
    spec = load_assignment(assignment)
    namespace, fits = run_variant(source, assignment, monkeypatch)
    art = artefacts(tmp_path, roles(spec, namespace), fits)
    held = HeldOut(np.zeros((1, 32, 32, 3), np.uint8), np.zeros(1, np.uint8))
    given: t.Any = None  # structural checks never read the data the kernel was given
    ctx = CheckContext(art, spec, given, held, spec.budgets["smoke"], {})
    return Judged({c.id: run_check(c, ctx) for c in spec.checks if c.kind in STRUCTURAL})


def without_names(message: str) -> str:
    """A message with Keras' generated layer names left out (``conv2d_3`` in one process is
    ``conv2d`` in another), and the nested model on the path to a layer (``block1_conv1``
    reached through ``vgg19``): what it says, not what Keras' name counters or the idiom's
    containers were."""
    message = re.sub(r"[\w/]+ \u203a ", "", message)  # the grader's path separator
    return re.sub(r"\(([\w/]+)\)", "(…)", message)
