"""Pretrained weights (ImageNet) for ``keras.applications`` models, found offline or not at all.

Grading never downloads. The weights file Keras would fetch is looked for in ``--weights-dir``,
then in Keras' own cache (``~/.keras/models``, or ``$KERAS_HOME/models``). When it is in
neither, notebook and reference both start from random weights, and the report says so:
thresholds are calibrated under the same condition, so grades stay fair, but accuracies are
not ImageNet-transfer accuracies.
"""

from __future__ import annotations

import hashlib
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.data.cache import keras_home
from grader.exceptions import InputError
from grader.kernel.applications import APPLICATIONS

WEIGHT_FILES = {name: file for name, (_, _, file) in APPLICATIONS.items()}
"""Application (as named in a rubric's ``pretrained``) -> the weights file it needs: Keras' name
for its ImageNet weights without the classifier top."""


@dataclass(frozen=True)
class PretrainedWeights:
    """Where one application's ImageNet weights come from in this grading run."""

    application: str
    path: Path | None
    """The weights file, or None: random initial weights."""

    @property
    def fingerprint(self) -> str:
        """Identifies the weights in calibration cache keys: a digest of the file, or ``random``."""
        if self.path is None:
            return "random"
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()[:12]

    def notice(self) -> str:
        """One line for the report."""
        if self.path is not None:
            return f"{self.application.upper()} ImageNet weights were read from {self.path}."
        return (
            f"{self.application.upper()} ImageNet weights were not found (no "
            f"{WEIGHT_FILES[self.application]} in --weights-dir or Keras' cache), so the notebook "
            "and the reference both started from random weights; accuracy thresholds were "
            "calibrated under that same condition."
        )


def find_weights(application: str, weights_dir: Path | None = None) -> PretrainedWeights:
    """Locate the no-top ImageNet weights of ``application`` without touching the network.

    Raises:
        InputError: ``weights_dir`` was given but does not hold the file.
    """
    filename = WEIGHT_FILES[application]
    if weights_dir is not None:
        candidate = weights_dir if weights_dir.is_file() else weights_dir / filename
        if not candidate.is_file():
            raise InputError(f"--weights-dir {weights_dir}: no {filename} there")
        return PretrainedWeights(application, candidate.resolve())
    cached = keras_home() / "models" / filename
    return PretrainedWeights(application, cached.resolve() if cached.is_file() else None)


def offline_weights(asked: t.Iterable[str], weights_dir: Path | None = None) -> list[Path]:
    """The weights files of the bases an assignment does not ask for that are on this machine
    (in ``weights_dir`` when it is a folder, else Keras' cache): a notebook that builds one of
    them with ImageNet weights gets them, as it would on the student's machine."""
    folder = weights_dir if weights_dir is not None and weights_dir.is_dir() else None
    found = []
    for application, filename in WEIGHT_FILES.items():
        if application in asked:
            continue
        candidate = (folder or keras_home() / "models") / filename
        if candidate.is_file():
            found.append(candidate.resolve())
    return found
