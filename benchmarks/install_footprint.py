"""Disk taken by what each install target brings: ``make demo`` against ``make install``.

    python benchmarks/install_footprint.py

Reads this checkout's ``pyproject.toml`` and, for each set of extras, walks the requirements'
closure (markers evaluated for this machine) through the distributions installed here, summing
the size of the files each one installed: what a fresh virtual environment would hold after
``pip install '.[EXTRAS]'``, measured without a download. Prints the largest distributions of
what ``make install`` adds to ``make demo``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# Before the extras split, make demo installed what make install does (Dask, Flask and
# TensorFlow were in the core, and both targets installed .[test,torch]).
TARGETS = {
    "make demo (.[tensorflow])": ("tensorflow",),
    "make install / make test, and make demo before (.[tensorflow,test,torch,dask,review])": (
        "tensorflow",
        "test",
        "torch",
        "dask",
        "review",
    ),
}


def closure(extras: tuple[str, ...]) -> dict[str, importlib.metadata.Distribution]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    roots = list(project["dependencies"])
    for extra in extras:
        roots += project["optional-dependencies"][extra]
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = [(Requirement(r), "") for r in roots]
    while pending:
        req, extra = pending.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            print(f"  (not installed here: {req.name})")
            continue
        found[name] = dist
        for text in dist.requires or []:
            inner = Requirement(text)
            pending += [(inner, "")] + [(inner, e) for e in req.extras]
    return found


def size(dist: importlib.metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        with contextlib.suppress(OSError):
            total += os.lstat(path).st_size
    return total


def main() -> None:
    sizes: dict[str, dict[str, int]] = {}
    for label, extras in TARGETS.items():
        dists = closure(extras)
        sizes[label] = {n: size(d) for n, d in dists.items()}
        print(f"{label}: {len(dists)} distributions, {sum(sizes[label].values()) / 1e9:.2f} GB")
    demo, full = sizes[next(iter(TARGETS))], sizes[list(TARGETS)[-1]]
    extra = {n: s for n, s in full.items() if n not in demo}
    print(f"make install adds {sum(extra.values()) / 1e9:.2f} GB to make demo, the largest:")
    for name, bytes_ in sorted(extra.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {name}: {bytes_ / 1e6:.0f} MB")
    cuda = sum(s for n, s in extra.items() if n.startswith("nvidia-"))
    triton = extra.get("triton", 0)
    print(f"  (nvidia-* together: {cuda / 1e9:.2f} GB; triton: {triton / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
