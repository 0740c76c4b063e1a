"""Runs inside a PyTorch notebook's kernel: torchvision's data sets serve the grader's arrays.

``torchvision.datasets.CIFAR10`` and ``MNIST`` (any ``root``, ``download=True`` included) are
replaced by subclasses that serve the kernel's share of the data (the training set and the
visible part of the test set) as PIL images through the notebook's own transforms, as
torchvision would. Nothing is downloaded; the held-back images never reach the kernel, and the
data set the assignment does not use cannot be built at all. Installed by
:class:`grader.framework.pytorch.kernel.runtime.Runtime`.
"""

from __future__ import annotations

import importlib
import typing as t
from pathlib import Path

import numpy as np

DATASET_CLASSES = {"cifar10": ("cifar", "CIFAR10"), "mnist": ("mnist", "MNIST")}
"""The grader's data set name -> torchvision's module and class serving it."""

Patch = t.Callable[[t.Any, str, t.Any], None]
"""Sets an attribute so that it is undone when the runtime is uninstalled."""
Say = t.Callable[[t.Any, str], None]
"""Prints a line in the notebook once per key."""


class ServedData:
    """The kernel's share of one data set, and the torchvision classes that serve it.

    Args:
        dataset: the grader's name of the data set (``cifar10``, ``mnist``).
        path: the ``.npz`` file the grader put in the sandbox.
        note: where the data comes from, as the notebook is told.
    """

    def __init__(self, dataset: str, path: Path, note: str) -> None:
        self.dataset = dataset
        self.path = path
        self.note = note
        self._arrays: dict[str, np.ndarray] | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The kernel's share of the data: ``x_train``, ``y_train``, ``x_test``, ``y_test``."""
        if self._arrays is None:
            with np.load(self.path, allow_pickle=False) as z:
                self._arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        return self._arrays

    def serve(self, patch: Patch, say: Say) -> None:
        """Replace every data set class of :data:`DATASET_CLASSES` in torchvision."""
        import torchvision.datasets

        for name, (module_name, class_name) in DATASET_CLASSES.items():
            module = importlib.import_module(f"torchvision.datasets.{module_name}")
            original = getattr(module, class_name)
            original = getattr(original, "__grader_original__", original)
            served = (
                self.served_class(original, say)
                if name == self.dataset
                else unavailable_class(original, self.dataset)
            )
            for target in (module, torchvision.datasets):
                patch(target, class_name, served)

    def served_class(self, original: type, say: Say) -> type:
        """A subclass of torchvision's ``original`` whose instances hold the grader's arrays."""
        import torch
        from torchvision.datasets import VisionDataset

        served_data = self
        grey = self.dataset == "mnist"

        def __init__(
            self: t.Any,
            root: t.Any = "data",
            train: bool = True,
            transform: t.Callable[..., t.Any] | None = None,
            target_transform: t.Callable[..., t.Any] | None = None,
            download: bool = False,
        ) -> None:
            # Any root, download or not: nothing is read from it or written to it.
            VisionDataset.__init__(
                self, str(root), transform=transform, target_transform=target_transform
            )
            self.train = bool(train)
            data = served_data.arrays()
            x = data["x_train" if self.train else "x_test"]
            y = data["y_train" if self.train else "y_test"].reshape(-1).astype(np.int64)
            if grey:
                self.data = torch.from_numpy(np.ascontiguousarray(x))
                self.targets = torch.from_numpy(y)
            else:
                self.data = x
                self.targets = [int(v) for v in y]
            split = "training" if self.train else "test"
            say(
                ("dataset", self.train),
                f"[grader] torchvision {original.__name__}(train={self.train}): the grader's "
                f"{split} images ({len(y):,}; {served_data.note}); nothing is downloaded",
            )

        served = type(
            original.__name__,
            (original,),
            {
                "__init__": __init__,
                "__module__": original.__module__,
                "__qualname__": original.__qualname__,
                "__grader_original__": original,
                "__grader_served__": True,
            },
        )
        return served


def unavailable_class(original: type, served: str) -> type:
    """A subclass of torchvision's ``original`` that refuses to be built (``served`` is used)."""

    def __init__(self: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        raise RuntimeError(
            f"[grader] {original.__name__} is not available in this assignment (it uses "
            f"{served}); nothing can be downloaded"
        )

    return type(
        original.__name__,
        (original,),
        {"__init__": __init__, "__module__": original.__module__, "__grader_original__": original},
    )
