"""The judge as a fork-server serves it (:mod:`grader.sandbox.zygote`): Keras and the checks
imported once; each judge forked, confined, and run by its ``main``."""

from __future__ import annotations

import sys


def preload() -> None:
    """What a Keras judge imports before its request (``prepare`` included)."""
    from grader import keras_env

    with keras_env.quiet_stderr():
        import keras  # noqa: F401
    import grader.checks.base
    import grader.checks.cost
    import grader.judge.__main__
    import grader.rubric.load  # noqa: F401


def run(argv: list[str]) -> int:
    """One judge, in its confined child: ``python -m grader.judge ARGV``'s ``main``."""
    from grader.judge.__main__ import main

    return main(argv)


def command(argv: list[str]) -> list[str]:
    """The same judge as a fresh process (as :func:`grader.judge.process.judge_argv`)."""
    from grader.judge.process import JUDGE_MODULE

    return [sys.executable, "-I", "-m", JUDGE_MODULE, *argv]
