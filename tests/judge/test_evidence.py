"""Taking a kernel's artefacts out of its reach: write-once, bounded, never through a link; and
reading arrays within a bound declared before anything is allocated."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.artefacts.arrays import UnreadableArrays, read_npz
from grader.judge.evidence import EvidenceCollector
from grader.kernel import layout


def collector(tmp_path: Path, **bounds: int) -> EvidenceCollector:
    (tmp_path / "kernel" / "fits").mkdir(parents=True)
    (tmp_path / "kernel" / "snapshots").mkdir()
    (tmp_path / "kernel" / "models").mkdir()
    return EvidenceCollector(
        tmp_path / "kernel",
        tmp_path / "taken",
        ["base", "transfer"],
        max_file_bytes=bounds.get("max_file_bytes", 10_000),
        max_total_bytes=bounds.get("max_total_bytes", 100_000),
    )


def test_a_fit_record_taken_after_its_cell_cannot_be_rewritten_later(tmp_path: Path) -> None:
    c = collector(tmp_path)
    (c.source / "fits" / "0.json").write_text('{"honest": true}')
    (c.source / "snapshots" / "0-after.npz").write_bytes(b"weights")
    c.after_cell()
    (c.source / "fits" / "0.json").write_text('{"forged": true}')
    (c.source / "snapshots" / "0-after.npz").write_bytes(b"forged")
    (c.source / "fits" / "1.json").write_text('{"next": true}')
    c.at_end()
    assert (c.dest / "fits" / "0.json").read_text() == '{"honest": true}'
    assert (c.dest / "snapshots" / "0-after.npz").read_bytes() == b"weights"
    assert (c.dest / "fits" / "1.json").read_text() == '{"next": true}'


def test_final_models_are_taken_at_the_end_only_and_unknown_names_never(tmp_path: Path) -> None:
    c = collector(tmp_path)
    (c.source / "models" / "base.keras").write_bytes(b"early")
    (c.source / "models" / "other.keras").write_bytes(b"not a role")
    (c.source / "notes.txt").write_text("hello")
    c.after_cell()
    assert not (c.dest / "models").exists()
    (c.source / "models" / "base.keras").write_bytes(b"final")
    (c.source / "roles.json").write_text("{}")
    c.at_end()
    assert (c.dest / "models" / "base.keras").read_bytes() == b"final"
    assert sorted(p.relative_to(c.dest).as_posix() for p in c.dest.rglob("*") if p.is_file()) == [
        "models/base.keras",
        "roles.json",
    ]


def test_links_and_special_files_are_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the held-back labels")
    c = collector(tmp_path)
    os.symlink(secret, c.source / "roles.json")
    os.symlink(secret, c.source / "fits" / "0.json")
    os.mkfifo(c.source / "fits" / "1.json")
    os.rmdir(c.source / "snapshots")
    os.symlink(tmp_path, c.source / "snapshots")
    (tmp_path / "0-after.npz").write_text("outside")
    c.at_end()
    assert not [p for p in c.dest.rglob("*") if p.is_file()]
    assert "fits/0.json is a link or cannot be opened; ignored" in c.notes
    assert "fits/1.json is not a regular file; ignored" in c.notes
    assert "snapshots is not a folder; ignored" in c.notes


def test_sizes_are_bounded_per_file_and_in_total(tmp_path: Path) -> None:
    c = collector(tmp_path, max_file_bytes=100, max_total_bytes=150)
    (c.source / "fits" / "0.json").write_bytes(b"x" * 101)
    (c.source / "fits" / "1.json").write_bytes(b"x" * 100)
    (c.source / "fits" / "10.json").write_bytes(b"x" * 60)
    c.at_end()
    assert sorted(p.name for p in (c.dest / "fits").iterdir()) == ["1.json"]
    assert any("fits/0.json is larger than the 100 bytes" in n for n in c.notes)
    assert any("fits/10.json is larger than the 50 bytes" in n for n in c.notes)


def npz_declaring(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """A tiny npz whose one array's header claims ``shape``: what ``np.load`` would allocate."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    npy.write(b"\0" * 64)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("labels.npy", npy.getvalue())
    return out.getvalue()


def test_an_array_declaring_gigabytes_is_refused_before_any_allocation(tmp_path: Path) -> None:
    bomb = tmp_path / "variables.npz"
    bomb.write_bytes(npz_declaring((3 * 2**30 // 8,)))
    assert bomb.stat().st_size < 1000
    with pytest.raises(UnreadableArrays, match="declares more than"):
        read_npz(bomb, max_bytes=2**30)


def test_object_arrays_and_strangers_are_refused_and_plain_arrays_read(tmp_path: Path) -> None:
    np.savez(tmp_path / "ok.npz", a=np.arange(6).reshape(2, 3))
    assert read_npz(tmp_path / "ok.npz", max_bytes=1000)["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(UnreadableArrays, match="Python objects"):
        read_npz(tmp_path / "objects.npz", max_bytes=10_000)
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as archive:
        archive.writestr("evil.pkl", b"cos\nsystem\n")
    with pytest.raises(UnreadableArrays, match="is not an array"):
        read_npz(tmp_path / "odd.npz", max_bytes=10_000)


# --- checkpoints: a crash keeps what was done ---------------------------------------------------


def _checkpoint(kernel: Path, number: int, roles: dict[str, str]) -> None:
    folder = kernel / layout.CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    for role, content in roles.items():
        (folder / f"{number}-model-{role}.keras").write_text(content)
    (folder / f"{number}-variables.json").write_text("{}")
    (folder / f"{number}-roles.json").write_text(json.dumps(sorted(roles)))


def test_a_dead_kernels_last_checkpoint_stands_in_for_the_final_files(tmp_path: Path) -> None:
    taker = collector(tmp_path)
    kernel = tmp_path / "kernel"
    _checkpoint(kernel, 0, {"base": "base after cell 4"})
    taker.after_cell(4)
    _checkpoint(kernel, 1, {"base": "base after cell 6", "transfer": "transfer after cell 6"})
    taker.after_cell(6)
    # The next cell rewrites a taken checkpoint and names a role the rubric does not have.
    (kernel / layout.CHECKPOINTS / "1-model-base.keras").write_text("rewritten")
    (kernel / layout.CHECKPOINTS / "2-model-extra.keras").write_text("not a role")
    taker.after_cell(8)
    taker.at_end()  # no final roles.json: the kernel died
    taken = tmp_path / "taken"
    assert (taken / layout.model_file("base")).read_text() == "base after cell 6"
    assert (taken / layout.model_file("transfer")).read_text() == "transfer after cell 6"
    assert json.loads((taken / layout.ROLES).read_text()) == ["base", "transfer"]
    assert taker.restored_from == 6
    assert not (taken / layout.CHECKPOINTS / "2-model-extra.keras").exists()


def test_final_files_win_over_checkpoints(tmp_path: Path) -> None:
    taker = collector(tmp_path)
    kernel = tmp_path / "kernel"
    _checkpoint(kernel, 0, {"base": "checkpointed"})
    taker.after_cell(3)
    (kernel / layout.model_file("base")).write_text("final")
    (kernel / layout.ROLES).write_text("{}")
    taker.at_end()
    assert (tmp_path / "taken" / layout.model_file("base")).read_text() == "final"
    assert taker.restored_from is None


def test_an_incomplete_checkpoint_is_never_restored(tmp_path: Path) -> None:
    """A checkpoint whose role table is missing (the kernel died while writing it)."""
    taker = collector(tmp_path)
    kernel = tmp_path / "kernel"
    _checkpoint(kernel, 0, {"base": "complete"})
    taker.after_cell(2)
    (kernel / layout.CHECKPOINTS / "1-model-base.keras").write_text("half written")
    taker.at_end()
    assert (tmp_path / "taken" / layout.model_file("base")).read_text() == "complete"
    assert taker.restored_from == 2


def test_a_folder_flooded_with_files_is_listed_only_up_to_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.judge import evidence

    monkeypatch.setattr(evidence, "MAX_LISTED", 5)
    c = collector(tmp_path)
    for n in range(20):
        (c.source / "fits" / f"{n}.json").write_text("{}")
    c.after_cell()
    assert len(list((c.dest / "fits").iterdir())) <= 5
    assert "fits/ holds too many files; the rest were ignored" in c.notes
