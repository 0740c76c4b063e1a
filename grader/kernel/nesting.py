"""A model's layers with nested models seen through: the leaves, where each sits, and whether
it really trains.

Used by the kernel (fit records and weight snapshots) and by the judge (the saved models), so
both number the layers alike: ``Sequential([base, Flatten(), ...])``, ``x = base(inputs)`` and
``Model(base.input, ...)`` all give VGG19's own layers, then the head.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

SEPARATOR = " \u203a "  # a right angle quote: "vgg19 \u203a block1_conv1"


@dataclass(frozen=True)
class Leaf:
    """A layer that is not itself a model of layers, as the student nested it."""

    layer: t.Any
    within: tuple[str, ...]
    """The names of the models it is nested in, outermost first (empty at the top level)."""
    trainable: bool
    """Whether training changes it: its own flag and that of every model holding it."""

    @property
    def label(self) -> str:
        """The layer as the student wrote it (:data:`grader.kernel.nesting.SEPARATOR`)."""
        return label(self.layer.name, self.within)


def label(name: str, within: t.Sequence[str] = ()) -> str:
    """``within`` and ``name`` joined as a report shows a nested layer."""
    return SEPARATOR.join([*within, name])


def is_container(layer: t.Any) -> bool:
    """A model used as a layer whose weights are exactly its layers' (Sequential, Functional,
    or a subclassed model holding no variable of its own): seen through."""
    sublayers = getattr(layer, "layers", None)
    if not sublayers or not hasattr(layer, "weights"):
        return False
    import keras

    if not isinstance(layer, keras.Model):
        return False
    own = {id(w) for w in layer.weights}
    held = {id(w) for sub in sublayers for w in sub.weights}
    return own == held


def leaves(model: t.Any) -> list[Leaf]:
    """Every leaf layer of ``model`` in order, nested models flattened.

    The top-level input layer (Keras lists it first in a functional model) stays, as in
    ``model.layers``; those of nested models are left out (they compute nothing).
    """
    out: list[Leaf] = []
    _walk(model, (), True, out, top=True)
    return out


def _walk(
    model: t.Any, within: tuple[str, ...], trainable: bool, out: list[Leaf], *, top: bool
) -> None:
    for layer in model.layers:
        effective = trainable and bool(layer.trainable)
        if is_container(layer):
            _walk(layer, (*within, layer.name), effective, out, top=False)
        elif top or type(layer).__name__ != "InputLayer":
            out.append(Leaf(layer, within, effective))
