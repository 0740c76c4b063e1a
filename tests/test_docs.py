"""The README and the documentation site: what ``mkdocs build --strict`` cannot check.

MkDocs (``make lint``) validates every link and anchor between the pages of docs/; the README
is not one of them, so its links into docs/ are checked here, with its size and its test
command (issue 26).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor MkDocs gives a heading (Python-Markdown's ``toc`` slugify).

    Example:
        >>> slug("Result schema (`result.json`)")
        'result-schema-resultjson'
    """
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings, fenced code left out."""
    found: set[str] = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            found.add(slug(heading.group(1)))
    return found


def test_the_readme_is_short() -> None:
    """The handbook lives in docs/; the README is the front page (at most 15 KB)."""
    assert README.stat().st_size <= 15 * 1024


@pytest.mark.parametrize(
    "target",
    sorted({m for m in LINK.findall(README.read_text(encoding="utf-8")) if "://" not in m}),
)
def test_every_readme_link_reaches_a_file_and_its_heading(target: str) -> None:
    path, _, anchor = target.partition("#")
    page = (ROOT / path) if path else README
    assert page.is_file(), target
    if anchor:
        assert anchor in anchors(page), target


def test_the_readme_runs_the_tests_as_ci_and_the_makefile_do() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\ntest:") :].split("\n\n", 1)[0]
    pytest_line = next(line.strip() for line in recipe.splitlines() if "pytest" in line)
    command = pytest_line.replace("$(BIN)/", ".venv/bin/")
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for page in (README, DOCS / "development.md"):
        text = " ".join(page.read_text(encoding="utf-8").split())
        assert "make test" in text, page
        assert command in text, (page, command)


def test_every_benchmark_script_is_on_the_benchmarks_page() -> None:
    """Each dated figure sits next to the script that measured it: no script goes unnamed."""
    page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        assert f"benchmarks/{script.name}" in page, script.name


def test_every_docs_page_is_in_the_navigation() -> None:
    """MkDocs warns (so fails, being strict) on a page left out; this says which, without it."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in sorted(DOCS.rglob("*.md")):
        assert f" {page.relative_to(DOCS).as_posix()}\n" in nav, page
