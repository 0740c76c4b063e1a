"""The Gradescope autograder bundle: ``setup.sh``, ``run_autograder``, the grader's source, its
pinned dependencies, and the real data and weights (carried, or fetched at build).

Gradescope unzips the bundle into ``/autograder/source``, runs ``setup.sh`` once when it builds
the image (with internet), and ``run_autograder`` for every submission (the student's files are
in ``/autograder/submission``); see :mod:`grader.export.gradescope_run` for what runs there.
``results.json`` follows Gradescope's autograder specification (see
:mod:`grader.export.gradescope_results`).
"""

from __future__ import annotations

import json
import shlex
import stat
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

from grader.exceptions import InputError
from grader.export.bundle_source import (
    COURSE,
    SOURCE,
    pyproject,
    reference_dir,
    requirements_lock,
    source_files,
)
from grader.framework import framework_of
from grader.options import GRADESCOPE_TIMEOUT, GradeOptions
from grader.rubric import Assignment
from grader.rubric.load import load_assignment
from grader.sandbox.confine import JUDGE_GROUP

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (with internet).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SRC=/autograder/source
apt-get update -q
# Python 3.11 or newer: Ubuntu 22.04 (and Debian 12) offer python3.11; Ubuntu 24.04 has 3.12
# as python3 and no python3.11.
if apt-cache show python3.11-venv >/dev/null 2>&1; then
  apt-get install -y -q --no-install-recommends python3.11 python3.11-venv ca-certificates
  PY=python3.11
else
  apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates
  PY=python3
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup.sh: the grader needs Python 3.11 or newer; this image has $("$PY" --version)" >&2
  exit 1
fi
"$PY" -m venv /autograder/venv
VENV_PY=/autograder/venv/bin/python
"$VENV_PY" -m pip install --no-cache-dir --upgrade pip
# The versions the instructor's grader runs with (requirements.lock, resolved on
# Python {python}), then the grader itself without letting pip pick anything else.
"$VENV_PY" -m pip install --no-cache-dir -r "$SRC/requirements.lock"
"$VENV_PY" -m pip install --no-cache-dir --no-deps "$SRC/{source}"
# Kernels run as another user, who cannot write __pycache__ into root's venv: compile it now,
# or every kernel compiles TensorFlow's Python anew and may miss its start-up deadline. (Some
# packages ship files that never compile and are never imported: those failures are fine.)
"$VENV_PY" -m compileall -q -j 0 /autograder/venv >/dev/null || true
# Real data and weights, fetched or carried, each checked against its digest.
"$VENV_PY" -m grader.export.gradescope_run assets "$SRC"
export GRADER_CACHE_DIR=/autograder/cache
export GRADER_COURSE="$SRC/{course}"
mkdir -p "$GRADER_CACHE_DIR"
# The grader's secret is made now, once, into the image (a 0600 file of root's): every
# submission is graded with it and no kernel, which runs as another user, can read it. (The
# folder itself stays readable: without namespaces, the judge reads the data files there.)
"$VENV_PY" -c "from grader.data.secret import grader_secret; grader_secret()"
# Calibrate the reference now, once, on the same data, rather than in every student's run.
"$VENV_PY" -c "from grader.options import GradeOptions; \\
from grader.pipeline import prepare_reference; \\
prepare_reference(assignment={assignment_py}, options=GradeOptions(budget={budget_py}, \\
data_dir={data_py}, weights_dir={weights_py}))"
# Permissions (tests/export/test_gradescope.py applies this block and checks the result).
# The bundle (rubric, reference, data) is root's alone from now on, but for the reference
# module, which the judge imports to build the expected models. The judge runs in the group
# $JUDGE_GROUP (the grader gives it that gid when the group exists); a kernel runs as a user and
# group of its own, with no other group, so it can neither enter $SRC nor read the reference,
# even in a container without namespaces.
JUDGE_GROUP={judge_group}
getent group "$JUDGE_GROUP" >/dev/null || groupadd --system "$JUDGE_GROUP"
# --- permissions ---
chmod -R go-rwx "$SRC"
chgrp "$JUDGE_GROUP" "$SRC" "$SRC/{course}"
chmod g+x "$SRC" "$SRC/{course}"
chgrp -R "$JUDGE_GROUP" "$SRC/{course}/{reference}"
chmod -R g+rX "$SRC/{course}/{reference}"
# The prepared data: a kernel reads its own share (kernel-*.npz) by name; every other file
# (the held-back images, a synthetic set's whole test set) is for the grader and the judge.
DATA="$GRADER_CACHE_DIR/data"
chmod o-r "$DATA"
find "$DATA" -maxdepth 1 -type f ! -name 'kernel-*' -exec chgrp "$JUDGE_GROUP" {{}} + \
  -exec chmod u=rw,g=r,o= {{}} +
# --- end permissions ---
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
rm -f "$ROOT/results/results.json"
"$GRADER_PYTHON" -m grader.export.gradescope_run grade --root "$ROOT" --grader "$GRADER_BIN" \\
  --assignment {assignment} --budget {budget} --gradescope-timeout {timeout}{data_args}
status=$?
cat "$ROOT/grader.log" 2>/dev/null
if [ ! -s "$ROOT/results/results.json" ]; then
  # Python itself failed: Gradescope shows an error page without results.json.
  printf '{{"score": 0, "tests": [], "stdout_visibility": "hidden", "output": "%s"}}\\n' \\
    "The autograder failed before grading (exit code $status); your instructor can see its log." \\
    >"$ROOT/results/results.json"
fi
"""

# Where Keras itself downloads each asset, with the digest Keras checks it against
# (keras/src/datasets/cifar10.py, mnist.py; keras/src/applications/vgg19.py: MD5 there).
OFFICIAL_DATA = {
    "cifar10": {
        "path": "data/cifar-10-python.tar.gz",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "digest": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        "unpack": "data",
    },
    "mnist": {
        "path": "data/mnist.npz",
        "url": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        "digest": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    },
}
OFFICIAL_WEIGHTS = {
    "vgg19": {
        "path": "weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "url": "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "digest": "253f8cb515780f3b799900260a226db6",
    },
}
BUNDLE_ROOT = "/autograder/source"


def build_bundle(
    assignment: str | Path,
    *,
    out: Path,
    budget: str = GradeOptions.budget,
    data_dir: Path | None = None,
    weights_dir: Path | None = None,
    fetch: bool = True,
    gradescope_timeout: int = GRADESCOPE_TIMEOUT,
) -> Path:
    """Write Gradescope's autograder zip for one assignment.

    Args:
        assignment: assignment id or folder.
        out: the zip to write.
        budget: the budget every submission is graded at.
        data_dir: real data to carry in the bundle (as for ``grader grade --data-dir``).
        weights_dir: ImageNet weights to carry (as for ``--weights-dir``).
        fetch: for what is not carried, let ``setup.sh`` download the official files (checked
            against Keras' digests); without it, grading uses synthetic data and random weights.
        gradescope_timeout: the autograder timeout set in Gradescope, in seconds; each run
            keeps its own limits under it.

    Returns:
        ``out``.

    Raises:
        InputError: the grader is not installed (its dependencies cannot be listed), the budget
            is unknown, or ``data_dir``/``weights_dir`` lacks the files.
    """
    spec = load_assignment(assignment)
    spec.plan(budget)  # refuses an unknown budget
    files = source_files(spec)
    carried = _carried_assets(spec, data_dir, weights_dir)
    manifest = _manifest(spec, carried, fetch)
    has_data = any(str(e["path"]).startswith("data/") for e in manifest)
    has_weights = any(str(e["path"]).startswith("weights/") for e in manifest)
    scripts = _scripts(
        spec,
        budget=budget,
        data_at=f"{BUNDLE_ROOT}/data" if has_data else None,
        weights_at=f"{BUNDLE_ROOT}/weights" if has_weights else None,
        gradescope_timeout=gradescope_timeout,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, text in scripts.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, text)
        # Keras' backend: the core requires no TensorFlow build, the image needs one.
        extras = framework_of(spec).pip_extras
        bundle.writestr(f"{SOURCE}/pyproject.toml", pyproject(extras))
        bundle.writestr("requirements.lock", requirements_lock(extras))
        bundle.writestr("assets.json", json.dumps(manifest, indent=2) + "\n")
        for arcname, path in sorted({**files, **carried}.items()):
            bundle.write(path, arcname)
    return out


def _manifest(
    spec: Assignment, carried: Mapping[str, Path], fetch: bool
) -> list[Mapping[str, object]]:
    """``assets.json``: each carried file with its digest, then what ``setup.sh`` fetches."""
    from grader.export.gradescope_run import file_digest

    manifest: list[Mapping[str, object]] = [
        {"path": name, "digest": file_digest(path, "sha256")} for name, path in carried.items()
    ]
    has_data = any(n.startswith("data/") for n in carried)
    has_weights = any(n.startswith("weights/") for n in carried)
    if fetch and not has_data and spec.dataset in OFFICIAL_DATA:
        manifest.append(OFFICIAL_DATA[spec.dataset])
    for application in spec.pretrained:
        if fetch and not has_weights and application in OFFICIAL_WEIGHTS:
            manifest.append(OFFICIAL_WEIGHTS[application])
    return manifest


def _scripts(
    spec: Assignment,
    *,
    budget: str,
    data_at: str | None,
    weights_at: str | None,
    gradescope_timeout: int,
) -> dict[str, str]:
    """``setup.sh`` and ``run_autograder``, for the real data and weights found at ``*_at``."""
    data_args = "".join(
        f" \\\n  {flag} {shlex.quote(at)}"
        for flag, at in (("--data-dir", data_at), ("--weights-dir", weights_at))
        if at
    )
    return {
        "setup.sh": SETUP_SH.format(
            source=SOURCE,
            course=COURSE,
            reference=reference_dir(spec).name,
            judge_group=JUDGE_GROUP,
            assignment_py=repr(spec.id),
            budget_py=repr(budget),
            data_py=repr(data_at),
            weights_py=repr(weights_at),
            python=".".join(map(str, sys.version_info[:3])),
        ),
        "run_autograder": RUN_AUTOGRADER.format(
            assignment=shlex.quote(spec.id),
            budget=shlex.quote(budget),
            timeout=int(gradescope_timeout),
            data_args=data_args,
            course=COURSE,
        ),
    }


def _carried_assets(
    spec: Assignment, data_dir: Path | None, weights_dir: Path | None
) -> dict[str, Path]:
    """Bundle name -> file of the real data and weights given on the command line."""
    from grader.data import sets
    from grader.data.pretrained import WEIGHT_FILES, find_weights

    carried: dict[str, Path] = {}
    if data_dir is not None:
        found = sets.find_real(spec.dataset, data_dir)
        if found is None:
            raise InputError(f"--data-dir {data_dir}: no {spec.dataset} data there")
        if found.is_file():
            carried[f"data/{found.name}"] = found
        else:
            for path in sorted(p for p in found.iterdir() if p.is_file()):
                carried[f"data/{found.name}/{path.name}"] = path
    if weights_dir is not None:
        for application in spec.pretrained:
            weights = find_weights(application, weights_dir)
            assert weights.path is not None  # find_weights raises when weights_dir lacks it
            carried[f"weights/{WEIGHT_FILES[application]}"] = weights.path
    return carried
