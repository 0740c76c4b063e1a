"""A class roster: a CSV that maps student ids to names and, for the Canvas gradebook, to SIS
ids and sections (a Canvas gradebook export works as it is)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from grader.exceptions import InputError
from grader.export.layout import safe_id


@dataclass(frozen=True)
class RosterEntry:
    """A student as the roster knows them; Canvas' gradebook needs every field."""

    id: str
    name: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


_ROSTER_ID = ("id", "student id", "student_id", "sid", "user id")
_ROSTER_NAME = ("name", "student", "student name")


def read_roster(path: Path) -> dict[str, RosterEntry]:
    """Read a roster CSV: a Canvas gradebook export, or any CSV with ``id`` and ``name`` columns.

    Column names are matched without regard to case. Canvas' ``Points Possible`` row and rows
    without an id are skipped.

    Raises:
        InputError: the file is missing or has no id column.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such roster file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        id_col = next((columns[c] for c in _ROSTER_ID if c in columns), None)
        if id_col is None:
            raise InputError(
                f"{path}: no id column; the roster needs one of: {', '.join(_ROSTER_ID)}"
            )
        name_col = next((columns[c] for c in _ROSTER_NAME if c in columns), None)

        def col(row: dict[str, str], key: str) -> str:
            return (row.get(columns.get(key, ""), "") or "").strip()

        roster: dict[str, RosterEntry] = {}
        for row in reader:
            sid = (row.get(id_col) or "").strip()
            name = (row.get(name_col) or "").strip() if name_col else ""
            if not sid or name.lower() == "points possible":
                continue
            roster[safe_id(sid)] = RosterEntry(
                id=sid,
                name=name,
                sis_user_id=col(row, "sis user id"),
                sis_login_id=col(row, "sis login id"),
                section=col(row, "section"),
            )
    return roster
