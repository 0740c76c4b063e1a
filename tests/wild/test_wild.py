"""The wild corpus: the student templates filled in the idioms of public implementations of the
course's exercises (old Keras spellings, ``tensorflow.keras``, eager execution disabled, a
PyTorch tutorial's loop...), graded as a class is graded, against the verdicts a teacher wrote
for them before grading (``tests/wild/corpus.toml``; the notebooks are ours, written by
``tools/make_wild_notebooks.py``).

Every entry is graded once, in one batch at the smoke budget (a module-scoped fixture, warm
kernels as a batch worker uses them). Structural checks must get the teacher's status exactly,
and where the manifest says what the message must contain (the right reason), it must; an
accuracy check is asserted only where the smoke budget decides it (``undecided`` otherwise).
"""

from __future__ import annotations

import json
import tomllib
import typing as t
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grader.results import GradeResult
from grader.rubric.load import load_assignment
from tests.conftest import SMOKE, vgg19_weights

pytestmark = pytest.mark.notebook
WILD = Path(__file__).resolve().parent
MANIFEST = tomllib.loads((WILD / "corpus.toml").read_text())
ENTRIES: list[dict[str, t.Any]] = sorted(MANIFEST["entry"], key=lambda e: e["assignment"])
IDS = [e["id"] for e in ENTRIES]


def test_the_manifest_describes_every_notebook_and_every_check() -> None:
    """Ten or more entries, each naming what inspired it and the idioms it reproduces, a
    notebook whose first cell says so, and a verdict with a reason for every check."""
    assert len(ENTRIES) >= 10 and len(set(IDS)) == len(IDS)
    assert {p.stem for p in (WILD / "notebooks").glob("*.ipynb")} == set(IDS)
    for entry in ENTRIES:
        assert all(entry[k] for k in ("repo", "path", "commit", "url", "idioms")), entry["id"]
        assert entry["commit"] in entry["url"] and entry["path"] in entry["url"]
        spec = load_assignment(entry["assignment"])
        assert set(entry["expected"]) == {c.id for c in spec.checks}, entry["id"]
        for check_id, verdict in entry["expected"].items():
            assert verdict["status"] in {"pass", "fail", "not_judged", "undecided"}, check_id
            assert verdict["why"], check_id
            kind = next(c.kind for c in spec.checks if c.id == check_id)
            assert kind == "accuracy" or verdict["status"] != "undecided", check_id
        nb = nbformat.read(WILD / "notebooks" / f"{entry['id']}.ipynb", as_version=4)
        first = nb.cells[0].source
        assert entry["id"] in first and entry["url"] in first
        assert all(idiom in first for idiom in entry["idioms"]), entry["id"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GradeResult]]:
    """Every entry graded once, one after another in this process, as a batch worker grades
    (the next kernel of the same assignment started while one runs)."""
    from grader.execute.warm import WarmPool, warm_kernels_enabled
    from grader.pipeline import grade

    pool = WarmPool() if warm_kernels_enabled() else None
    results: dict[str, GradeResult] = {}
    try:
        for i, entry in enumerate(ENTRIES):
            spec = load_assignment(entry["assignment"])
            weights = vgg19_weights(tmp_path_factory) if spec.pretrained else None
            if pool is not None:
                later = ENTRIES[i + 1 :]
                pool.ahead = bool(later) and later[0]["assignment"] == entry["assignment"]
            results[entry["id"]] = grade(
                WILD / "notebooks" / f"{entry['id']}.ipynb",
                assignment=spec,
                out=tmp_path_factory.mktemp(entry["id"]),
                options=SMOKE.replace(weights_dir=weights),
                warm=pool,
            )
        yield results
    finally:
        if pool is not None:
            pool.close()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_a_wild_notebook_gets_the_teachers_verdicts(
    entry: dict[str, t.Any], graded: dict[str, GradeResult]
) -> None:
    checks = {c.id: c for c in graded[entry["id"]].checks}
    wrong = {}
    for check_id, verdict in entry["expected"].items():
        if verdict["status"] == "undecided":
            continue
        check = checks[check_id]
        missing = [s for s in verdict.get("says", []) if s not in check.message]
        if check.status != verdict["status"] or missing:
            wrong[check_id] = {
                "teacher": verdict["status"],
                "why": verdict["why"],
                "grader": check.status,
                "message": check.message,
                "message lacks": missing,
            }
    assert not wrong, json.dumps(wrong, indent=1)
