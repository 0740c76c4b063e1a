"""Shared fixtures. No test touches the network: data is real-format files written here, or
the grader's deterministic synthetic set."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.framework.pytorch.environment import without_triton
from grader.options import GradeOptions
from grader.results import GradeResult
from grader.sandbox.limits import thread_env

# Before anything imports TensorFlow: keep its C++ start-up chatter out of test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests that build models in this process compute with the grader's thread count too.
os.environ.update(thread_env())

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignments" / "cifar10_transfer"
EXAMPLES = ASSIGNMENT / "submissions"
SMOKE = GradeOptions(budget="smoke")
"""How the tests grade: the smoke budget, everything else as instructors grade."""

# The PyTorch tests import torch and torchvision in the process that runs the Keras tests:
# PyTorch's optional Triton import crashes beside TensorFlow (see
# grader.framework.pytorch.environment).
without_triton()


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
    # A runtime folder of the session's own (short: a socket's address has at most 107
    # bytes): a check prepared by the developer's `grader check --keep-warm` is never taken,
    # nor told to stop, by a test's check (see grader.check_ahead).
    run = tempfile.mkdtemp(prefix="run-", dir="/tmp")
    os.environ["XDG_RUNTIME_DIR"] = run
    config.add_cleanup(lambda: shutil.rmtree(run, ignore_errors=True))
    if "PYTEST_XDIST_WORKER" not in os.environ:
        _scratch_for_the_session(config)


def _scratch_for_the_session(config: pytest.Config) -> None:
    # Everything the grader and the tests write to the temporary folder goes to one folder of
    # the session's, removed when it ends: a process a test kills (a hostile kernel, a check
    # holder, a timed-out worker) cannot clean up after itself, and on a machine that runs the
    # suite again and again those leftovers filled the disk. pytest's own folders stay where
    # they were (kept for failed tests, see tmp_path_retention_policy in pyproject.toml). The
    # xdist workers inherit TMPDIR, so it is set once, here in the controller.
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    scratch = tempfile.mkdtemp(prefix="grader-suite-")
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = None
    config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only in an xdist worker: each sorts its collection the same way, and the controller
    # hands out files in that order (see tests/scheduling.py). A run without xdist keeps the
    # files in the order they are written.
    if hasattr(config, "workerinput"):
        from tests.scheduling import longest_files_first

        longest_files_first(items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """The longest test files first, one file ahead per worker (tests/scheduling.py)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.scheduling import LongestFirstFileScheduling, supported

    # It builds on xdist's private scheduler methods: another xdist keeps its own order.
    return LongestFirstFileScheduling(config, log) if supported() else None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite tests/goldens/ from what the grader now produces.",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@dataclass(frozen=True)
class Graded:
    """An example submission graded once for the whole session, and where its files are."""

    result: GradeResult
    folder: Path


GradeExample = Callable[[str, str], Graded]


@pytest.fixture(scope="session")
def graded_example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GradeExample]:
    """Grade ``assignments/<assignment>/submissions/<name>.ipynb`` at the smoke budget, once.

    Several tests read the same graded example (its golden statuses, its report, its hints):
    a notebook run costs tens of seconds, so each is graded once per session and the tests
    share the result and its output folder. Tests must only read what they are given.

    The examples are graded one after another in this process, as a batch worker grades: while
    one runs, the kernel of the next is started in a sandbox of its own (Keras imported, used
    for that one notebook alone; see grader.execute.warm), as long as the assignment has
    examples not graded yet.
    """
    from grader.execute.warm import WarmPool, warm_kernels_enabled
    from grader.pipeline import grade
    from grader.rubric.load import load_assignment

    done: dict[tuple[str, str], Graded] = {}
    pool = WarmPool() if warm_kernels_enabled() else None

    def get(assignment: str, name: str) -> Graded:
        if (assignment, name) not in done:
            spec = load_assignment(assignment)
            out = tmp_path_factory.mktemp(f"{assignment}-{name}")
            weights = vgg19_weights(tmp_path_factory) if spec.pretrained else None
            if pool is not None:
                examples = {p.stem for p in (spec.folder / "submissions").glob("*.ipynb")}
                graded = {n for a, n in done if a == assignment} | {name}
                pool.ahead = bool(examples - graded)
            result = grade(
                spec.folder / "submissions" / f"{name}.ipynb",
                assignment=spec,
                out=out,
                options=SMOKE.replace(weights_dir=weights),
                warm=pool,
            )
            done[assignment, name] = Graded(result, out / name)
        return done[assignment, name]

    try:
        yield get
    finally:
        if pool is not None:
            pool.close()


def vgg19_weights(factory: pytest.TempPathFactory) -> Path:
    """VGG19 no-top weights written in Keras' HDF5 layout (not ImageNet's values), once."""
    folder = factory.getbasetemp() / "vgg19-weights"
    if folder.is_dir():
        return folder
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from grader.data.pretrained import WEIGHT_FILES

    folder.mkdir()
    keras.utils.set_random_seed(11)
    model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    with h5py.File(folder / WEIGHT_FILES["vgg19"], "w") as fh:
        legacy_h5_format.save_weights_to_hdf5_group(fh, model)
    return folder
