"""The artefact folder's layout: the names the kernel's runtime writes and the grader and the
judge read, defined once (standard library only: the kernel imports it).

::

    fits/<k>.json             fit call k: model id and name, epochs, samples, history, whether
                              the model was built, layers (nested models seen through)
    snapshots/<k>-before.npz  that model's weights when fit k began (absent if not yet built)
    snapshots/<k>-after.npz   its weights when fit k ended
    models/<role>.keras       each rubric role's model at the end of the notebook
    roles.json                role -> {"variable", "model_id"}; "#fits": how many fits ran
    variables.json            per data variable: shape, dtype, min, max, sampled row indices
    variables.npz             labels in full and sampled image rows (no pickles)
    checkpoints/<k>-...       after a cell that changed a role's model or a data variable:
                              <k>-model-<role>.keras, <k>-variables.json, <k>-variables.npz,
                              then <k>-roles.json (written last: checkpoint k is complete)

A kernel that dies before the last cell leaves no final models; the grader then judges the
last complete checkpoint (see :mod:`grader.judge.evidence`).
"""

from __future__ import annotations

import re
import typing as t

FITS = "fits"
SNAPSHOTS = "snapshots"
MODELS = "models"
ROLES = "roles.json"
SAMPLED_ROWS = 24
"""Rows of each data variable the kernel keeps (spread over it): labels are kept whole."""
FIT_COUNT = "#fits"
"""The key in ``roles.json`` counting the fits that ran (no role is named so)."""
VARIABLES = "variables.json"
VARIABLE_ARRAYS = "variables.npz"
CHECKPOINTS = "checkpoints"
FIT_RECORD = re.compile(r"\d{1,6}\.json")
"""Names in ``fits/``."""
SNAPSHOT = re.compile(r"\d{1,6}-(before|after)\.npz")
"""Names in ``snapshots/``."""
PER_CELL: dict[str, re.Pattern[str]] = {FITS: FIT_RECORD, SNAPSHOTS: SNAPSHOT}
"""Sub-folder -> names the evidence collector takes from it after every cell."""
FINAL_FILES = (ROLES, VARIABLES, VARIABLE_ARRAYS)
"""Written by the grader's last cell."""
CHECKPOINT_FILE = re.compile(
    r"(\d{1,6})-(roles\.json|variables\.json|variables\.npz|model-(.+)\.keras)"
)
"""Names in ``checkpoints/``: the checkpoint's number, then the final file it stands for."""


def checkpoint_file(index: int, final: str) -> str:
    """Checkpoint ``index``'s copy of the final file ``final`` (``roles.json``,
    ``models/<role>.keras``), relative to the artefact folder.

    Example:
        >>> checkpoint_file(3, model_file("base")), checkpoint_file(3, ROLES)
        ('checkpoints/3-model-base.keras', 'checkpoints/3-roles.json')
    """
    name = final.replace(f"{MODELS}/", "model-", 1)
    return f"{CHECKPOINTS}/{index}-{name}"


def final_of_checkpoint(name: str) -> tuple[int, str] | None:
    """The checkpoint number and final file a ``checkpoints/`` name stands for, else None.

    Example:
        >>> final_of_checkpoint("3-model-base.keras"), final_of_checkpoint("x.json")
        ((3, 'models/base.keras'), None)
    """
    found = CHECKPOINT_FILE.fullmatch(name)
    if found is None:
        return None
    final = found.group(2)
    return int(found.group(1)), model_file(found.group(3)) if found.group(3) else final


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
