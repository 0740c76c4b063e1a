"""A notebook's kernel as a fork-server serves it (:mod:`grader.sandbox.zygote`): ipykernel and
Keras imported once, before any submission; each kernel forked, confined, and started by
ipykernel's own launcher in the process it already is. (A PyTorch kernel's:
:mod:`grader.framework.pytorch.kernel.forked`.)

A forked kernel is the kernel a fresh ``python -m ipykernel_launcher`` with the grader's
preload (``import keras``) would be: the same arguments and ``sys.argv``, the same
environment (sent with the request), its own ``TMPDIR`` and Keras home.
"""

from __future__ import annotations

import importlib.util
import os
import sys

LAUNCHER = ["-m", "ipykernel_launcher"]
"""How Jupyter's kernel spec starts the kernel, after the interpreter."""


def preload_ipykernel() -> None:
    """ipykernel's modules, which every kernel imports before its first cell."""
    import ipykernel.ipkernel
    import ipykernel.kernelapp  # noqa: F401


def preload() -> None:
    """ipykernel's modules and the Keras kernel's preload (``import keras``), quietly: a
    kernel's own stderr goes nowhere."""
    from grader import keras_env

    preload_ipykernel()
    with keras_env.quiet_stderr():
        import keras  # noqa: F401


def run(argv: list[str]) -> int:
    """One kernel, in its confined child: ``python ARGV``, which must be ipykernel's launcher.

    Raises:
        ValueError: ``argv`` does not start ipykernel.
    """
    if argv[: len(LAUNCHER)] != LAUNCHER:
        raise ValueError(f"not a kernel's command: {argv[:2]}")
    # Keras reads its home when it is imported (here, in the server): the kernel's own, as a
    # fresh kernel's import would have read it.
    config = sys.modules.get("keras.src.backend.config")
    home = os.environ.get("KERAS_HOME")
    if config is not None and home and hasattr(config, "_KERAS_DIR"):
        config.__dict__.update(_KERAS_DIR=home, _config_path=os.path.join(home, "keras.json"))
    spec = importlib.util.find_spec("ipykernel_launcher")
    sys.argv = [spec.origin if spec and spec.origin else "ipykernel_launcher", *argv[2:]]
    from ipykernel import kernelapp

    kernelapp.IPKernelApp.launch_instance(argv=argv[2:])
    return 0


def command(argv: list[str]) -> list[str]:
    """The same kernel as a fresh process."""
    return [sys.executable, *argv]
