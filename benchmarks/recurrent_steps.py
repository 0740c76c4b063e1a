"""What a recurrent layer's time step costs ``predict`` beyond its arithmetic, against the
reference CNN's rate on this machine: the figure behind ``grader.checks.cost.STEP_FLOPS``.

    python benchmarks/recurrent_steps.py

Prints, for SimpleRNN layers of a few sizes over a few sequence lengths at the accuracy
check's batch of 256, microseconds per step and batch; then the reference base CNN's
operations per second (``flops_per_image`` over its measured time per image); then the step
overhead per image in operations at that rate. Two runs of 2026-12-06 on the 2-core machine,
load 0.8-3.2: 41-216 us per step and batch (the longer the sequence, the less per step), the
reference at 23-31 GFLOP/s, so 4e3-2.6e4 operations' time per image and step; STEP_FLOPS is
1e4.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import grader.checks  # noqa: F401  (the cost module is imported through the checks)
from grader.checks.cost import STEP_FLOPS, flops_per_image
from grader.rubric.load import load_assignment

BATCH = 256


def seconds(model: keras.Model, x: np.ndarray) -> float:
    model.predict(x[:BATCH], batch_size=BATCH, verbose=0)  # traced once, untimed
    start = time.perf_counter()
    model.predict(x, batch_size=BATCH, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    per_step = []
    for steps, units in [(2000, 4), (20000, 4), (2000, 64)]:
        rnn = keras.Sequential(
            [keras.Input((steps, 1)), keras.layers.SimpleRNN(units), keras.layers.Dense(10)]
        )
        took = seconds(rnn, np.zeros((BATCH, steps, 1), "float32"))
        per_step.append(took / steps)
        print(f"SimpleRNN({units}) over {steps} steps: {took / steps * 1e6:.0f} us per step")
    reference = load_assignment("cifar10_transfer").reference_module().build_base_cnn()
    images = np.zeros((2048, *reference.input_shape[1:]), "float32")
    rate = flops_per_image(reference) * len(images) / seconds(reference, images)
    print(f"reference base CNN: {rate / 1e9:.1f} GFLOP/s")
    low, high = (s / BATCH * rate for s in (min(per_step), max(per_step)))
    print(f"one step per image: {low:.1e}-{high:.1e} operations' time ({STEP_FLOPS=:.0e})")
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
