"""A PyTorch notebook's kernel as a fork-server serves it: ipykernel and the PyTorch kernel's
preload (Triton blocked, ``torchvision`` imported) once; each kernel forked and started as
:mod:`grader.kernel.forked` starts a Keras one."""

from __future__ import annotations

from grader.kernel.forked import command, preload_ipykernel, run

__all__ = ["command", "preload", "run"]


def preload() -> None:
    """What :data:`grader.framework.pytorch.PRELOAD` runs in a fresh kernel."""
    from grader.framework.pytorch.environment import without_triton

    preload_ipykernel()
    without_triton()
    import torchvision  # noqa: F401
