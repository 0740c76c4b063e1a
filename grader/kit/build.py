"""Build a student kit: what students may have to check their work, and nothing more.

``grader kit build`` writes, from the instructor's course (solution notebooks and reference),
a folder and a zip of it::

    keras-course-kit/
      README.md                       how to install (one command, no internet) and check
      grader-kit.json                 marks the folder as a kit (and what it was built for)
      wheels/keras_notebook_grader-*.whl    the grader, which holds no course
      wheels/*.whl                    what it needs beyond a course environment (see
                                      :mod:`grader.kit.wheels`): installs offline
      assignments/<id>/student.ipynb  the released notebook (solution regions stripped)
      assignments/<id>/assignment.toml     the public rubric and its [kit] spec

The public rubric keeps the checks students see (hidden checks are absent: no id, no title,
no message, no params), their hints, the budgets, the roles and the data variables; it drops
the reference module's name, the solution notebook, written-answer marking schemes, the
instructors' ``fix`` of each check and the one-defect examples (``[[mutants]]``). Its
``[kit]`` table holds the expected models as Keras configurations (see
:mod:`grader.rubric.kit`) and the reference's figures for each budget and data source
prepared, measured here by training the reference, so that a student's ``grader check``
never trains it.

**The secret.** The instructor's secret (:mod:`grader.data.secret`) decides the synthetic data
and which test images are held back when grading; it must never leave the instructor's
machines, so the kit cannot carry it. A kit therefore draws its data with a *public* secret
of its own (``data_secret``, random per kit), and its thresholds are calibrated here on
exactly that data. They stay valid on every student's machine because every student's
self-check draws the same data from the same public secret. Nothing is lost: the kit's data
is not the grading data (grading uses the instructor's secret, so a student who knows the
kit's held-back images learns nothing about the graded ones), and a self-check is advice,
never a grade.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import tomllib
import typing as t
import zipfile
from pathlib import Path

import tomli_w

from grader import keras_env
from grader.authoring.validate import stale_template
from grader.calibrate import calibration
from grader.checks.architecture import ReferenceModelParams, signatures
from grader.checks.compilation import compile_summary
from grader.course import KIT_MARKER
from grader.data.prepare import prepare_data
from grader.data.pretrained import find_weights
from grader.exceptions import KitError
from grader.framework import framework_of
from grader.kit import wheels
from grader.notebook import read_notebook
from grader.options import KIT_BUDGETS
from grader.rubric import Assignment
from grader.rubric.kit import (
    KIT_VERSION,
    build_expected,
    describe_extension,
    describe_model,
)
from grader.rubric.load import load_assignment

KIT_NAME = "keras-course-kit"

PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
PIP_WHEEL += ["--no-index", "--quiet"]

CHECK_KEYS = ("id", "kind", "title", "points", "hint", "params")
"""What a public check keeps; anything else (an instructor's ``fix``, ``hidden``) is dropped."""

ASSIGNMENT_KEYS = ("id", "title", "dataset", "seed", "student_notebook", "pretrained")


@dataclasses.dataclass(frozen=True)
class BuiltKit:
    """What :func:`build_kit` wrote."""

    folder: Path
    zip: Path
    assignments: list[str]
    calibrations: int


def build_kit(
    assignments: t.Sequence[str],
    *,
    out: Path,
    budgets: t.Sequence[str] = KIT_BUDGETS,
    data_dir: Path | None = None,
    weights_dir: Path | None = None,
    wheel: Path | None = None,
) -> BuiltKit:
    """Build the student kit for ``assignments`` under ``out``.

    Args:
        assignments: assignment ids of the course (all of them when empty).
        out: the folder to write ``keras-course-kit/`` and ``keras-course-kit.zip`` into.
        budgets: the budgets students may self-check at (each calibrated here).
        data_dir: real data, calibrated besides synthetic data when given.
        weights_dir: ImageNet weights files, for assignments on pretrained models.
        wheel: the grader's wheel to ship; built from the source checkout when None.

    Raises:
        KitError: a builder the kit cannot describe, no wheel to ship, or a package the
            grader needs is not installed here.
        UnknownAssignmentError: an unknown assignment id.
    """
    from grader.rubric.load import available

    names = list(assignments) or available()
    folder = Path(out) / KIT_NAME
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "wheels").mkdir(parents=True)
    shipped = _wheel(folder / "wheels", wheel)
    wheels.ship(shipped, folder / "wheels")
    kit_secret = secrets.token_hex(16)
    count = 0
    for name in names:
        spec = load_assignment(name)
        if spec.kit is not None:
            raise KitError(f"{name} is already a kit's assignment; build from the course")
        count += _write_assignment(
            spec, folder / "assignments" / spec.id, kit_secret, budgets, data_dir, weights_dir
        )
    (folder / KIT_MARKER).write_text(
        json.dumps({"version": KIT_VERSION, "assignments": names, "budgets": list(budgets)}) + "\n",
        encoding="utf-8",
    )
    (folder / "README.md").write_text(_readme(names, shipped.name, budgets), encoding="utf-8")
    archive = Path(out) / f"{KIT_NAME}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, Path(KIT_NAME) / path.relative_to(folder))
    return BuiltKit(folder, archive, names, count)


def _wheel(dest: Path, given: Path | None) -> Path:
    """The grader's wheel in ``dest``: the one given, or built from the source checkout."""
    if given is not None:
        if not given.is_file() or given.suffix != ".whl":
            raise KitError(f"{given}: not a wheel file")
        return Path(shutil.copy(given, dest))
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise KitError("the grader is not a source checkout here; pass --wheel with its wheel")
    # Offline and without build isolation: hatchling is among the test extras.
    done = subprocess.run(
        [*PIP_WHEEL, "-w", str(dest), str(root)],
        capture_output=True,
        text=True,
    )
    found = sorted(dest.glob("keras_notebook_grader-*.whl"))
    if done.returncode != 0 or not found:
        raise KitError(
            f"building the grader's wheel failed ({done.stderr.strip()[-300:]}); "
            "install hatchling or pass --wheel"
        )
    return found[0]


def public_rubric(spec: Assignment) -> dict[str, t.Any]:
    """The rubric less what students may not have (see the module's docstring)."""
    raw = tomllib.loads((spec.folder / "assignment.toml").read_text(encoding="utf-8"))
    raw.pop("manual", None)
    # One-defect examples are the instructor's: they name example submissions the kit does not
    # ship, and the hidden checks each defect costs.
    raw.pop("mutants", None)
    meta = {k: v for k, v in raw["assignment"].items() if k in ASSIGNMENT_KEYS}
    raw["assignment"] = {**meta, "reference": "kit"}
    raw["checks"] = [
        {k: v for k, v in check.items() if k in CHECK_KEYS}
        for check in raw["checks"]
        if not check.get("hidden", False)
    ]
    return raw


def _write_assignment(
    spec: Assignment,
    dest: Path,
    kit_secret: str,
    budgets: t.Sequence[str],
    data_dir: Path | None,
    weights_dir: Path | None,
) -> int:
    dest.mkdir(parents=True)
    public = [c for c in spec.checks if not c.hidden]
    # The course's released notebook is the authority on locked cells (grading restores them
    # from it), so the kit ships that very file; it must be the release of the solution.
    stale = stale_template(
        read_notebook(spec.solution_notebook), read_notebook(spec.student_notebook), spec
    )
    if stale:
        raise KitError(f"{spec.id}: {stale[0]}")
    shutil.copy(spec.student_notebook, dest / spec.student_notebook.name)
    for name in spec.sandbox_files:
        shutil.copy(spec.folder / name, dest / name)
    calibrations = _calibrations(spec, public, kit_secret, budgets, data_dir, weights_dir)
    rubric = public_rubric(spec)
    rubric["kit"] = {
        "version": KIT_VERSION,
        "data_secret": kit_secret,
        "models": json.dumps(_models(spec, public), sort_keys=True),
        "calibrations": json.dumps(calibrations, sort_keys=True),
    }
    try:
        text = tomli_w.dumps(rubric)
    except TypeError as exc:  # a value TOML has no type for (None, a date-less object)
        raise KitError(f"{spec.id}: cannot write the kit's rubric ({exc})") from exc
    (dest / "assignment.toml").write_text(
        "# A student kit's rubric, written by `grader kit build`: public checks only.\n" + text,
        encoding="utf-8",
    )
    # The kit must read back as a rubric the grader accepts, with the same public checks.
    written = load_assignment(dest)
    assert [c.id for c in written.checks] == [c.id for c in public]
    return len(calibrations)


def _models(spec: Assignment, public: list[t.Any]) -> dict[str, dict[str, t.Any]]:
    """Every builder a public check names, as a kit entry, verified against the reference."""
    keras = keras_env.keras()
    reference = spec.reference_module()
    params = [c.params for c in public if isinstance(c.params, ReferenceModelParams)]
    builder_of_role = {p.model: p.builder for p in params if p.built_on is None}
    entries: dict[str, dict[str, t.Any]] = {}

    def base_for(p: ReferenceModelParams) -> t.Any:
        maker = p.base_builder or builder_of_role.get(t.cast(str, p.built_on))
        if maker is None:
            raise KitError(f"{spec.id}: no builder makes the {p.built_on} model {p.builder} needs")
        entries.setdefault(maker, describe_model(getattr(reference, maker)()))
        return getattr(reference, maker)()

    for p in params:
        keras.utils.set_random_seed(spec.seed)
        if p.built_on is None:
            entries.setdefault(p.builder, describe_model(getattr(reference, p.builder)()))
            continue
        base = base_for(p)
        entries.setdefault(p.builder, describe_extension(getattr(reference, p.builder)(base), base))
    for name, entry in entries.items():
        _verify(spec, reference, name, entry, params)
    return {**entries, **framework_of(spec).kit_models(spec, public)}


def _verify(
    spec: Assignment,
    reference: t.Any,
    name: str,
    entry: dict[str, t.Any],
    params: list[ReferenceModelParams],
) -> None:
    """The kit's model must be the reference's, as the checks compare models."""
    if entry["kind"] == "model":
        want, got = getattr(reference, name)(), build_expected(entry)
    else:
        p = next(p for p in params if p.builder == name)
        maker = p.base_builder or next(q.builder for q in params if q.model == p.built_on)
        want = getattr(reference, name)(getattr(reference, maker)())
        got = build_expected(entry, getattr(reference, maker)())
    same_layers = [dataclasses.replace(s, name="") for s in signatures(want)] == [
        dataclasses.replace(s, name="") for s in signatures(got)
    ]
    same_compile = compile_summary(want.get_compile_config() if want.compiled else None) == (
        compile_summary(got.get_compile_config() if got.compiled else None)
    )
    if not (same_layers and same_compile):
        raise KitError(f"{spec.id}: the kit's description of {name} differs from the reference's")


def _calibrations(
    spec: Assignment,
    public: list[t.Any],
    kit_secret: str,
    budgets: t.Sequence[str],
    data_dir: Path | None,
    weights_dir: Path | None,
) -> list[dict[str, t.Any]]:
    """The reference trained under each budget on each data source, with the kit's secret."""
    ids = {c.id for c in public}
    pretrained = [find_weights(name, weights_dir) for name in spec.pretrained]
    found = []
    sources: list[Path | None] = [None] + ([data_dir] if data_dir is not None else [])
    for source in sources if budgets else []:
        with _synthetic_only() if source is None else _nothing():
            data = prepare_data(
                spec.dataset,
                data_dir=source,
                seed=spec.seed,
                held_back=spec.held_back,
                secret=kit_secret,
            )
        for budget in budgets:
            done = calibration(spec, spec.plan(budget), data, pretrained=pretrained)
            found.append(
                {
                    "budget": budget,
                    "source": data.visible.source,
                    "fingerprint": data.fingerprint,
                    "pretrained": [w.fingerprint for w in pretrained],
                    "figures": {k: v for k, v in done.figures.items() if k in ids},
                    "fits": [dataclasses.asdict(f) for f in done.fits],
                }
            )
    return found


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _synthetic_only:
    """Keras' cache hidden for a moment, so that real data there is not picked up."""

    def __enter__(self) -> None:
        self._saved = os.environ.get("KERAS_HOME")
        self._empty = tempfile.mkdtemp(prefix="grader-kit-no-data-")
        os.environ["KERAS_HOME"] = self._empty

    def __exit__(self, *exc: object) -> None:
        if self._saved is None:
            os.environ.pop("KERAS_HOME", None)
        else:
            os.environ["KERAS_HOME"] = self._saved
        shutil.rmtree(self._empty, ignore_errors=True)


def _readme(names: list[str], wheel: str, budgets: t.Sequence[str]) -> str:
    torch = [n for n in names if not framework_of(load_assignment(n)).live_check]
    listed = "\n".join(
        f"- `assignments/{n}/student.ipynb`"
        + (
            " (PyTorch: install the course's PyTorch environment; `kit.check()` judges Keras "
            "models only, so check it with `kit.full_check()` or `grader check`)"
            if n in torch
            else ""
        )
        for n in names
    )
    return f"""# Course kit: check your notebooks yourself

This kit holds your assignments' notebooks and what the grader needs to check them on your
machine: the expected architectures, the checks you are graded on (hidden ones aside) with
their hints, and accuracy thresholds measured in advance. It holds no solution and needs no
internet.

## Install (one command, offline)

In the Python environment you run Jupyter in (it needs TensorFlow and Keras, as the course
does; `pip` installs nothing from the internet with `--no-index`):

```
pip install --no-index --find-links wheels keras-notebook-grader
```

`wheels/` holds the grader (`{wheel}`) and the few packages it needs that a course
environment may lack (click, rich, Jinja2, PyYAML...). pip keeps what you have installed,
your TensorFlow above all (the grader requires Keras, not a TensorFlow build), and takes a
wheel only for what is missing. Compiled wheels in it are for the machine the kit was built
on; if pip says a dependency is missing, install it from your course's instructions first.

## Work and check

{listed}

Open your notebook **inside this folder** (the grader finds the kit from there) and, in a
cell at the end:

```python
from grader import kit
kit.check()        # now, in about a second: layers, compile, frozen flags, data split
kit.full_check()   # re-runs the saved notebook with a small training budget; says how long
```

or, in a terminal, `grader check assignments/<id>/student.ipynb` (the same as
`kit.full_check()`). Budgets prepared: {", ".join(budgets)}. The self-check's accuracy is
measured on the kit's own data with a small budget: it tells you whether your models train,
not your final grade.
"""
