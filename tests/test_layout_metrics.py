"""tools/layout_metrics.py: import cycles, two-way subpackages, sizes and parameter counts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.conftest import ROOT

# A script, not a package: loaded from its file, leaving sys.path as it is for other tests.
SCRIPT = ROOT / "tools" / "layout_metrics.py"
_spec = importlib.util.spec_from_file_location("layout_metrics", SCRIPT)
assert _spec is not None and _spec.loader is not None
tool = importlib.util.module_from_spec(_spec)
# Its dataclasses look their module up by name while the class is made.
sys.modules[_spec.name] = tool
_spec.loader.exec_module(tool)

MODULES = {
    "grader/__init__.py": "",
    # b is imported for typing only: no edge, so no cycle with b.
    "grader/a.py": (
        "from __future__ import annotations\n"
        "import typing as t\n"
        "if t.TYPE_CHECKING:\n"
        "    from grader import b\n"
        "from grader.sub import c\n"
    ),
    "grader/b.py": "from grader import a\n",
    "grader/sub/__init__.py": "",
    # c and e import each other at module level; c imports d only when f runs, d imports c.
    "grader/sub/c.py": (
        "from grader.other import e\n"
        "\n"
        "\n"
        "def f(x, y):\n"
        "    from grader import d\n"
        "\n"
        "    return d, x, y\n"
    ),
    "grader/other/__init__.py": "",
    "grader/other/e.py": "from ..sub.c import f\n",
    "grader/d.py": (
        "from grader.sub.c import f\n"
        "\n"
        "\n"
        "class K:\n"
        "    @staticmethod\n"
        "    def wide(a, b, c, d, e, f, g):\n"
        "        pass\n"
        "\n"
        "    def method(self, a, *rest, key=1, **options):\n"
        "        pass\n"
    ),
}


def make_checkout(root: Path) -> Path:
    for name, source in MODULES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (root / "README.md").write_text("x" * 2048)
    return root


def test_cycles_leave_out_type_checking_imports_and_tell_deferred_ones_apart(
    tmp_path: Path,
) -> None:
    pkg = tool.read_package(make_checkout(tmp_path))
    edges = {(i.source, i.target) for i in pkg.imports}
    assert ("grader.a", "grader.b") not in edges
    assert ("grader.b", "grader.a") in edges
    assert ("grader.other.e", "grader.sub.c") in edges  # a relative import, resolved
    every = tool.cycles(tool.graph(pkg.imports, deferred=True))
    module_level = tool.cycles(tool.graph(pkg.imports, deferred=False))
    assert every == [["grader.d", "grader.other.e", "grader.sub.c"]]
    assert module_level == [["grader.other.e", "grader.sub.c"]]


def test_subpackages_importing_each_other_are_paired(tmp_path: Path) -> None:
    pkg = tool.read_package(make_checkout(tmp_path))
    assert tool.two_way_pairs(pkg.imports, {"sub/", "other/"}) == [("other/", "sub/", 1, 1)]


def test_parameters_leave_out_self_and_lines_count_decorators(tmp_path: Path) -> None:
    pkg = tool.read_package(make_checkout(tmp_path))
    functions = {f.name: f for f in pkg.functions}
    assert functions["grader.d:K.wide"].parameters == 7
    assert functions["grader.d:K.wide"].lines == 3
    assert functions["grader.d:K.method"].parameters == 4
    text = tool.report(tmp_path, 2)
    assert "1 of 3 functions take more than 6" in text
    assert "README.md: 2048 bytes (2.0 KiB)" in text
    assert "Import cycles, module-level imports only: 1" in text


def test_it_reads_this_checkout() -> None:
    text = tool.report(ROOT, 3)
    assert text.startswith("grader: ") and "Longest functions (lines):" in text
