"""Importing PyTorch in a process that may also hold TensorFlow.

PyTorch imports Triton (a GPU kernel compiler) when ``torch._dynamo`` loads, as
``torchvision`` and the ONNX exporter make it do; Triton's native library crashes the process
(a segmentation fault) where TensorFlow's is already loaded. Grading never compiles GPU
kernels, so Triton is made unimportable first: PyTorch then runs without it, as on a machine
where it is not installed.
"""

from __future__ import annotations

import sys


def without_triton() -> None:
    """Make ``import triton`` fail in this process, unless it is imported already.

    Call before the first import of ``torch`` (the grader's calibration, the judge, the kernel's
    runtime, the tests).
    """
    sys.modules.setdefault("triton", None)  # type: ignore[arg-type]
