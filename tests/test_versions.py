"""The versions recorded in results and cache keys, on machines that hold only one framework."""

from __future__ import annotations

from importlib import metadata

import pytest

from grader import versions as versions_module


def test_a_machine_without_keras_or_tensorflow_still_records_its_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = metadata.version

    def without_keras(dist: str) -> str:
        if dist in ("keras", "tensorflow", "tensorflow-cpu"):
            raise metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(metadata, "version", without_keras)
    versions_module.versions.cache_clear()
    try:
        found = versions_module.versions()
    finally:
        versions_module.versions.cache_clear()
    assert found["keras"] == found["tensorflow"] == versions_module.NOT_INSTALLED
    assert found["numpy"] == real("numpy")


def test_tensorflow_cpu_is_preferred_and_tensorflow_is_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def only_tensorflow(dist: str) -> str:
        if dist == "tensorflow":
            return "2.20.0"
        if dist == "tensorflow-cpu":
            raise metadata.PackageNotFoundError(dist)
        return "1.0"

    monkeypatch.setattr(metadata, "version", only_tensorflow)
    versions_module.versions.cache_clear()
    try:
        assert versions_module.versions()["tensorflow"] == "2.20.0"
    finally:
        versions_module.versions.cache_clear()
