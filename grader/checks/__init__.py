"""Checks: small functions of captured artefacts, each returning a verdict.

A check is registered under a *kind* with the parameters the rubric must give it; the rubric
names the kind, the id, the points and the hint (:mod:`grader.checks.base`: the registry,
:class:`~grader.checks.base.Verdict` and :func:`~grader.checks.base.run_check`). Checks never
crash the grader: a missing input (:class:`~grader.artefacts.folder.MissingInput`) is a failure
with its reason, anything else an error.
"""

from __future__ import annotations

# Importing each module registers its checks (PyTorch's are its framework package's).
import grader.framework.pytorch.checks  # noqa: F401
from grader.checks import (  # noqa: F401
    accuracy,
    architecture,
    class_groups,
    compilation,
    data_split,
    frozen,
    transfer,
)
