"""What runs inside Gradescope's container: limits from the cgroup, a results.json that explains
a limit hit, and assets fetched or carried with their digests checked."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pickle
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.export.gradescope import build_bundle
from grader.export.gradescope_run import plan, prepare_assets, run
from grader.machine import ContainerLimits, cores, read_cgroup_limits
from tests.conftest import ROOT


def cgroup(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return root


def test_cgroup_v2_and_v1_limits_are_read(tmp_path: Path) -> None:
    v2 = cgroup(tmp_path / "v2", {"memory.max": str(768 * 1024 * 1024), "cpu.max": "50000 100000"})
    assert read_cgroup_limits(v2) == ContainerLimits(768, 0.5)
    unlimited = cgroup(tmp_path / "v2u", {"memory.max": "max", "cpu.max": "max 100000"})
    assert read_cgroup_limits(unlimited) == ContainerLimits(None, None)
    v1 = cgroup(
        tmp_path / "v1",
        {
            "memory/memory.limit_in_bytes": str(3 * 1024**3),
            "cpu/cpu.cfs_quota_us": "200000",
            "cpu/cpu.cfs_period_us": "100000",
        },
    )
    assert read_cgroup_limits(v1) == ContainerLimits(3072, 2.0)
    v1_unlimited = cgroup(
        tmp_path / "v1u",
        {"memory/memory.limit_in_bytes": "9223372036854771712", "cpu/cpu.cfs_quota_us": "-1"},
    )
    assert read_cgroup_limits(v1_unlimited) == ContainerLimits(None, None)
    assert read_cgroup_limits(tmp_path / "absent") == ContainerLimits(None, None)


def test_cores_follow_the_containers_cpu_quota_not_the_hosts(tmp_path: Path) -> None:
    """Gradescope's half CPU is one core for thread pools and -j, whatever the host has."""
    half = cgroup(tmp_path / "half", {"cpu.max": "50000 100000"})
    assert cores(half) == 1
    host = cores(tmp_path / "absent")
    assert host >= 1
    many = cgroup(tmp_path / "many", {"cpu.max": f"{(host + 8) * 100000} 100000"})
    assert cores(many) == host  # a quota above the affinity leaves the affinity


def test_plan_stays_under_gradescopes_timeout_and_tells_the_instructor_what_to_raise() -> None:
    small = plan(
        ContainerLimits(768, 0.5), gradescope_timeout=600, budget_timeout=900, rubric_mb=8192
    )
    assert small.wall_s < 600 and small.notebook_s < small.wall_s
    assert small.kernel_mb == 512
    text = " ".join(small.instructor)
    assert "768 MB" in text and "raise the memory" in text and "less than the 900 s" in text
    # What students read says what limits they were graded under, nothing for the instructor.
    assert len(small.notes) == 1 and "instructor" not in small.notes[0].lower()
    roomy = plan(
        ContainerLimits(6144, 2.0), gradescope_timeout=2400, budget_timeout=600, rubric_mb=8192
    )
    assert roomy.notebook_s == 600 and roomy.kernel_mb == 6144 - 1200
    assert roomy.instructor == []  # nothing to raise


@pytest.mark.parametrize(
    ("budget", "minutes"),
    [("smoke", 23), ("standard", 40)],
)
def test_the_gradescope_guides_timeouts_fit_gradescope_and_give_what_it_says(
    budget: str, minutes: int
) -> None:
    """The Gradescope guide's table (docs/lms/gradescope.md): each budget's recommended timeout
    is at most Gradescope's 40 minutes, and the notebook gets the time the table says."""
    from grader.rubric.load import load_assignment

    spec = load_assignment("cifar10_transfer")
    allowed = spec.timeouts(budget).total
    chosen = plan(
        ContainerLimits(4096, 2.0),
        gradescope_timeout=minutes * 60,
        budget_timeout=allowed,
        rubric_mb=spec.limits.memory_mb,
    )
    assert minutes * 60 <= 2400
    guide = (ROOT / "docs" / "lms" / "gradescope.md").read_text()
    row = f"| {budget} | {allowed:g} s | {minutes} min ({minutes * 60} s) | {chosen.wall_s} s | "
    assert row + f"{chosen.notebook_s} s |" in guide


def fake_grader(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-grader"
    script.write_text(f"#!/usr/bin/env bash\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize(
    ("body", "limits", "expected"),
    [
        ("kill -9 $$", ContainerLimits(768, 0.5), "lack of memory (768 MB)"),
        ("echo 'error: broken <b>'; exit 2", ContainerLimits(None, None), "broken &lt;b&gt;"),
    ],
    ids=["killed", "error"],
)
def test_results_json_explains_a_limit_hit(
    tmp_path: Path,
    body: str,
    limits: ContainerLimits,
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    results = run(
        root,
        assignment="cifar10_transfer",
        budget="smoke",
        gradescope_timeout=600,
        grader=fake_grader(tmp_path, body),
        limits=limits,
    )
    written = json.loads((root / "results" / "results.json").read_text())
    assert written == results and written["score"] == 0 and written["tests"] == []
    assert expected in written["output"] and "Autograder limits:" in written["output"]
    # What to raise is the instructor's: in the log (stdout, hidden from students), not here.
    assert "instructor:" not in written["output"].lower()
    assert written["stdout_visibility"] == "hidden"
    if limits.memory_mb == 768:
        log = capsys.readouterr().out
        assert "Instructor: the grader was killed" in log and "raise the memory" in log


def test_a_grader_past_its_wall_clock_is_stopped_and_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grader.export.gradescope_run as module

    real_plan = module.plan

    def quick(*args: object, **kwargs: object) -> module.Plan:
        chosen = real_plan(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(chosen, wall_s=1, notebook_s=1)

    monkeypatch.setattr(module, "plan", quick)
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    results = run(
        root,
        assignment="cifar10_transfer",
        budget="smoke",
        gradescope_timeout=600,
        grader=fake_grader(tmp_path, "sleep 30"),
        limits=ContainerLimits(None, None),
    )
    assert "did not finish within 1 s" in results["output"]


# --- assets --------------------------------------------------------------------------------------


def cifar_batch(n: int, seed: int) -> bytes:
    """A batch in the official python format (a pickled dict of bytes keys), n images."""
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    return pickle.dumps(batch, protocol=2)


def official_cifar(folder: Path) -> Path:
    data = folder / "cifar-10-batches-py"
    data.mkdir(parents=True)
    for i in range(1, 6):
        (data / f"data_batch_{i}").write_bytes(cifar_batch(20, i))
    (data / "test_batch").write_bytes(cifar_batch(20, 9))
    meta = {b"label_names": [b"airplane", b"automobile"], b"num_cases_per_batch": 20}
    (data / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def extract(bundle: Path, dest: Path) -> Path:
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(dest)
    return dest


def test_carried_data_is_in_the_bundle_with_digests_checked_at_build(tmp_path: Path) -> None:
    data = official_cifar(tmp_path / "datasets")
    bundle = build_bundle(
        "cifar10_transfer", out=tmp_path / "ag.zip", budget="smoke", data_dir=data
    )
    source = extract(bundle, tmp_path / "source")
    manifest = json.loads((source / "assets.json").read_text())
    assert {e["path"] for e in manifest} == {
        f"data/cifar-10-batches-py/{n}"
        for n in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]
    }
    assert all("url" not in e for e in manifest)  # carried: nothing to fetch
    done = prepare_assets(source)
    assert done.count("verified data/cifar-10-batches-py/test_batch") == 1
    # The grader reads the carried copy as real CIFAR-10.
    from grader.data import sets

    assert sets.find_real("cifar10", source / "data") == source / "data" / "cifar-10-batches-py"
    # A file changed after the build fails the image's build, not a student's grade.
    (source / "data" / "cifar-10-batches-py" / "test_batch").write_bytes(cifar_batch(20, 1))
    with pytest.raises(SystemExit, match=r"test_batch: sha256 .* is not the expected"):
        prepare_assets(source)


def tarball(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def manifest_for(source: Path, archive: Path, digest: str) -> None:
    entry = {"path": "data/cifar-10-python.tar.gz", "url": archive.as_uri(), "digest": digest}
    entry["unpack"] = "data"
    (source / "assets.json").write_text(json.dumps([entry]))


def test_fetched_data_is_checked_then_unpacked(tmp_path: Path) -> None:
    archive = tmp_path / "mirror" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(tarball({"cifar-10-batches-py/test_batch": cifar_batch(5, 1)}))
    source = tmp_path / "source"
    source.mkdir()
    manifest_for(source, archive, hashlib.sha256(archive.read_bytes()).hexdigest())
    assert prepare_assets(source) == [
        "fetched data/cifar-10-python.tar.gz",
        "verified data/cifar-10-python.tar.gz",
        "unpacked into data",
    ]
    assert (source / "data" / "cifar-10-batches-py" / "test_batch").is_file()
    # A wrong digest (a tampered mirror) stops the build.
    other = tmp_path / "other"
    other.mkdir()
    manifest_for(other, archive, "0" * 64)
    with pytest.raises(SystemExit, match="is not the expected"):
        prepare_assets(other)
    # MD5, as Keras publishes for VGG19's weights, is recognised by its length.
    md5 = tmp_path / "md5"
    md5.mkdir()
    manifest_for(md5, archive, hashlib.md5(archive.read_bytes()).hexdigest())
    assert "verified data/cifar-10-python.tar.gz" in prepare_assets(md5)


def test_a_hostile_archive_cannot_write_outside_its_folder(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tarball({"../../escaped": b"x"}))
    source = tmp_path / "a" / "b" / "source"
    source.mkdir(parents=True)
    manifest_for(source, archive, hashlib.sha256(archive.read_bytes()).hexdigest())
    with pytest.raises(tarfile.OutsideDestinationError):
        prepare_assets(source)
    assert not (tmp_path / "a" / "escaped").exists()


def test_setup_sh_is_valid_bash_and_its_python_compiles(tmp_path: Path) -> None:
    bundle = build_bundle("cifar10_transfer", out=tmp_path / "ag.zip", budget="smoke")
    source = extract(bundle, tmp_path / "source")
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(source / script)], check=True)
    setup = (source / "setup.sh").read_text()
    snippets = [
        part.split('"', 1)[0].replace("\\\n", "") for part in setup.split('"$VENV_PY" -c "')[1:]
    ]
    assert len(snippets) == 2
    for code in snippets:
        compile(code, "setup.sh", "exec")
    # The snippet that makes the secret runs as written (here, into a scratch cache folder).
    env = {"GRADER_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", snippets[0]], env=env, check=True)
    secret = tmp_path / "cache" / "secret"
    assert secret.is_file() and stat.S_IMODE(secret.stat().st_mode) == 0o600
