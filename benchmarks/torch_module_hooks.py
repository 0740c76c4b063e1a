"""What the PyTorch runtime's module hooks cost a training step.

The runtime keys every module the notebook calls (:mod:`grader.framework.pytorch.kernel.modules`)
through PyTorch's global forward hooks, which put every module call, layers included, on PyTorch's
slower call path. This times training steps of the CIFAR-10 exercise's CNN (batch 64, CPU) with the
hooks installed and without, alternating, and prints the median of each.

    python benchmarks/torch_module_hooks.py [--steps 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from grader.framework.pytorch.kernel import hooks
from grader.framework.pytorch.kernel.runtime import Runtime
from reference.cifar10_cnn_torch import build_net


def steps(model: nn.Module, optimizer: torch.optim.Optimizer, n: int) -> float:
    x, y = torch.rand(64, 3, 32, 32), torch.randint(0, 10, (64,))
    started = time.perf_counter()
    for _ in range(n):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return (time.perf_counter() - started) / n


def hooked() -> Runtime:
    """A runtime with only its module hooks installed (no data, no other patch)."""
    runtime = Runtime(
        {
            "dataset": "cifar10",
            "data_path": "unused.npz",
            "budget": {"name": "none"},
            "torch": {"input_shape": [3, 32, 32]},
        }
    )
    hooks.watch_modules(runtime)
    return runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = build_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    steps(model, optimizer, 3)  # warm-up
    plain, with_hooks = [], []
    for _ in range(args.rounds):
        plain.append(steps(model, optimizer, args.steps))
        runtime = hooked()
        try:
            with_hooks.append(steps(model, optimizer, args.steps))
        finally:
            runtime.uninstall()
    a, b = statistics.median(plain), statistics.median(with_hooks)
    print(f"training step, no hooks:   {a * 1000:.2f} ms (median of {args.rounds})")
    print(f"training step, with hooks: {b * 1000:.2f} ms ({(b / a - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
