"""The names a batch's output folder gives its own files, which no submission folder may take.

Every submission is written to ``OUT/<student id>/``, beside the class's files. A student id
comes from a file name or an LMS username a student chose, so an id equal to one of these names
(``gradebook.csv.ipynb`` in a plain folder, a Blackboard user named ``batch.json``) would make
the class file a folder, or the folder a file, and stop the batch on every run. Such an id is
renamed ``student-<id>`` (:func:`grader.export.layout.safe_id`); the gradebooks key LMS rows by
the id the LMS wrote, which is kept.
"""

from __future__ import annotations

import re

GRADEBOOK = "gradebook.csv"
CANVAS = "canvas.csv"
CANVAS_FEEDBACK = "canvas_feedback.zip"
MOODLE = "moodle.csv"
BLACKBOARD = "blackboard.csv"
CLASS_REPORT = "index.html"
BATCH = "batch.json"
LOOKALIKES = "lookalikes.json"
REVIEW_DB = "review.sqlite"
STAGING = ".inputs"

CLASS_FILES = frozenset(
    {GRADEBOOK, CANVAS, CANVAS_FEEDBACK, MOODLE, BLACKBOARD, CLASS_REPORT, BATCH, LOOKALIKES}
)
"""The class's files written into ``OUT/``."""

RENAMED_PREFIX = "student-"

# Letters of any script stay (nbgrader and Blackboard ids may be names); separators, controls
# and punctuation go.
_UNSAFE = re.compile(r"[^\w.-]+")
# Output folders are named after ids; these names would mean something else there.
_RESERVED = {"", ".", ".."}


def is_reserved(name: str) -> bool:
    """Whether a folder named ``name`` in ``OUT/`` would clash with a file the batch writes
    there (compared without case: macOS and Windows file systems ignore it).

    >>> is_reserved("Gradebook.CSV"), is_reserved("review.sqlite-wal"), is_reserved("ada")
    (True, True, False)
    """
    lower = name.lower()
    # SQLite keeps `-wal`, `-shm` and `-journal` files beside the review database.
    return lower in CLASS_FILES or lower.startswith(REVIEW_DB) or lower == STAGING


def safe_id(text: str) -> str:
    """A file-name-safe version of a student id (keeps letters and digits of any script, ``.``,
    ``_``, ``-``); an id that names one of the class's own files gets ``student-`` before it
    (:func:`is_reserved`).

    >>> safe_id("gradebook.csv"), safe_id("a b/../c")
    ('student-gradebook.csv', 'a_b_.._c')
    """
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._")
    if cleaned in _RESERVED:
        return "submission"
    return RENAMED_PREFIX + cleaned if is_reserved(cleaned) else cleaned
