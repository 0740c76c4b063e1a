"""Shared fixtures. No test touches the network: data is real-format files written here, or
the grader's deterministic synthetic set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.options import GradeOptions

# Before anything imports TensorFlow: keep its C++ start-up chatter out of test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignments" / "cifar10_transfer"
EXAMPLES = ASSIGNMENT / "submissions"
SMOKE = GradeOptions(budget="smoke")
"""How the tests grade: the smoke budget, everything else as instructors grade."""


def pytest_configure(config: pytest.Config) -> None:
    # One cache per test session: synthetic data and calibrations are computed once and shared
    # by every notebook test, and the developer's own cache is never touched.
    if "GRADER_CACHE_DIR" not in os.environ:
        cache = getattr(config, "cache", None)
        cache = Path(cache.mkdir("grader-cache")) if cache else None
        os.environ["GRADER_CACHE_DIR"] = str(cache or ROOT / ".pytest_cache" / "grader-cache")
    # A fixed secret: the synthetic data and the held-back split, hence every golden, are the
    # same on every machine (a real installation draws its own; see grader/secret.py).
    os.environ.setdefault("GRADER_SECRET", "the test suite's secret")
    # A fake home: Keras' cache there is empty, so tests grade on synthetic data unless a test
    # writes real-format files itself.
    os.environ["KERAS_HOME"] = str(Path(os.environ["GRADER_CACHE_DIR"]) / "keras-home")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite tests/goldens/ from what the grader now produces.",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
