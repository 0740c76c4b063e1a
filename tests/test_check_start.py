"""``grader check`` starts its kernel and judge before the data is loaded, from the data files
remembered from last time; a wrong guess is never used."""

from __future__ import annotations

import json
import shutil
import typing as t
from pathlib import Path

import pytest

from grader.check_start import start_check
from grader.data.prepare import assignment_data, prepare_data, remembered_files
from grader.execute import warm
from grader.execute.kernel_setup import kernel_key
from grader.execute.warm import WarmKey
from grader.judge.process import JudgeKey, judge_key
from grader.notebook import METADATA_KEY
from grader.options import CHECK_DEFAULTS
from grader.rubric.load import load_assignment
from tests.conftest import EXAMPLES

ASSIGNMENT = "cifar10_transfer"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[t.Any]]:
    """The keys the pool was asked to start kernels and judges for (nothing is started)."""
    keys: dict[str, list[t.Any]] = {"kernels": [], "judges": []}
    monkeypatch.setattr(warm.WarmPool, "refill", lambda self, key: keys["kernels"].append(key))
    monkeypatch.setattr(warm.WarmPool, "refill_judge", lambda self, key: keys["judges"].append(key))
    return keys


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "hw.ipynb"
    shutil.copy(EXAMPLES / "full_marks.ipynb", path)
    return path


def _prepared() -> tuple[t.Any, t.Any]:
    spec = load_assignment(ASSIGNMENT)
    return spec, prepare_data(**assignment_data(spec, CHECK_DEFAULTS))


def test_the_files_prepare_data_wrote_are_remembered() -> None:
    spec, data = _prepared()
    files = remembered_files(**assignment_data(spec, CHECK_DEFAULTS))
    assert files is not None
    assert (files.kernel_file, files.held_out_file) == (data.kernel_file, data.held_out_file)
    # Another secret is other data: nothing is remembered for it.
    other = {**assignment_data(spec, CHECK_DEFAULTS), "secret": "another grader's secret"}
    assert remembered_files(**other) is None


@pytest.mark.parametrize(
    "names",
    [
        {"kernel": "../../secret.npz", "held_out": "held-out-x.npz"},
        {"kernel": "kernel-x.npz", "held_out": "/etc/passwd"},
        {"kernel": "results.json", "held_out": "held-out-x.npz"},
        ["kernel-x.npz"],
    ],
)
def test_an_index_naming_other_files_is_not_followed(names: t.Any) -> None:
    spec, data = _prepared()
    index = _index_of(data)
    saved = index.read_text()
    try:
        index.write_text(json.dumps(names))
        assert remembered_files(**assignment_data(spec, CHECK_DEFAULTS)) is None
    finally:
        index.write_text(saved)


def _index_of(data: t.Any) -> Path:
    return next(
        p
        for p in data.kernel_file.parent.glob("files-*.json")
        if json.loads(p.read_text())["kernel"] == data.kernel_file.name
    )


def test_the_kernel_and_judge_start_with_the_keys_grading_takes(
    notebook: Path, started: dict[str, list[t.Any]]
) -> None:
    spec, data = _prepared()
    pool = start_check(notebook, None, CHECK_DEFAULTS)  # the id is read from the metadata
    assert pool is not None and pool.ahead is False
    # The keys _run_and_judge computes from the loaded data: equal, so both are used.
    pretrained = [_weights(name) for name in spec.pretrained]
    key = kernel_key(spec, data, pretrained, CHECK_DEFAULTS)
    assert started["kernels"] == [key]
    sandbox = CHECK_DEFAULTS.sandbox_for(spec)
    assert started["judges"] == [judge_key(sandbox, spec, data, dict(key.env))]


def _weights(name: str) -> t.Any:
    from grader.data.pretrained import find_weights

    return find_weights(name, None)


def test_a_wrong_guess_starts_a_kernel_that_is_never_used(
    notebook: Path, started: dict[str, list[t.Any]]
) -> None:
    spec, data = _prepared()
    index = _index_of(data)
    stale = data.kernel_file.with_name("kernel-stale.npz")
    shutil.copy(data.kernel_file, stale)
    index.write_text(json.dumps({"kernel": stale.name, "held_out": data.held_out_file.name}))
    try:
        start_check(notebook, ASSIGNMENT, CHECK_DEFAULTS)
        guessed: WarmKey = started["kernels"][0]
        judged: JudgeKey = started["judges"][0]
        right = kernel_key(spec, data, [_weights(n) for n in spec.pretrained], CHECK_DEFAULTS)
        assert guessed.data == stale and guessed != right
        assert judged.data == stale
        # What the pool does with it: a key that differs gets no warm kernel.
        pool = warm.WarmPool()
        pool._warm = t.cast(t.Any, _Fake(guessed))
        assert pool.take(right) is None
    finally:
        stale.unlink()
        index.write_text(
            json.dumps({"kernel": data.kernel_file.name, "held_out": data.held_out_file.name})
        )


class _Fake:
    """A warm kernel that is alive, made for ``key``."""

    def __init__(self, key: WarmKey) -> None:
        self.key = key
        self.closed = False
        self.km = self

    has_kernel = True

    async def is_alive(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "problem",
    ["not a notebook", "no assignment id", "no data prepared yet", "warm kernels off"],
)
def test_nothing_is_started_for_what_the_check_refuses_or_cannot_guess(
    tmp_path: Path,
    notebook: Path,
    monkeypatch: pytest.MonkeyPatch,
    started: dict[str, list[t.Any]],
    problem: str,
) -> None:
    assignment: str | None = None
    if problem == "not a notebook":
        notebook.write_text("print('hello')")
        assignment = ASSIGNMENT  # named: the file is still read first
    elif problem == "no assignment id":
        nb = json.loads(notebook.read_text())
        nb["metadata"].pop(METADATA_KEY, None)
        notebook.write_text(json.dumps(nb))
    elif problem == "no data prepared yet":
        monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "empty-cache"))
        assignment = ASSIGNMENT
    else:
        monkeypatch.setenv("GRADER_WARM_KERNELS", "0")
    pool = start_check(notebook, assignment, CHECK_DEFAULTS)
    assert started == {"kernels": [], "judges": []}
    if problem == "warm kernels off":
        assert pool is None
