"""Everything a batch writes for the class as a whole, each file atomically."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from grader.batch.discover import RosterEntry
from grader.batch.entry import BatchEntry
from grader.export.canvas import canvas_csv
from grader.export.class_report import render_class_report
from grader.export.gradebook import gradebook_csv
from grader.results import write_atomic
from grader.review.similarity import LookalikePair


def write_class_outputs(
    entries: Sequence[BatchEntry],
    out: Path,
    *,
    title: str,
    budget: str,
    canvas_column: str,
    points_possible: float,
    roster: Mapping[str, RosterEntry] | None = None,
    lookalikes: Sequence[LookalikePair] = (),
) -> dict[str, Path]:
    """Write ``gradebook.csv``, ``canvas.csv`` and ``index.html`` into ``out``, each atomically.

    Returns:
        ``{"gradebook": path, "canvas": path, "report": path}``.
    """
    paths = {
        "gradebook": out / "gradebook.csv",
        "canvas": out / "canvas.csv",
        "report": out / "index.html",
    }
    write_atomic(paths["gradebook"], gradebook_csv(entries))
    write_atomic(
        paths["canvas"],
        canvas_csv(entries, column=canvas_column, points_possible=points_possible, roster=roster),
    )
    write_atomic(
        paths["report"],
        render_class_report(entries, title=title, budget=budget, lookalikes=lookalikes),
    )
    return paths
