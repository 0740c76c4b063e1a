"""``[[manual]]`` items in a rubric, and how ``grader grade`` finds their answers (issue 17)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.answers import answer_digest, collect_answers
from grader.exceptions import RubricError
from grader.rubric.load import parse_assignment
from grader.rubric.manual import Criterion, ManualItem
from tests.review.fixtures import MANUAL_TOML, ROOT

RUBRIC = ROOT / "assignments" / "cifar10_transfer" / "assignment.toml"


def parse(extra: str) -> object:
    return parse_assignment(RUBRIC.read_text(encoding="utf-8") + extra, RUBRIC)


def test_manual_items_are_parsed_with_their_criteria() -> None:
    spec = parse(MANUAL_TOML)
    assert [m.id for m in spec.manual] == ["written.transfer", "written.why"]  # type: ignore[attr-defined]
    first = spec.manual[0]  # type: ignore[attr-defined]
    assert first.points == 10 and first.answer == "markdown" and first.cell == ""
    assert first.criteria[0] == Criterion(
        "Says which layers were reused, from the model trained on classes 0-4", 4.0
    )
    # Manual points are not automatic points: max_score counts the checks only.
    assert spec.max_score == 100  # type: ignore[attr-defined]


def test_a_rubric_without_manual_items_has_none() -> None:
    assert parse("").manual == ()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ('[[manual]]\nid = "w"\ntitle = "t"\npoints = 5\n', "manual[0]", "needs `prompt`"),
        ('[[manual]]\nid = "w"\ntitle = "t"\nprompt = "p"\n', "manual[0].points", "is required"),
        (
            '[[manual]]\nid = "w"\ntitle = "t"\npoints = "5"\nprompt = "p"\n',
            "manual[0].points",
            "expected int or float",
        ),
        (
            '[[manual]]\nid = "w"\ntitle = "t"\npoints = 0\nprompt = "p"\n',
            "manual[0].points",
            "positive",
        ),
        (
            '[[manual]]\nid = "base.compile"\ntitle = "t"\npoints = 5\nprompt = "p"\n',
            "manual[0].id",
            "already a check",
        ),
        (
            '[[manual]]\nid = "w"\ntitle = "t"\npoints = 5\nprompt = "p"\nanswr = "x"\n',
            "manual[0]",
            "unknown key(s) answr",
        ),
        (
            '[[manual]]\nid = "w"\ntitle = "t"\npoints = 5\nprompt = "p"\nanswer = "html"\n',
            "manual[0].answer",
            "expected one of",
        ),
        (
            '[[manual]]\nid = "w"\ntitle = "t"\npoints = 2\nprompt = "p"\n'
            '[[manual.criteria]]\ntext = "a"\npoints = 3\n',
            "manual[0].criteria",
            "more than points",
        ),
        (
            '[[manual]]\nid = "w"\ntitle = "t"\npoints = 2\nprompt = "p"\n'
            '[[manual.criteria]]\ntext = "a"\n',
            "manual[0].criteria[0].points",
            "is required",
        ),
    ],
    ids=[
        "no-place",
        "no-points",
        "points-text",
        "zero-points",
        "id-clash",
        "typo",
        "kind",
        "over",
        "criterion",
    ],
)
def test_a_malformed_item_names_the_file_and_key(extra: str, key: str, says: str) -> None:
    with pytest.raises(RubricError) as caught:
        parse(extra)
    assert str(RUBRIC) in caught.value.message and f"[{key}]" in caught.value.message
    assert says in caught.value.message


def _nb(*cells: tuple[str, str, str]) -> list[dict[str, object]]:
    made = []
    for kind, text, cell_id in cells:
        cell = (
            nbformat.v4.new_markdown_cell(text)
            if kind == "markdown"
            else nbformat.v4.new_code_cell(text)
        )
        if cell_id:
            cell["id"] = cell_id
        made.append(cell)
    return made


ITEM = ManualItem("w", "What is DropOut?", 5, prompt="What is DropOut? what are its advantages")


def test_the_answer_follows_its_prompt_up_to_the_next_instruction() -> None:
    template = _nb(
        ("markdown", "**What is  DROPOUT? what are its advantages and disadvantages?**", ""),
        ("markdown", "*Your answer here*", ""),
        ("markdown", "**Now train it.**", ""),
    )
    cells = _nb(
        ("markdown", "**What is DropOut? what are its advantages and disadvantages?**", ""),
        ("markdown", "*Your answer here*", ""),  # the placeholder, left in place
        ("markdown", "Dropout switches units off at random.", ""),
        ("markdown", "It regularises; training is slower.", ""),
        ("markdown", "**Now train it.**", ""),  # the next instruction ends the answer
        ("markdown", "Some later note.", ""),
    )
    [found] = collect_answers([ITEM], cells, template)
    assert found.cells == [2, 3]
    assert (
        found.answer
        == "Dropout switches units off at random.\n\nIt regularises; training is slower."
    )
    assert found.status == "pending" and found.score is None
    assert found.answer_digest == answer_digest(
        "Dropout switches units off at random.\n\n It regularises;  training is slower.\n"
    )


def test_a_prompt_in_a_code_comment_finds_the_markdown_after_it() -> None:
    """Seed 001 asks in code comments: ``# DataLoaders going to help us. What are they doing?``."""
    item = ManualItem(
        "w", "DataLoaders", 5, prompt="DataLoaders going to help us. What are they doing?"
    )
    cells = _nb(
        ("code", "# DataLoaders going to help us. What are they doing?\nloader = make()", ""),
        ("markdown", "They load the data in batches.", ""),
        ("code", "next(iter(loader))", ""),
    )
    assert collect_answers([item], cells)[0].cells == [1]


def test_the_cell_id_wins_and_the_prompt_is_the_fallback() -> None:
    item = ManualItem("w", "q", 5, prompt="Explain", cell="answer-1")
    cells = _nb(
        ("markdown", "Explain", ""),
        ("markdown", "by prompt", ""),
        ("markdown", "by id", "answer-1"),
    )
    assert collect_answers([item], cells)[0].answer == "by id"
    renamed = _nb(
        ("markdown", "Explain", ""), ("markdown", "by prompt", ""), ("markdown", "x", "other")
    )
    assert collect_answers([item], renamed)[0].answer == "by prompt\n\nx"


def test_a_missing_answer_is_pending_with_no_cells() -> None:
    [found] = collect_answers([ITEM], _nb(("markdown", "nothing here", "")))
    assert found.cells == [] and found.answer == "" and found.status == "pending"


def test_shipped_rubrics_still_parse(tmp_path: Path) -> None:
    manual = {
        toml.parent.name: [m.id for m in parse_assignment(toml.read_text("utf-8"), toml).manual]
        for toml in sorted((ROOT / "assignments").glob("*/assignment.toml"))
    }
    # Seed 002 asks a written question; the other exercises' seeds ask none.
    assert manual == {
        "cifar10_cnn_torch": [],
        "cifar10_transfer": [],
        "cifar10_transfer_v2": [],
        "mnist_cnn_torch": [],
        "mnist_transfer": [],
        "vgg19_finetune": ["written.transfer"],
    }


def test_the_course_rubric_collects_seed_002s_written_answer_and_not_the_placeholder() -> None:
    """vgg19_finetune asks seed 002's question: the seed's prose is its answer; a notebook that
    left the released placeholder has none (pending with no answer, never a made-up one)."""
    from grader.rubric.load import load_assignment

    spec = load_assignment("vgg19_finetune")
    template = nbformat.read(spec.student_notebook, as_version=4).cells
    folder = spec.folder / "submissions"
    [seed] = collect_answers(
        spec.manual, nbformat.read(folder / "seed_002.ipynb", as_version=4).cells, template
    )
    assert seed.id == "written.transfer" and seed.status == "pending" and seed.cells
    assert seed.answer.startswith("# What is Transfer Learning?")
    assert "detect edges in the earlier layers" in seed.answer
    [blank] = collect_answers(
        spec.manual, nbformat.read(folder / "full_marks.ipynb", as_version=4).cells, template
    )
    assert blank.cells == [] and blank.answer == ""
