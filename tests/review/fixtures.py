"""A graded class to review, built in milliseconds: no notebook is executed.

The rubric is ``cifar10_transfer``'s with two ``[[manual]]`` items, worded as the course's seeds
ask them (seed 001: "Explain what we did with transfer learning"; seed 002: "What is Transfer
Learning? Why? How does it help?"). Each student's notebook is an example submission with the
two prompts and the student's written answers appended; its result is a real ``result.json``
the grader wrote for that example (``tests/files/results/``), with the answers collected
exactly as ``grader grade`` collects them. The per-submission files, ``batch.json`` and the class
outputs are then written by the grader's own functions.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.answers import collect_answers
from grader.batch.run import BatchSummary, _batch_json
from grader.export.entry import BatchEntry
from grader.export.gradescope_results import gradescope_json
from grader.export.prairielearn import prairielearn_json
from grader.options import GradeOptions
from grader.report.render import write_reports
from grader.results import GradeResult, write_atomic
from grader.review.export import export_review
from grader.rubric import Assignment
from grader.rubric.load import load_assignment

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "files" / "results"

TRANSFER_PROMPT = "Explain what we did with transfer learning"
WHAT_PROMPT = "What is Transfer Learning? Why? How does it help?"

MANUAL_TOML = f'''

[[manual]]
id = "written.transfer"
title = "{TRANSFER_PROMPT}"
points = 10
prompt = "{TRANSFER_PROMPT}"
[[manual.criteria]]
text = "Says which layers were reused, from the model trained on classes 0-4"
points = 4
[[manual.criteria]]
text = "Says the reused layers were frozen, and why"
points = 3
[[manual.criteria]]
text = "Names what was added and trained for classes 5-9"
points = 3

[[manual]]
id = "written.why"
title = "{WHAT_PROMPT}"
points = 6
prompt = "{WHAT_PROMPT}"
[[manual.criteria]]
text = "Defines transfer learning"
points = 2
[[manual.criteria]]
text = "Why: little data, expensive training"
points = 2
[[manual.criteria]]
text = "How: early layers learn general features"
points = 2
'''

# Seed 001's own answer to its last question, and seed 002's opening, as students wrote them.
SEED_001_TRANSFER = (
    "With transfer learning, we reused the first five layers of the previous model, trained on "
    "classes 0 to 4, for the new task of classifying classes 5 to 9. These layers, which learned "
    "general features like edges and textures, were frozen to preserve their knowledge.\n\n"
    "We added new trainable layers: a dense layer with 128 neurons and ReLU activation, and a "
    "final dense layer with 10 neurons and softmax activation for classification. This allowed "
    "the model to adapt to the new task while starting with a strong foundation, reducing "
    "training time and improving efficiency compared to training from scratch."
)
SEED_002_WHAT = (
    "Transfer learning, is a research problem in machine learning that focuses on storing "
    "knowledge gained while solving one problem and applying it to a different but related "
    "problem. In practice a very few people train a Convolution network from scratch (random "
    "initialisation) because it is rare to get enough dataset. Very Deep Networks are expensive "
    "to train. When you look at what these Deep Learning networks learn, they try to detect "
    "edges in the earlier layers, Shapes in the middle layer and some high level data specific "
    "features in the later layers."
)
OWN_TRANSFER = (
    "I trained a small CNN on the five animal-free classes first. Then I kept its convolution "
    "blocks, switched off their training with trainable = False so the filters stay as they "
    "are, and put two new Dense layers on top that learn the other five classes."
)
OWN_WHAT = (
    "It means starting from a network someone already trained on a big data set instead of "
    "random weights, because we rarely have millions of labelled pictures or weeks of GPU time."
)
HOSTILE = (
    "<script>alert('answer')</script><img src=x onerror=\"alert('img')\">"
    '</pre><b id="injected">bold?</b> {{ 7*7 }} & done'
)


@dataclass(frozen=True)
class Student:
    sid: str
    name: str
    example: str
    """The example submission (and its real result) the notebook is built on."""
    answers: tuple[str, str]
    """Answers to the transfer question and to the why question ("" leaves it out)."""


STUDENTS = (
    Student("alice", "Ada Lovelace", "full_marks", (SEED_001_TRANSFER, SEED_002_WHAT)),
    Student("bob", 'Bob =HYPERLINK("x")', "not_frozen", (OWN_TRANSFER, OWN_WHAT)),
    Student("carol", "Carol <b>Shannon</b>", "name_error", (HOSTILE, "")),
)


@dataclass(frozen=True)
class GradedClass:
    out: Path
    assignment: Assignment
    students: tuple[Student, ...]


def make_assignment(root: Path) -> Assignment:
    """``cifar10_transfer`` with the two written questions, in a folder of its own."""
    folder = root / "assignment"
    source = ROOT / "assignments" / "cifar10_transfer"
    folder.mkdir(parents=True)
    shutil.copy(source / "solution.ipynb", folder / "solution.ipynb")
    (folder / "assignment.toml").write_text(
        (source / "assignment.toml").read_text(encoding="utf-8") + MANUAL_TOML, encoding="utf-8"
    )
    template = nbformat.read(source / "student.ipynb", as_version=4)
    template.cells += [
        nbformat.v4.new_markdown_cell(f"**{TRANSFER_PROMPT}**"),
        nbformat.v4.new_markdown_cell("*Your answer here*"),
        nbformat.v4.new_markdown_cell(f"**{WHAT_PROMPT}**"),
        nbformat.v4.new_markdown_cell("*Your answer here*"),
    ]
    nbformat.write(template, folder / "student.ipynb")
    return load_assignment(folder)


def notebook(student: Student) -> nbformat.NotebookNode:
    """The example submission with the two prompts and this student's answers appended."""
    nb = nbformat.read(
        ROOT / "assignments" / "cifar10_transfer" / "submissions" / f"{student.example}.ipynb",
        as_version=4,
    )
    for prompt, answer in zip((TRANSFER_PROMPT, WHAT_PROMPT), student.answers, strict=True):
        nb.cells.append(nbformat.v4.new_markdown_cell(f"**{prompt}**"))
        if answer:
            nb.cells.append(nbformat.v4.new_markdown_cell(answer))
    return nb


def write_submission(
    out: Path, spec: Assignment, student: Student, nb: nbformat.NotebookNode
) -> GradeResult:
    """The files ``grader grade`` writes for one submission, from its example's real result."""
    base = GradeResult.from_json((RESULTS / f"{student.example}.json").read_text("utf-8"))
    result = dataclasses.replace(
        base,
        submission=student.sid,
        manual=collect_answers(
            spec.manual, nb.cells, nbformat.read(spec.student_notebook, as_version=4).cells
        ),
    )
    folder = out / student.sid
    result.write(folder / "result.json")
    write_reports(result, folder)
    write_atomic(folder / "executed.ipynb", nbformat.writes(nb))
    write_atomic(folder / "results.json", gradescope_json(result))
    write_atomic(folder / "prairielearn.json", prairielearn_json(result))
    return result


def build_class(root: Path, students: tuple[Student, ...] = STUDENTS) -> GradedClass:
    """A graded class under ``root/out``: results, reports, batch.json and the class outputs."""
    spec = make_assignment(root)
    out = root / "out"
    entries = []
    for student in students:
        result = write_submission(out, spec, student, notebook(student))
        entries.append(
            BatchEntry(
                student.sid, student.name, "graded", result, 12.5, source=f"{student.sid}.ipynb"
            )
        )
    summary = BatchSummary(entries, [], {}, 1.0, "this process")
    write_atomic(
        out / "batch.json", _batch_json(summary, spec, GradeOptions(budget="smoke"), "HW 3 (1234)")
    )
    export_review(out)  # gradebook.csv, canvas.csv and index.html, as `grader grade` ends
    return GradedClass(out, spec, students)


def read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))
