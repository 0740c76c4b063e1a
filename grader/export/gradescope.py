"""The Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and the grader's source.

Gradescope unzips the bundle into ``/autograder/source``, runs ``setup.sh`` once when it builds
the image, and ``run_autograder`` for every submission (the student's files are in
``/autograder/submission``). ``run_autograder`` grades the notebook with ``grader grade`` and
copies that submission's ``results.json`` (see
:func:`grader.export.class_report.gradescope_results`) to
``/autograder/results/results.json``; when nothing could be graded it still writes one, with
zero points and the reason.
"""

from __future__ import annotations

import json
import shlex
import stat
import typing as t
import zipfile
from importlib import metadata
from pathlib import Path

import grader
from grader.exceptions import InputError
from grader.report.facts import for_view
from grader.report.formats import format_number
from grader.report.render import templates_dir
from grader.results import GradeResult
from grader.review.merge import final_score
from grader.rubric import Assignment, load_assignment

SOURCE = "grader-src"
"""Folder in the bundle holding an installable copy of the grader."""

COURSE = "course"
"""Folder in the bundle holding the course: the assignment (no example submissions) and its
reference package; the grader finds it through ``$GRADER_COURSE``."""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3.11 python3.11-venv
python3.11 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install /autograder/source/{source}
# Calibrate the reference now, once, rather than in every student's run.
GRADER_COURSE=/autograder/source/{course} GRADER_CACHE_DIR=/autograder/cache \
  /autograder/venv/bin/python -c \\
  "from grader.options import GradeOptions; from grader.pipeline import prepare_reference; \
prepare_reference(assignment={assignment_py}, options=GradeOptions(budget={budget_py}))"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission; the student's files are in $ROOT/submission.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
GRADER_BIN="${{GRADER_BIN:-$ROOT/venv/bin/grader}}"
GRADER_PYTHON="${{GRADER_PYTHON:-$ROOT/venv/bin/python}}"
export GRADER_CACHE_DIR="${{GRADER_CACHE_DIR:-$ROOT/cache}}"
export GRADER_COURSE="${{GRADER_COURSE:-$ROOT/source/{course}}}"
mkdir -p "$ROOT/results"
rm -rf "$ROOT/grader-out"
"$GRADER_BIN" grade "$ROOT/submission" --assignment {assignment} --budget {budget} \\
  --out "$ROOT/grader-out" --jobs 1 >"$ROOT/grader.log" 2>&1
status=$?
cat "$ROOT/grader.log"
found=$(ls "$ROOT"/grader-out/*/results.json 2>/dev/null | head -n 1)
if [ -n "$found" ]; then
  cp "$found" "$ROOT/results/results.json"
else
  # Gradescope shows an error page without results.json: write one that says what happened.
  "$GRADER_PYTHON" - "$ROOT/grader.log" "$ROOT/results/results.json" "$status" <<'PY'
import json, sys
log = open(sys.argv[1], encoding="utf-8", errors="replace").read().strip().splitlines()
why = log[-1] if log else "the grader printed nothing"
result = {{
    "score": 0,
    "output": f"Your submission could not be graded (exit code {{sys.argv[3]}}): {{why}}\\n"
    "Submit the assignment's .ipynb notebook.",
    "visibility": "visible",
    "tests": [],
}}
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(result, indent=2) + "\\n")
PY
fi
"""

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "keras-notebook-grader"
version = {version}
requires-python = ">=3.11"
dependencies = {dependencies}

[project.scripts]
grader = "grader.cli:main"

[tool.hatch.build.targets.wheel]
packages = ["grader"]
"""


def build_bundle(assignment: str | Path, *, out: Path, budget: str = "standard") -> Path:
    """Write Gradescope's autograder zip for one assignment.

    Args:
        assignment: assignment id or folder.
        out: the zip to write.
        budget: the budget every submission is graded at.

    Returns:
        ``out``.

    Raises:
        InputError: the grader is not installed (its dependencies cannot be listed), or the
            budget is unknown.
    """
    spec = load_assignment(assignment)
    spec.plan(budget)  # refuses an unknown budget
    files = _source_files(spec)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        scripts = {
            "setup.sh": SETUP_SH.format(
                source=SOURCE,
                course=COURSE,
                assignment_py=repr(spec.id),
                budget_py=repr(budget),
            ),
            "run_autograder": RUN_AUTOGRADER.format(
                assignment=shlex.quote(spec.id), budget=shlex.quote(budget), course=COURSE
            ),
        }
        for name, text in scripts.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, text)
        bundle.writestr(f"{SOURCE}/pyproject.toml", _pyproject())
        for arcname, path in sorted(files.items()):
            bundle.write(path, arcname)
    return out


def _source_files(spec: Assignment) -> dict[str, Path]:
    """Archive name -> file: the grader package with its templates; the course: the rubric,
    the notebooks and the reference package."""
    files: dict[str, Path] = {}

    def add_tree(folder: Path, prefix: str, skip: tuple[str, ...] = ()) -> None:
        for path in folder.rglob("*"):
            rel = path.relative_to(folder)
            if not path.is_file() or "__pycache__" in rel.parts or rel.parts[0] in skip:
                continue
            files[f"{prefix}/{rel.as_posix()}"] = path

    package = Path(grader.__file__).parent
    add_tree(package, f"{SOURCE}/grader", skip=("templates", "assignments"))
    add_tree(templates_dir(), f"{SOURCE}/grader/templates")
    # Example submissions are for instructors; the autograder needs the rubric and notebooks.
    add_tree(spec.folder, f"{COURSE}/assignments/{spec.id}", skip=("submissions",))
    top = spec.reference_dir()
    if top is None:
        raise InputError(
            f"reference package of {spec.reference!r} is not in the course folder {spec.course}"
        )
    add_tree(top, f"{COURSE}/{top.name}")
    return files


def _pyproject() -> str:
    try:
        version = metadata.version("keras-notebook-grader")
        requires = metadata.requires("keras-notebook-grader") or []
    except metadata.PackageNotFoundError as exc:
        raise InputError(
            "the grader is not installed, so its dependencies are unknown; run `pip install .`"
        ) from exc
    dependencies = [r for r in requires if "extra ==" not in r]
    return PYPROJECT.format(
        version=json.dumps(version), dependencies=json.dumps(dependencies, indent=4)
    )


def gradescope_results(result: GradeResult, *, failure: str = "") -> dict[str, t.Any]:
    """``results.json`` in Gradescope's autograder format, one test per check.

    Args:
        result: the graded submission; Gradescope shows it to the student, so it is rendered
            in the student view (hidden checks as status and points only).
        failure: why the notebook could not be graded, shown at the top.
    """
    result = for_view(result, "student")
    overrides = {o.check: o for o in result.overrides}
    final = final_score(result)
    tests = []
    for number, check in enumerate(result.checks, start=1):
        output = check.message
        if check.status != "pass" and check.hint:
            output = f"{output}\nHint: {check.hint}".strip()
        score = check.score
        if check.id in overrides:
            score = overrides[check.id].score
            output = (
                f"{output}\nAdjusted by your instructor from {format_number(check.score)} to "
                f"{format_number(score)} points: {overrides[check.id].reason}"
            ).strip()
        tests.append(
            {
                "name": f"{check.title} ({check.id})",
                "number": str(number),
                "score": score,
                "max_score": check.max_score,
                "status": "passed" if check.status == "pass" else "failed",
                "output": output,
                "visibility": "visible",
                "tags": [check.id.split(".")[0]],
            }
        )
    for number, item in enumerate(result.manual, start=len(tests) + 1):
        test: dict[str, t.Any] = {
            "name": f"{item.title} ({item.id})",
            "number": str(number),
            "max_score": item.max_score,
            "visibility": "visible",
            "tags": ["manual"],
        }
        if item.status == "graded" and item.score is not None:
            met = "".join(f"\n- {c}" for c in item.criteria)
            test["score"] = item.score
            test["output"] = (f"{item.comment}\n" if item.comment else "") + (
                f"Criteria met:{met}" if met else ""
            )
        else:
            # No score at all rather than 0: the points are not decided yet.
            test["output"] = "Pending: your instructor grades this answer by hand."
        tests.append(test)
    lines = [f"Not graded: {failure}"] if failure else []
    if final.pending:
        lines += [
            f"Score so far {format_number(final.automatic + final.manual)}/"
            f"{format_number(final.max_score)}: {len(final.pending)} answer(s) graded by hand "
            "are pending."
        ]
    else:
        lines += [
            f"Score {format_number(t.cast(float, final.score))}/{format_number(final.max_score)}."
        ]
    lines += result.notices
    return {
        "score": final.automatic + final.manual if final.pending else final.score,
        "execution_time": round(result.timings.get("total", 0.0)),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def gradescope_json(result: GradeResult, *, failure: str = "") -> str:
    """:func:`gradescope_results` as JSON text."""
    return json.dumps(gradescope_results(result, failure=failure), indent=2) + "\n"
