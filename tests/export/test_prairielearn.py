"""PrairieLearn's external grader results: score in [0, 1], tests[], SVG images as data URIs."""

from __future__ import annotations

import base64
import dataclasses
import json
import xml.etree.ElementTree as ET

from grader.export.prairielearn import prairielearn_results
from grader.results import FitRecord, GradeResult
from tests.export.test_exports import FROZEN_FAILS, PASSED, result

TOP_KEYS = {"gradable", "score", "message", "output", "images", "tests"}
TEST_KEYS = {"name", "description", "points", "max_points", "message", "output", "images"}
CONFUSION = {
    "rows": [0, 1],
    "columns": [0, 1],
    "names": {"0": "cat <script>", "1": "dog"},
    "counts": [[8, 2], [1, 9]],
}


def svg_of(url: str) -> ET.Element:
    prefix = "data:image/svg+xml;base64,"
    assert url.startswith(prefix)
    return ET.fromstring(base64.b64decode(url[len(prefix) :]))


def graded() -> GradeResult:
    base = result("ada", FROZEN_FAILS)
    checks = [dataclasses.replace(base.checks[0], details={"confusion": CONFUSION}), base.checks[1]]
    fit = FitRecord("transfer", 2, 2, 100, 100, {"loss": [1.0, 0.5], "val_loss": [1.2, 0.8]})
    return dataclasses.replace(base, checks=checks, fits=[fit], reference_fits=[fit])


def test_results_follow_the_external_grader_format_with_images() -> None:
    data = prairielearn_results(graded())
    assert set(data) == TOP_KEYS and data["gradable"] is True
    assert data["score"] == 0.4  # 10 of 25 points
    assert all(set(test) == TEST_KEYS for test in data["tests"])
    first, second = data["tests"]
    assert (first["points"], first["max_points"]) == (10.0, 10.0)
    assert second["points"] == 0.0 and "Hint: fix transfer.frozen" in second["message"]
    (matrix,) = first["images"]
    svg = svg_of(matrix["url"])  # well-formed, namespaced: it renders in an <img>
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    text = base64.b64decode(matrix["url"].split(",", 1)[1]).decode()
    assert "cat &lt;script&gt;" in text and "<script" not in text
    assert [i["label"] for i in data["images"]] == ["Fit 1 (transfer): loss"]
    svg_of(data["images"][0]["url"])
    json.dumps(data)


def test_ungradable_and_hidden() -> None:
    failed = prairielearn_results(result("x", PASSED), failure="not a notebook")
    assert failed["gradable"] is False and failed["score"] == 0.0
    assert failed["message"] == "Not graded: not a notebook"
    base = graded()
    hidden = dataclasses.replace(
        base, checks=[dataclasses.replace(c, hidden=True) for c in base.checks]
    )
    data = prairielearn_results(hidden)
    assert all(test["images"] == [] for test in data["tests"])  # no evidence of hidden checks
    assert "went wrong" not in json.dumps(data["tests"])
