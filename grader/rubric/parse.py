"""``assignment.toml``'s tables read into an :class:`~grader.rubric.Assignment`: every key
typed and checked, unknown keys refused, every error naming the file and the key.

:func:`grader.rubric.load.parse_assignment` calls it; the dataclasses it builds are
:mod:`grader.rubric`'s.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

from grader.budget import BUDGET_NAMES, DEFAULT_BUDGETS, DEFAULT_TIMEOUTS, Budget, Timeouts
from grader.checks.base import REGISTRY
from grader.checks.params import parse as parse_params
from grader.exceptions import RubricError
from grader.rubric import VISIBILITIES, Assignment, CheckSpec, Mutant, Visibility
from grader.rubric.manual import parse_manual
from grader.rubric.pytorch import parse_torch
from grader.sandbox.limits import LIMIT_FIELDS, Limits


class _Reader:
    """Typed access to one TOML table that names the file and key on every error."""

    def __init__(self, path: Path, table: dict[str, t.Any], prefix: str) -> None:
        self.path, self.table, self.prefix = path, table, prefix
        self.used: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: t.Any = ...) -> t.Any:
        self.used.add(key)
        full = f"{self.prefix}.{key}" if self.prefix else key
        if key not in self.table:
            if default is ...:
                raise RubricError.at(self.path, full, "is required")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; a rubric saying `points = true` is still a mistake.
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise RubricError.at(self.path, full, f"expected {names}, got {value!r}")
        return value

    def sub(self, key: str, required: bool = True) -> _Reader:
        table = self.get(key, dict, ... if required else {})
        return _Reader(self.path, table, f"{self.prefix}.{key}" if self.prefix else key)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            where = self.prefix or "top level"
            raise RubricError.at(self.path, where, f"unknown key(s) {', '.join(unknown)}")


def parse_tables(raw: dict[str, t.Any], path: Path, *, check_files: bool = True) -> Assignment:
    """The rubric of ``path`` from its parsed TOML tables.

    Raises:
        RubricError: a key is missing, unknown, or not what it should be.
    """
    top = _Reader(path, raw, "")
    meta = top.sub("assignment")
    execution = top.sub("execution")
    data = top.sub("data")
    models = top.sub("models")
    accuracy = top.sub("accuracy")
    budgets, budget_timeouts = _budgets(top.sub("budgets", required=False))
    sandbox = top.sub("sandbox", required=False)
    torch_table = top.sub("torch", required=False)
    raw_checks = top.get("checks", list)
    raw_manual = top.get("manual", list, [])
    raw_mutants = top.get("mutants", list, [])
    kit = top.get("kit", dict, None)
    top.done()
    roles = {role: _str_list(models, role) for role in models.table}
    models.used.update(models.table)
    targets = accuracy.sub("course_target", required=False)
    folder = path.parent
    assignment = Assignment(
        id=meta.get("id", str),
        title=meta.get("title", str),
        folder=folder,
        reference=meta.get("reference", str),
        dataset=meta.get("dataset", str),
        seed=meta.get("seed", int),
        student_notebook=folder / meta.get("student_notebook", str, "student.ipynb"),
        solution_notebook=folder / meta.get("solution_notebook", str, "solution.ipynb"),
        cell_timeout=float(execution.get("cell_timeout", (int, float))),
        total_timeout=float(execution.get("total_timeout", (int, float))),
        judge_timeout=float(execution.get("judge_timeout", (int, float), 300)),
        python=_python(execution),
        packages=_packages(execution),
        held_back=data.get("held_back_test_images", int),
        roles=roles,
        budgets=budgets,
        relative_threshold=float(accuracy.get("relative_to_reference", (int, float))),
        confidence=_fraction(accuracy, "confidence", 0.99),
        reference_runs=_positive(accuracy, "reference_runs", 1),
        assumed_spread=_fraction(accuracy, "assumed_spread", 0.03),
        course_targets={k: float(targets.get(k, (int, float))) for k in targets.table},
        checks=(checks := _checks(raw_checks, path, roles)),
        pretrained=_pretrained(meta),
        budget_timeouts=budget_timeouts,
        mutants=_mutants(raw_mutants, path, checks),
        limits=_limits(sandbox),
        sandbox_files=_sandbox_files(sandbox, check_files=check_files),
        manual=tuple(parse_manual(raw_manual, path, [c.id for c in checks])),
        kit=kit,
        torch=parse_torch(torch_table, roles),
    )
    for reader in (meta, execution, data, accuracy, targets):
        reader.done()
    return assignment


def _visibility(value: str, hidden: bool, path: Path, index: int) -> Visibility:
    key = f"checks[{index}].visibility"
    if value not in VISIBILITIES:
        raise RubricError.at(path, key, f"must be one of {', '.join(VISIBILITIES)}, not {value!r}")
    if value != "visible" and not hidden:
        raise RubricError.at(path, key, "only a hidden check (hidden = true) is held back")
    return t.cast(Visibility, value)


def _budgets(table: _Reader) -> tuple[dict[str, Budget], dict[str, Timeouts]]:
    """The default budgets, with the rubric's ``[budgets.<name>]`` overrides, and the
    timeouts those tables set."""
    budgets = dict(DEFAULT_BUDGETS)
    timeouts: dict[str, Timeouts] = {}
    for name in table.table:
        if name not in BUDGET_NAMES:
            raise RubricError.at(
                table.path, f"budgets.{name}", f"budget must be one of {BUDGET_NAMES}"
            )
        b = table.sub(name)
        caps = ("max_epochs", "max_train_samples", "max_eval_samples")
        budgets[name] = Budget(name, **{k: b.get(k, int, getattr(budgets[name], k)) for k in caps})
        if "cell_timeout" in b.table or "total_timeout" in b.table:
            default = DEFAULT_TIMEOUTS.get(name) or Timeouts(float("inf"), float("inf"))
            cell = float(b.get("cell_timeout", (int, float), default.cell))
            total = float(b.get("total_timeout", (int, float), default.total))
            if cell <= 0 or total <= 0:
                raise RubricError.at(table.path, f"budgets.{name}", "timeouts must be positive")
            timeouts[name] = Timeouts(cell, total)
        b.done()
    return budgets, timeouts


def _checks(raw_checks: list[t.Any], path: Path, roles: dict[str, list[str]]) -> list[CheckSpec]:
    """Every ``[[checks]]`` table, its params parsed and validated by its kind."""
    checks: list[CheckSpec] = []
    for i, entry in enumerate(raw_checks):
        if not isinstance(entry, dict):
            raise RubricError.at(path, f"checks[{i}]", "expected a [[checks]] table")
        c = _Reader(path, entry, f"checks[{i}]")
        kind = c.get("kind", str)
        if kind not in REGISTRY:
            raise RubricError.at(
                path, f"checks[{i}].kind", f"unknown check kind {kind!r}; known: {sorted(REGISTRY)}"
            )
        params: t.Any = parse_params(
            REGISTRY[kind].params,
            c.get("params", dict, {}),
            path=path,
            key=f"checks[{i}].params",
            roles=roles,
        )
        checks.append(
            CheckSpec(
                id=c.get("id", str),
                kind=kind,
                title=c.get("title", str),
                points=float(c.get("points", (int, float))),
                hint=c.get("hint", str),
                params=params,
                hidden=(hidden := c.get("hidden", bool, False)),
                visibility=_visibility(c.get("visibility", str, "visible"), hidden, path, i),
                fix=c.get("fix", str, ""),
            )
        )
        c.done()
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise RubricError.at(path, "checks", f"duplicate check id(s) {', '.join(dupes)}")
    return checks


def _fraction(reader: _Reader, key: str, default: float) -> float:
    value = float(reader.get(key, (int, float), default))
    if not 0 <= value < 1:
        raise RubricError.at(reader.path, f"{reader.prefix}.{key}", "expected a number in [0, 1)")
    return value


def _positive(reader: _Reader, key: str, default: int) -> int:
    value = int(reader.get(key, int, default))
    if value < 1:
        raise RubricError.at(reader.path, f"{reader.prefix}.{key}", "expected at least 1")
    return value


def _mutants(raw: list[t.Any], path: Path, checks: list[CheckSpec]) -> tuple[Mutant, ...]:
    """Every ``[[mutants]]`` table; its checks must exist, ``costs_accuracy`` ones be accuracy."""
    kinds = {c.id: c.kind for c in checks}
    mutants = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise RubricError.at(path, f"mutants[{i}]", "expected a [[mutants]] table")
        m = _Reader(path, entry, f"mutants[{i}]")
        mutant = Mutant(
            example=m.get("example", str),
            defect=m.get("defect", str),
            charges=tuple(_ids(m, "charges", kinds, required=True)),
            costs_accuracy=tuple(_ids(m, "costs_accuracy", kinds, required=False)),
        )
        m.done()
        if any(kinds[c] != "accuracy" for c in mutant.costs_accuracy):
            raise RubricError.at(path, f"mutants[{i}].costs_accuracy", "expected accuracy checks")
        mutants.append(mutant)
    return tuple(mutants)


def _ids(m: _Reader, key: str, kinds: dict[str, str], *, required: bool) -> list[str]:
    ids = m.get(key, list, ... if required else [])
    for j, check in enumerate(ids):
        if check not in kinds:
            raise RubricError.at(m.path, f"{m.prefix}.{key}[{j}]", f"no check {check!r}")
    return list(ids)


def _limits(table: _Reader) -> Limits:
    """The kernel's limits: the defaults, with the rubric's ``[sandbox]`` values."""
    limits = Limits(**{k: table.get(k, int, getattr(Limits(), k)) for k in LIMIT_FIELDS})
    for key in LIMIT_FIELDS:
        if getattr(limits, key) <= 0:
            raise RubricError.at(table.path, f"sandbox.{key}", "expected a positive integer")
    return limits


def _sandbox_files(table: _Reader, *, check_files: bool) -> tuple[str, ...]:
    """The files of the assignment's folder the kernel gets (``[sandbox] files``)."""
    names = _str_list(table, "files") if "files" in table.table else []
    folder = table.path.parent
    for name in names:
        outside = Path(name).is_absolute() or ".." in Path(name).parts
        if outside or (check_files and not (folder / name).is_file()):
            raise RubricError.at(table.path, "sandbox.files", f"{name!r} is not a file of {folder}")
    table.used.add("files")
    table.done()
    return tuple(names)


def _python(execution: _Reader) -> str | None:
    """``[execution] python``: an absolute path, or one relative to the rubric's folder (its
    existence and environment are checked when grading starts, on the grading machine)."""
    value = execution.get("python", str, None)
    if value is None:
        return None
    if not value.strip():
        raise RubricError.at(execution.path, "execution.python", "a path to a Python interpreter")
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (execution.path.parent / path).absolute())


# A distribution's name as pip takes it (PEP 508), without a version or extras.
_DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def _packages(execution: _Reader) -> tuple[str, ...]:
    """``[execution] packages``: distribution names, e.g. ``["pandas", "scikit-learn"]``."""
    names = execution.get("packages", list, [])
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _DISTRIBUTION.match(name):
            raise RubricError.at(
                execution.path, f"execution.packages[{i}]", "a package name as pip takes it"
            )
    return tuple(names)


def _str_list(reader: _Reader, key: str) -> list[str]:
    value = reader.get(key, (list, str))
    values = [value] if isinstance(value, str) else value
    if not values or not all(isinstance(v, str) for v in values):
        raise RubricError.at(reader.path, f"{reader.prefix}.{key}", "expected variable names")
    return list(values)


def _pretrained(meta: _Reader) -> tuple[str, ...]:
    from grader.data.pretrained import WEIGHT_FILES

    names = meta.get("pretrained", list, [])
    for i, name in enumerate(names):
        if name not in WEIGHT_FILES:
            raise RubricError.at(
                meta.path,
                f"assignment.pretrained[{i}]",
                f"expected one of {sorted(WEIGHT_FILES)}, got {name!r}",
            )
    return tuple(names)
