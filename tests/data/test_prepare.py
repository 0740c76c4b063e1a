"""The data prepared once per process, in the cache folder the process names now."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.data.prepare import PreparedData, prepare_data


def test_a_process_that_names_another_cache_folder_gets_its_files_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch test points GRADER_CACHE_DIR at a folder of its own; a grade after it in the
    # same process must not be handed the files of that folder (its kernel's sandbox key
    # would then differ from the one `grader check` started its kernel with).
    def prepare() -> PreparedData:
        return prepare_data("mnist", data_dir=None, seed=3, held_back=500, secret="s")

    files = {}
    for name in ("first", "second"):
        monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / name))
        files[name] = prepare()
    assert files["first"].kernel_file.is_relative_to(tmp_path / "first")
    assert files["second"].kernel_file.is_relative_to(tmp_path / "second")
    assert files["second"].held_out_file.is_relative_to(tmp_path / "second")
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "first"))
    assert prepare() is files["first"]  # still once per folder
