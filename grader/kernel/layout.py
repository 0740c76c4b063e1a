"""The artefact folder's layout: the names the kernel's runtime writes and the grader and the
judge read, defined once (standard library only: the kernel imports it).

::

    fits/<k>.json             fit call k: model id and name, epochs, samples, history, layers
    snapshots/<k>-before.npz  that model's weights when fit k began (absent if not yet built)
    snapshots/<k>-after.npz   its weights when fit k ended
    models/<role>.keras       each rubric role's model at the end of the notebook
    roles.json                role -> {"variable", "model_id"}
    variables.json            per data variable: shape, dtype, min, max, sampled row indices
    variables.npz             labels in full and sampled image rows (no pickles)
"""

from __future__ import annotations

import re
import typing as t

FITS = "fits"
SNAPSHOTS = "snapshots"
MODELS = "models"
ROLES = "roles.json"
VARIABLES = "variables.json"
VARIABLE_ARRAYS = "variables.npz"
FIT_RECORD = re.compile(r"\d{1,6}\.json")
"""Names in ``fits/``."""
SNAPSHOT = re.compile(r"\d{1,6}-(before|after)\.npz")
"""Names in ``snapshots/``."""
FINAL_FILES = (ROLES, VARIABLES, VARIABLE_ARRAYS)
"""Written by the grader's last cell."""


def fit_record(index: int) -> str:
    """``fits/<k>.json``, relative to the artefact folder."""
    return f"{FITS}/{index}.json"


def snapshot(index: int, when: t.Literal["before", "after"]) -> str:
    """``snapshots/<k>-before.npz`` or ``-after.npz``, relative to the artefact folder."""
    return f"{SNAPSHOTS}/{index}-{when}.npz"


def model_file(role: str) -> str:
    """``models/<role>.keras``, relative to the artefact folder."""
    return f"{MODELS}/{role}.keras"


def weight_key(layer: int, weight: int) -> str:
    """The name of layer ``layer``'s weight array ``weight`` in a snapshot."""
    return f"l{layer}_w{weight}"
