"""Packages a check would compile again at every start are found without importing them."""

from __future__ import annotations

import py_compile
import sys
from pathlib import Path

import pytest

from grader.bytecode import bytecode_warning, uncompiled


def installed(site: Path, name: str) -> Path:
    """A package ``name`` under ``site`` with no bytecode; its ``__init__.py``."""
    init = site / name / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text("raise RuntimeError('imported')\n")
    return init


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_package_without_bytecode_this_user_may_not_write_is_named_unimported(
    site: Path,
) -> None:
    installed(site, "heavy_pkg")
    found = uncompiled(["heavy_pkg", "not_installed_pkg"], may_write=lambda _: False)
    assert found == {"heavy_pkg": site / "heavy_pkg"}
    assert "heavy_pkg" not in sys.modules


def test_compiled_or_writable_packages_are_not(site: Path) -> None:
    init = installed(site, "compiled_pkg")
    installed(site, "writable_pkg")
    py_compile.compile(str(init), doraise=True)
    assert uncompiled(["compiled_pkg"], may_write=lambda _: False) == {}
    # Its first import writes the bytecode, and later checks use it.
    assert uncompiled(["writable_pkg"], may_write=lambda _: True) == {}


def test_the_warning_says_what_to_compile(site: Path) -> None:
    installed(site, "heavy_a")
    installed(site, "heavy_b")
    warning = bytecode_warning(["heavy_a", "heavy_b"], may_write=lambda _: False)
    assert warning is not None
    assert warning.startswith("heavy_a, heavy_b have no compiled bytecode")
    assert warning.endswith(f"python -m compileall -q {site}")
    assert bytecode_warning(["not_installed_pkg"], may_write=lambda _: False) is None
    one = bytecode_warning(["heavy_a"], may_write=lambda _: False)
    assert one is not None and one.startswith("heavy_a has no compiled bytecode")
    # This user (root here, or the installer) may write them: nothing to say.
    assert bytecode_warning(["heavy_a"], may_write=lambda _: True) is None
