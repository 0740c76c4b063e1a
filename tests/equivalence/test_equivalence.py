"""Judge the model, whatever idiom built it (issue 24).

For every Keras assignment, the course solution and at least seven rewrites of it in the idioms
students use (a Sequential list, ``.add()``, the functional API, the base nested in a
Sequential, the base called as a layer, ``tf.keras`` imports, renamed variables, the model
built inside a function, compile arguments as objects) get the solution's structural verdicts
exactly: every structural check passes. The course's typical mistakes (a wrong layer, a wrong
freeze), written in those idioms, are each caught by the same check with the same message
(Keras' generated layer names aside).

Everything runs in this process on models built here (see :mod:`tests.equivalence.harness`):
no kernel, no notebook. The kernel-side idioms (eager execution disabled, ``tf.keras``
imports in a real kernel) are among the wild corpus's notebooks (``tests/wild``).
"""

from __future__ import annotations

import tempfile
import typing as t
from pathlib import Path

import pytest

from tests.equivalence import variants as v
from tests.equivalence.harness import Judged, judge_variant, without_names

VARIANTS: list[tuple[str, str, str]] = [
    *[
        (a, idiom, src)
        for a, spec in v.CIFAR.items()
        for idiom, src in v.cifar_variants(spec).items()
    ],
    *[("mnist_transfer", idiom, src) for idiom, src in v.mnist_variants().items()],
    *[("vgg19_finetune", idiom, src) for idiom, src in v.vgg_variants().items()],
]
CANONICAL = {
    "cifar10_transfer": "add",
    "cifar10_transfer_v2": "add",
    "mnist_transfer": "list_concatenation",
    "vgg19_finetune": "functional",
}
"""The idiom of each assignment's solution notebook."""


def _mistakes() -> list[tuple[str, str, str, str]]:
    out = []
    for assignment, spec in v.CIFAR.items():
        for mistake, idioms in v.cifar_mistakes(spec).items():
            out += [(assignment, mistake, idiom, src) for idiom, src in idioms.items()]
    for mistake, idioms in v.mnist_mistakes().items():
        out += [("mnist_transfer", mistake, idiom, src) for idiom, src in idioms.items()]
    for mistake, idioms in v.vgg_mistakes().items():
        out += [("vgg19_finetune", mistake, idiom, src) for idiom, src in idioms.items()]
    return out


MISTAKES = _mistakes()
CAUGHT_BY = {
    ("cifar10_transfer", "wrong_layer"): ("base.architecture", "kernel_size is 3x3, expected 4x4"),
    ("cifar10_transfer", "not_frozen"): ("transfer.frozen", "is trainable; it should be frozen"),
    ("cifar10_transfer_v2", "wrong_layer"): (
        "base.architecture",
        "kernel_size is 3x3, expected 5x5",
    ),
    ("cifar10_transfer_v2", "not_frozen"): ("transfer.frozen", "is trainable; it should be frozen"),
    ("mnist_transfer", "not_frozen"): ("model.frozen", "is trainable; it should be frozen"),
    ("mnist_transfer", "wrong_layer"): ("model.architecture", "units is 64, expected 128"),
    ("vgg19_finetune", "wrong_freeze"): (
        "model.frozen_blocks",
        "layers block2_conv2, block3_conv1, block3_conv2, block3_conv3, block3_conv4, "
        "block4_conv1, block4_conv2, block4_conv3, block4_conv4 are trainable; freeze them",
    ),
    ("vgg19_finetune", "wrong_layer"): ("model.architecture", "units is 128, expected 256"),
}
"""Each mistake: the check that charges it and what its message must say. The mistake costs
that check and (mnist) the same check of the supplementary model; nothing else."""


def test_every_keras_assignment_has_eight_idioms_and_both_mistakes() -> None:
    for assignment in CANONICAL:
        idioms = [i for a, i, _ in VARIANTS if a == assignment]
        assert len(idioms) >= 8 and CANONICAL[assignment] in idioms, assignment
        kinds = {m for a, m, _, _ in MISTAKES if a == assignment}
        assert len(kinds) == 2 and all((assignment, m) in CAUGHT_BY for m in kinds)


@pytest.fixture(scope="module")
def judged() -> t.Callable[[str, str], Judged]:
    """Each (assignment, source) judged once per module: the canonical idioms are compared
    with by several tests."""
    cache: dict[tuple[str, str], Judged] = {}

    def get(assignment: str, source: str) -> Judged:
        if (assignment, source) not in cache:
            # Only the verdicts are kept: a VGG19 variant's artefacts are 300 MB.
            with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as folder:
                cache[assignment, source] = judge_variant(source, assignment, Path(folder), mp)
        return cache[assignment, source]

    return get


def _solution(assignment: str) -> str:
    return next(s for a, i, s in VARIANTS if a == assignment and i == CANONICAL[assignment])


@pytest.mark.parametrize(
    ("assignment", "idiom", "source"), VARIANTS, ids=[f"{a}-{i}" for a, i, _ in VARIANTS]
)
def test_a_correct_model_gets_the_solutions_verdicts_in_any_idiom(
    assignment: str, idiom: str, source: str, judged: t.Callable[[str, str], Judged]
) -> None:
    solution = judged(assignment, _solution(assignment))
    assert set(solution.statuses().values()) == {"pass"}, solution.results
    got = judged(assignment, source)
    wrong = {
        k: f"{got.results[k].status}: {got.message(k)}"
        for k, status in got.statuses().items()
        if status != "pass"
    }
    assert got.statuses() == solution.statuses(), wrong


@pytest.mark.parametrize(
    ("assignment", "mistake", "idiom", "source"),
    MISTAKES,
    ids=[f"{a}-{m}-{i}" for a, m, i, _ in MISTAKES],
)
def test_a_mistake_is_caught_alike_in_any_idiom(
    assignment: str,
    mistake: str,
    idiom: str,
    source: str,
    judged: t.Callable[[str, str], Judged],
    tmp_path: Path,
) -> None:
    check, says = CAUGHT_BY[assignment, mistake]
    canonical_source = next(
        s for a, m, i, s in MISTAKES if (a, m, i) == (assignment, mistake, CANONICAL[assignment])
    )
    canonical = judged(assignment, canonical_source)
    got = judged(assignment, source)
    failing = {k for k, s in got.statuses().items() if s != "pass"}
    expected = {k for k, s in canonical.statuses().items() if s != "pass"}
    # The supplementary model of mnist_transfer repeats the mistake, and its check charges it.
    assert check in expected and {c.split(".")[1] for c in expected} == {check.split(".")[1]}
    assert says in canonical.message(check)
    assert failing == expected, {k: got.message(k) for k in failing | expected}
    for k in expected:
        assert without_names(got.message(k)) == without_names(canonical.message(k)), k
