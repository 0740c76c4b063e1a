"""Student kits: nothing of the answers inside; the in-notebook check agrees with grading.

One kit of every assignment is built (no calibration: the leak and parity tests need none)
from a copy of the course in which one check is hidden, with the grader's wheel in it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import typing as t
import zipfile
from pathlib import Path

import pytest

from grader.authoring.release import BEGIN, END
from grader.kit.build import BuiltKit, build_kit
from grader.rubric.load import available, load_assignment
from tests.conftest import ROOT

HIDDEN_ID = "transfer.weights_transferred"
HIDDEN_WORDS = "zebra-quokka hidden wording"
EMOJI_HINT = "The report names the variable that differs 🔍 (é, ß, 中)."
GOLDENS = ROOT / "tests" / "goldens"
PROBE = [sys.executable, "-m", "tests.kit.parity_probe"]
LIVE = ("architecture", "compile", "data_split", "class_groups", "frozen")


def course_with_a_hidden_check(dest: Path) -> Path:
    shutil.copytree(ROOT / "assignments", dest / "assignments")
    # The checkout's own reference package (a process imports one course's reference only).
    (dest / "reference").symlink_to(ROOT / "reference")
    rubric = dest / "assignments" / "cifar10_transfer" / "assignment.toml"
    text = rubric.read_text()
    marker = f'id = "{HIDDEN_ID}"\n'
    assert marker in text
    rubric.write_text(
        text.replace(marker, marker + "hidden = true\n")
        .replace(
            'title = "The transfer model starts from the base model\'s trained weights"',
            f'title = "{HIDDEN_WORDS} (title)"',
        )
        # Text beyond ASCII in a hint (issue 25: an emoji made `kit build` exit 3).
        .replace("The report names the variable that differs.", EMOJI_HINT)
    )
    assert EMOJI_HINT in rubric.read_text()
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltKit:
    from grader import course

    tmp = tmp_path_factory.mktemp("kit")
    folder = course_with_a_hidden_check(tmp / "course")
    saved = course._chosen
    try:
        course.use_course(folder)
        return build_kit([], out=tmp / "out", budgets=())
    finally:
        course._chosen = saved
        if saved is None:
            import os

            os.environ.pop(course.ENV, None)


def texts(path: Path) -> dict[str, str]:
    """Every member of a zip (and of the wheels inside it), as text."""
    found: dict[str, str] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            # The grader's wheel is searched; the others are third-party packages (click,
            # Jinja2...) packed from this environment, which hold nothing of a course.
            if name.endswith(".whl") and Path(name).name.startswith("keras_notebook_grader-"):
                inner = path.parent / Path(name).name
                inner.write_bytes(data)
                found.update({f"{name}!{k}": v for k, v in texts(inner).items()})
            else:
                found[name] = data.decode("utf-8", errors="replace")
    return found


def solution_lines() -> set[str]:
    """Lines students must not receive: solution regions (or, for a solution without
    markers, its code lines the student notebook lacks) and every line of reference/,
    less what the course publishes anyway (the student notebook, the rubric's hints)."""
    public: list[str] = []
    secret: set[str] = set()
    for name in available():
        spec = load_assignment(name)
        student = json.loads(spec.student_notebook.read_text())
        public += ["".join(cell["source"]) for cell in student["cells"]]
        public += [check.hint for check in spec.checks if not check.hidden]
        solution = json.loads(spec.solution_notebook.read_text())
        for cell in solution["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            inside = BEGIN not in source
            for line in source.splitlines():
                if line.strip() in (BEGIN, END):
                    inside = line.strip() == BEGIN
                elif inside:
                    secret.add(line.strip())
    for path in (ROOT / "reference").glob("*.py"):
        secret.update(line.strip() for line in path.read_text().splitlines())
    # Short or generic lines (imports, `return model`, a signature's or a call's first or
    # last line, a method taking only `self`) say nothing of an answer.
    published = "\n".join(public)
    return {
        line
        for line in secret
        if len(line) >= 24
        and not line.startswith(("import ", "from ", "#", ")"))
        and not line.endswith("(")  # a call's first line, its arguments below
        and not re.fullmatch(r"def \w+\(self\)( -> [\w.]+)?:", line)
        and line not in published
    }


def test_neither_the_kit_nor_the_wheel_holds_a_solution_line_or_a_hidden_check(
    built: BuiltKit,
) -> None:
    found = texts(built.zip)
    assert any(name.endswith(".whl!grader/cli/__init__.py") for name in found)
    assert not any("/reference/" in n or n.endswith("solution.ipynb") for n in found)
    assert not any("/submissions/" in n or "!grader/assignments" in n for n in found)
    lines = solution_lines()
    assert len(lines) > 200  # the check has teeth: the reference and the solutions' code
    leaks = {(name, line) for name, text in found.items() for line in lines if line in text}
    assert sorted(leaks) == []
    for name, text in found.items():
        assert HIDDEN_WORDS not in text, name
        # (cifar10_transfer_v2 has a public check of the same id.)
        if "/assignments/cifar10_transfer/" in name:
            assert HIDDEN_ID not in text, name


def test_the_kit_rubric_keeps_the_public_checks_with_their_hints(built: BuiltKit) -> None:
    spec = load_assignment(built.folder / "assignments" / "cifar10_transfer")
    course_spec = load_assignment("cifar10_transfer")
    assert [c.id for c in spec.checks] == [c.id for c in course_spec.checks if c.id != HIDDEN_ID]
    assert [c.hint for c in spec.checks] == [
        c.hint.replace("The report names the variable that differs.", EMOJI_HINT)
        for c in course_spec.checks
        if c.id != HIDDEN_ID
    ]
    assert any(EMOJI_HINT in c.hint for c in spec.checks)
    assert spec.kit is not None and spec.reference_dir() is None
    assert "solution.ipynb" not in {p.name for p in spec.folder.iterdir()}
    assert (built.folder / "grader-kit.json").is_file()
    assert "pip install --no-index" in (built.folder / "README.md").read_text()


def goldens(assignment: str) -> dict[str, dict[str, str]]:
    return {
        p.stem: json.loads(p.read_text())["checks"]
        for p in sorted((GOLDENS / assignment).glob("*.json"))
    }


def parity_examples(assignment: str) -> list[Path]:
    """The solution and one example per structural check the live check judges and its goldens
    fail: every verdict the live check can give, for a fraction of the suite's time (running
    every example costs minutes per assignment)."""
    folder = ROOT / "assignments" / assignment / "submissions"
    kinds = {c.id: c.kind for c in load_assignment(assignment).checks}
    chosen = ["full_marks"]
    covered: set[str] = set()
    for name, checks in goldens(assignment).items():
        failing = {i for i, s in checks.items() if s != "pass" and kinds.get(i) in LIVE}
        if failing - covered and (folder / f"{name}.ipynb").is_file():
            chosen.append(name)
            covered |= failing
    return [folder / f"{name}.ipynb" for name in dict.fromkeys(chosen)]


KERAS = [n for n in available() if load_assignment(n).torch is None]
"""The assignments whose kits the live check judges (a PyTorch assignment's kit is tested in
test_kit_torch.py)."""


@pytest.fixture(scope="module")
def parity(built: BuiltKit, tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    """Every Keras assignment's parity examples run and judged both ways, in one probe process
    (tests/kit/parity_probe.py): Keras is imported once for all of them, not once per
    assignment. Returns the probe's findings by assignment, then example."""
    out = tmp_path_factory.mktemp("parity") / "parity.json"
    pairs = [f"{name}={path}" for name in KERAS for path in parity_examples(name)]
    done = subprocess.run(
        [*PROBE, str(built.folder), str(out), *pairs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, t.Any] = json.loads(out.read_text())
    return found


@pytest.mark.notebook
@pytest.mark.parametrize("assignment", KERAS)
def test_the_in_notebook_check_gives_the_grading_verdicts(
    built: BuiltKit, assignment: str, parity: dict[str, t.Any]
) -> None:
    """Examples' code runs under the kernel runtime (tests/kit/parity_probe.py); the
    live check and the production checks on the saved artefacts agree, message for message
    where the whole check runs live, and with the goldens."""
    found = parity[assignment]
    assert set(found) == {p.stem for p in parity_examples(assignment)}
    spec = load_assignment(built.folder / "assignments" / assignment)
    kinds = {c.id: c.kind for c in spec.checks}
    expected = goldens(assignment)
    for example, verdicts in found.items():
        live, graded = verdicts["live"], verdicts["graded"]
        assert set(live) == {i for i, k in kinds.items() if k in LIVE}
        for check_id, (status, message) in live.items():
            assert status == graded[check_id][0], (example, check_id, message)
            if kinds[check_id] != "frozen":
                assert message == graded[check_id][1], (example, check_id)
            if example in expected:
                assert status == expected[example][check_id], (example, check_id)
