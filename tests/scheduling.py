"""How ``pytest -n N --dist loadfile`` hands test files to its workers: the longest first.

A file goes whole to one worker, so that its shared fixtures (a graded batch, a kit) are built
once. xdist's default order puts the files with the most tests first, which here are the quick
unit tests: the notebook files, some of one test taking minutes, came last, and one worker
ran them alone while the other sat idle. Here the files are sorted by how long each took in a
measured run (``tests/file_seconds.json``, refreshed with ``tools/file_seconds.py`` from a
``--durations=0`` log), longest first, and a worker gets its next file only when it starts the
last test of its current one, so that two long files never queue behind each other on one
worker while the other has nothing to do.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from xdist.scheduler import LoadFileScheduling

if t.TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.workermanage import WorkerController

SECONDS = Path(__file__).resolve().parent / "file_seconds.json"
"""Measured seconds per test file (its tests' setup, call and teardown together)."""
NOTEBOOK_SECONDS = 45.0
"""What a test marked ``notebook`` in a file not measured yet is guessed to take."""
OTHER_SECONDS = 0.5
"""What any other test in a file not measured yet is guessed to take."""


def measured() -> dict[str, float]:
    """The measured seconds of each test file, by its path relative to the repository."""
    seconds: dict[str, float] = json.loads(SECONDS.read_text(encoding="utf-8"))
    return seconds


def longest_files_first(items: list[pytest.Item]) -> None:
    """Sort ``items`` in place: whole files, the longest first, each file's tests in order.

    A file not measured yet is guessed from its tests' markers, so that a new notebook file
    does not end up last.
    """
    seconds = measured()
    guessed: dict[str, float] = {}
    for item in items:
        file = item.nodeid.split("::", 1)[0]
        each = NOTEBOOK_SECONDS if item.get_closest_marker("notebook") else OTHER_SECONDS
        guessed[file] = guessed.get(file, 0.0) + each
    cost = {file: seconds.get(file, guess) for file, guess in guessed.items()}
    first_seen = {file: i for i, file in enumerate(dict.fromkeys(guessed))}
    position = {id(item): i for i, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[float, int, int]:
        file = item.nodeid.split("::", 1)[0]
        return (-cost[file], first_seen[file], position[id(item)])

    items.sort(key=key)


def supported() -> bool:
    """Whether this xdist has the private methods :class:`LongestFirstFileScheduling` builds on
    (xdist 3.x): a later one falls back to xdist's own order rather than break the run."""
    return all(
        callable(getattr(LoadFileScheduling, name, None))
        for name in ("_reschedule", "_pending_of", "_assign_work_unit")
    )


class LongestFirstFileScheduling(LoadFileScheduling):  # type: ignore[misc]  # untyped
    """``--dist loadfile``, in the workers' collection order, one file ahead per worker."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        # The workers sort their collection (longest_files_first): keep that order, not
        # xdist's most-tests-first.
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _reschedule(self, node: WorkerController) -> None:
        # xdist's own rule gives a worker more work while it has up to two tests left: a
        # worker running a one-test file of several minutes took a second and a third file.
        # A worker cannot start its last test before it knows the next one (pytest tears
        # down by looking at the next test), so it gets the next file at that moment.
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)
