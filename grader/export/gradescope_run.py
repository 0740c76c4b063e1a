"""What runs inside Gradescope's container: the assets step of ``setup.sh`` and every
``run_autograder``.

``python -m grader.export.gradescope_run assets SOURCE`` (at image build, which has internet):
downloads what ``SOURCE/assets.json`` lists with a URL and verifies every listed file's digest
(SHA-256, or MD5 where the publisher only gives MD5, as Keras' ``get_file`` does), so the
image holds exactly the data and weights the instructor calibrated on, or the build fails.

``python -m grader.export.gradescope_run grade ...`` (per submission): reads the container's
real limits from its cgroup, grades the one notebook chosen from ``/autograder/submission``
with a timeout safely under Gradescope's and a kernel memory limit that fits the container,
and always leaves a ``results.json`` that says what happened: the limits it ran under, the
sandbox it had, notebooks set aside, and, when the grader itself could not finish, why.

Gradescope's defaults (its autograder settings) are 768 MB of memory, half a CPU and a
10 minute timeout (40 at most); :func:`plan` turns whatever the container has into limits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import typing as t
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from grader.machine import ContainerLimits, read_cgroup_limits
from grader.options import GRADESCOPE_TIMEOUT, MAX_GRADESCOPE_TIMEOUT

MB = 1024 * 1024
GRADER_OVERHEAD_MB = 1200
"""The grader process, its judge and Jupyter, measured beside a kernel: left out of the kernel's
share of the container's memory."""
GRADING_NEEDS_MB = 3072
"""What grading one notebook at the standard budget needs in all (docs/lms/gradescope.md)."""
MIN_KERNEL_MB = 512


@dataclass(frozen=True)
class Plan:
    """The limits one submission is graded with inside the container."""

    wall_s: int
    """Seconds ``grader grade`` may take before it is stopped (Gradescope's timeout less a
    margin to write results.json)."""
    notebook_s: int
    """The notebook's total timeout (``--timeout``)."""
    kernel_mb: int | None
    """The kernel's memory limit (``--memory-limit``); None keeps the rubric's."""
    notes: list[str]
    """For the top of the student's output: the limits it grades under."""
    instructor: list[str]
    """For the instructor's log only (Gradescope's autograder output, hidden from students):
    what to change in the autograder settings when a limit is too small."""


def plan(
    limits: ContainerLimits, *, gradescope_timeout: int, budget_timeout: float, rubric_mb: int
) -> Plan:
    """Limits that finish, and report, before Gradescope stops the container.

    The whole run stops at ``W = G - max(60, G / 10)`` (``G``: Gradescope's timeout), and the
    notebook may run ``min(T, 0.75 W)`` (``T``: the notebook timeout at the bundle's budget);
    docs/lms/gradescope.md shows the figures for each budget.

    Args:
        limits: the container's (:func:`read_cgroup_limits`).
        gradescope_timeout: the autograder timeout set in Gradescope (seconds).
        budget_timeout: the notebook's total timeout at the bundle's budget.
        rubric_mb: the rubric's kernel memory limit.

    >>> p = plan(ContainerLimits(768, 0.5), gradescope_timeout=600, budget_timeout=900,
    ...          rubric_mb=8192)
    >>> (p.wall_s, p.notebook_s, p.kernel_mb)
    (540, 405, 512)
    """
    margin = max(60, gradescope_timeout // 10)
    wall = max(60, gradescope_timeout - margin)
    # The judge, the reports and the start of Python share what is left after the notebook.
    notebook = int(min(budget_timeout, wall * 0.75))
    notes = [
        f"Autograder limits: {wall} s for grading (Gradescope's timeout {gradescope_timeout} s "
        f"less {margin} s to report), {notebook} s for the notebook"
        + (f", {limits.memory_mb} MB of memory" if limits.memory_mb else "")
        + (f", {limits.cpus:g} CPU" if limits.cpus else "")
        + "."
    ]
    instructor = []
    kernel: int | None = None
    if limits.memory_mb is not None:
        kernel = max(MIN_KERNEL_MB, min(rubric_mb, limits.memory_mb - GRADER_OVERHEAD_MB))
        if limits.memory_mb < GRADING_NEEDS_MB:
            instructor.append(
                f"The autograder has {limits.memory_mb} MB of memory; grading needs about "
                f"{GRADING_NEEDS_MB} MB, so a notebook may run out of memory: raise the memory "
                "in Gradescope's autograder settings (see the grader's docs/lms/gradescope.md)."
            )
    if notebook < budget_timeout:
        instructor.append(
            f"A notebook may run {notebook} s here, less than the {budget_timeout:g} s its "
            f"budget allows: Gradescope's timeout ({gradescope_timeout} s) is shorter. Raise it "
            f"in the autograder settings (at most {MAX_GRADESCOPE_TIMEOUT} s) and pass the same "
            "--gradescope-timeout, or build the bundle at a smaller budget "
            "(see docs/lms/gradescope.md)."
        )
    return Plan(wall, notebook, kernel, notes, instructor)


def sandbox_note() -> str:
    """What the sandbox can do in this container, for the top of the output."""
    from grader.sandbox.confine import namespaces_available

    if namespaces_available():
        return "Sandbox: the notebook ran in its own namespaces (no network, private files)."
    return (
        "Sandbox: the grader cannot create namespaces in this container (Gradescope's Docker "
        "container has no CAP_SYS_ADMIN, and Docker's seccomp profile then refuses user "
        "namespaces too), so the notebook ran as an unprivileged user with resource limits, "
        "but with the network and the container's readable files in view."
    )


# --- one submission ------------------------------------------------------------------------------


def run(
    root: Path,
    *,
    assignment: str,
    budget: str,
    gradescope_timeout: int,
    grader: str,
    limits: ContainerLimits,
    data_dir: Path | None = None,
    weights_dir: Path | None = None,
) -> dict[str, t.Any]:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns it.

    Args:
        root: Gradescope's ``/autograder``.
        assignment: the assignment id.
        budget: the budget the image was calibrated at.
        gradescope_timeout: the autograder timeout set in Gradescope.
        grader: the ``grader`` command.
        limits: the container's limits.
        data_dir: the real data the image carries, if any.
        weights_dir: the ImageNet weights the image carries, if any.
    """
    from grader.rubric.load import load_assignment

    spec = load_assignment(assignment)
    chosen = plan(
        limits,
        gradescope_timeout=gradescope_timeout,
        budget_timeout=spec.timeouts(budget).total,
        rubric_mb=spec.limits.memory_mb,
    )
    out = root / "grader-out"
    shutil.rmtree(out, ignore_errors=True)
    command = [
        grader, "grade", str(root / "submission"), "--one-student", "--assignment", assignment,
        "--budget", budget, "--out", str(out), "--jobs", "1",
        "--timeout", str(chosen.notebook_s),
    ]  # fmt: skip
    if chosen.kernel_mb is not None:
        command += ["--memory-limit", str(chosen.kernel_mb)]
    for flag, folder in (("--data-dir", data_dir), ("--weights-dir", weights_dir)):
        if folder is not None:
            command += [flag, str(folder)]
    log_path = root / "grader.log"
    try:
        with log_path.open("wb") as log:
            done = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=chosen.wall_s, check=False
            )
        status: int | str = done.returncode
    except subprocess.TimeoutExpired:
        status = "timeout"
    notes = [*chosen.notes, sandbox_note()]
    instructor = list(chosen.instructor)
    batch = _json(out / "batch.json")
    notes += [f"Not graded, another notebook is: {n}" for n in batch.get("set_aside", [])]
    results = _json(out / "submission" / "results.json")
    if results:
        results["output"] = _with_notes(results.get("output", ""), notes)
    else:
        results = {
            "score": 0,
            "output": _with_notes(_why(status, log_path, chosen, limits, instructor), notes),
            "output_format": "md",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [],
        }
    results["stdout_visibility"] = "hidden"  # the instructor's notes below are printed there
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    # Standard output is the autograder's log, which Gradescope shows instructors only.
    for note in instructor:
        print(f"Instructor: {note}")
    return results


def _json(path: Path) -> dict[str, t.Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _with_notes(output: str, notes: list[str]) -> str:
    from grader.report.escape import markdown_text

    return "\n\n".join([*(f"- {markdown_text(n)}" for n in notes), output]).strip() + "\n"


def _why(
    status: int | str, log_path: Path, chosen: Plan, limits: ContainerLimits, instructor: list[str]
) -> str:
    """What the student reads when no result came; what to change goes to ``instructor``."""
    from grader.report.escape import markdown_text

    if status == "timeout":
        instructor.append(
            f"grading stopped after {chosen.wall_s} s: raise the autograder timeout (at most "
            f"{MAX_GRADESCOPE_TIMEOUT} s) and --gradescope-timeout, or build the bundle at a "
            "smaller budget."
        )
        return (
            f"**Not graded:** grading did not finish within {chosen.wall_s} s, the time "
            "the autograder allows. Your instructor can see why in the autograder's log."
        )
    if status in (-9, 137):
        memory = f" ({limits.memory_mb} MB)" if limits.memory_mb else ""
        instructor.append(
            f"the grader was killed, most likely for lack of memory{memory}: raise the memory "
            "in Gradescope's autograder settings."
        )
        return (
            f"**Not graded:** the grader was killed, most likely for lack of memory{memory}. "
            "Your instructor can see why in the autograder's log."
        )
    lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    why = lines[-1] if lines else "the grader printed nothing"
    return (
        f"**Not graded** (exit code {status}): {markdown_text(why)}\n\n"
        "Submit the assignment's .ipynb notebook."
    )


# --- assets ---------------------------------------------------------------------------------------


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of a file."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _algorithm(expected: str) -> str:
    # As Keras' get_file: 64 hex digits are SHA-256, 32 are MD5 (VGG19's published digest).
    return "md5" if len(expected) == 32 else "sha256"


def prepare_assets(source: Path) -> list[str]:
    """Fetch and verify every asset ``source/assets.json`` lists; returns what was done.

    Each entry has ``path`` (inside ``source``) and ``digest``; one with a ``url`` is
    downloaded when missing, and one with ``unpack`` (a tar archive) is extracted into that
    folder after its digest matched.

    Raises:
        SystemExit: a digest does not match, or a listed file is missing and has no URL.
    """
    manifest = json.loads((source / "assets.json").read_text(encoding="utf-8"))
    done = []
    for entry in manifest:
        path = source / entry["path"]
        expected = str(entry["digest"]).lower()
        if not path.is_file() and entry.get("url"):
            path.parent.mkdir(parents=True, exist_ok=True)
            with (
                tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp,
                urllib.request.urlopen(entry["url"], timeout=600) as response,  # noqa: S310
            ):
                shutil.copyfileobj(response, tmp)
            Path(tmp.name).replace(path)
            done.append(f"fetched {entry['path']}")
        if not path.is_file():
            raise SystemExit(f"{entry['path']}: missing from the bundle and no URL to fetch it")
        actual = file_digest(path, _algorithm(expected))
        if actual != expected:
            raise SystemExit(
                f"{entry['path']}: {_algorithm(expected)} {actual} is not the expected {expected}"
            )
        done.append(f"verified {entry['path']}")
        if entry.get("unpack"):
            with tarfile.open(path) as archive:
                # "data": no links out, no absolute paths, no devices (Python's safe filter).
                archive.extractall(source / entry["unpack"], filter="data")
            path.unlink()
            done.append(f"unpacked into {entry['unpack']}")
    return done


def main(argv: list[str] | None = None) -> int:
    """``assets SOURCE`` or ``grade --root ...``; see the module's docstring."""
    parser = argparse.ArgumentParser(prog="python -m grader.export.gradescope_run")
    commands = parser.add_subparsers(dest="command", required=True)
    assets = commands.add_parser("assets")
    assets.add_argument("source", type=Path)
    grade = commands.add_parser("grade")
    grade.add_argument("--root", type=Path, default=Path("/autograder"))
    grade.add_argument("--assignment", required=True)
    grade.add_argument("--budget", required=True)
    grade.add_argument("--gradescope-timeout", type=int, default=GRADESCOPE_TIMEOUT)
    grade.add_argument("--grader", default="grader")
    grade.add_argument("--data-dir", type=Path, default=None)
    grade.add_argument("--weights-dir", type=Path, default=None)
    grade.add_argument("--cgroup", type=Path, default=Path("/sys/fs/cgroup"))
    args = parser.parse_args(argv)
    if args.command == "assets":
        for line in prepare_assets(args.source):
            print(line)
        return 0
    run(
        args.root,
        assignment=args.assignment,
        budget=args.budget,
        gradescope_timeout=args.gradescope_timeout,
        grader=args.grader,
        limits=read_cgroup_limits(args.cgroup),
        data_dir=args.data_dir,
        weights_dir=args.weights_dir,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
