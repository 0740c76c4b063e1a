"""Read an assignment folder: ``assignment.toml`` into typed, validated dataclasses.

An assignment lives in ``assignments/<id>/`` with ``assignment.toml`` (the rubric), the
student and solution notebooks, and example ``submissions/``. Every malformed key is reported
with the file, the key and what was expected.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from grader.budget import BUDGET_NAMES, DEFAULT_BUDGETS, DEFAULT_TIMEOUTS, Budget, Timeouts
from grader.checks.base import REGISTRY
from grader.checks.params import parse as parse_params
from grader.checks.params import variables as params_variables
from grader.course import course_of, course_root, find_course, import_reference, package_dir
from grader.exceptions import InputError, RubricError, UnknownAssignmentError
from grader.results import CheckResult, CheckStatus
from grader.review.rubric import ManualItem, parse_manual
from grader.rubric_torch import TorchSpec, parse_torch
from grader.sandbox.limits import LIMIT_FIELDS, Limits

Visibility = t.Literal["visible", "after_due_date", "after_published", "hidden"]
"""Gradescope's visibility values of a test."""
VISIBILITIES: tuple[str, ...] = t.get_args(Visibility)


@dataclass(frozen=True)
class CheckSpec:
    """One rubric line: what is judged and what it is worth."""

    id: str
    """Stable id, e.g. ``transfer.frozen``; used in results, gradebooks and reports."""
    kind: str
    """Which check function judges it (see ``grader list-checks``)."""
    title: str
    points: float
    hint: str
    """Shown to the student when the check does not pass: what is wrong and where to look,
    never the solution's code (``grader validate`` and the tests hold hints to that)."""
    params: t.Any = None
    """The check kind's typed parameters (a frozen dataclass; see :mod:`grader.checks`)."""
    hidden: bool = False
    """Students see only its status and points: no message, hint or evidence."""
    visibility: Visibility = "visible"
    """A hidden check's Gradescope test: ``visible`` (at once, as status and points only, as
    every student view shows it), or its full message held back by Gradescope until
    ``after_due_date``, ``after_published`` (grades published), or ``hidden`` (never shown to
    students)."""
    fix: str = ""
    """The fix, code included, for instructors (the instructor view shows it; students never)."""

    def result(
        self,
        status: CheckStatus,
        message: str,
        details: dict[str, t.Any] | None = None,
    ) -> CheckResult:
        """This check's result: points for a pass, and for a ``not_judged`` check whose rubric
        awards them (``details["awarded"]``); title, hint and points from the rubric."""
        awarded = status == "not_judged" and bool((details or {}).get("awarded"))
        return CheckResult(
            id=self.id,
            title=self.title,
            status=status,
            score=self.points if status == "pass" or awarded else 0.0,
            max_score=self.points,
            message=message,
            hint=self.hint,
            details=details or {},
            hidden=self.hidden,
            fix=self.fix,
        )


@dataclass(frozen=True)
class Mutant:
    """An example submission with exactly one defect, and the checks that may charge it.

    ``grader validate --mutants`` grades it: it must fail every check in :attr:`charges` and
    pass every other check but those in :attr:`costs_accuracy` (one mistake costs once).
    """

    example: str
    """``submissions/<example>.ipynb``."""
    defect: str
    """The one defect, in words."""
    charges: tuple[str, ...]
    """The checks that name the defect: each must fail."""
    costs_accuracy: tuple[str, ...] = ()
    """Accuracy checks the defect may genuinely cost (they may fail, or pass)."""

    def problems(self, statuses: t.Mapping[str, str]) -> list[str]:
        """What the mutant's verdicts (check id -> status) break of the rule.

        Example:
            >>> m = Mutant("name_error", "no model", ("transfer.accuracy",))
            >>> m.problems({"transfer.accuracy": "fail", "transfer.frozen": "fail"})
            ['name_error: transfer.frozen fails too, but does not name the defect (no model)']
        """
        found = [
            f"{self.example}: {check} passes, but it names the defect ({self.defect})"
            for check in self.charges
            if statuses.get(check) == "pass"
        ]
        allowed = {*self.charges, *self.costs_accuracy}
        found += [
            f"{self.example}: {check} {'fails' if status == 'fail' else 'errs'} too, but does "
            f"not name the defect ({self.defect})"
            for check, status in statuses.items()
            if status != "pass" and check not in allowed
        ]
        return found


@dataclass(frozen=True)
class Assignment:
    """A parsed, validated ``assignment.toml``."""

    id: str
    title: str
    folder: Path
    reference: str
    """Importable module holding the reference implementation (ground truth)."""
    dataset: str
    seed: int
    student_notebook: Path
    solution_notebook: Path
    cell_timeout: float
    """Seconds one cell may run before it is interrupted, at the ``full`` budget (the ceiling
    at every budget; see :meth:`timeouts`)."""
    total_timeout: float
    """Seconds the whole notebook may run, at the ``full`` budget."""
    judge_timeout: float
    """Seconds the judge may take to load and measure the notebook's models."""
    held_back: int
    """Test images the kernel never receives; accuracy is measured on them."""
    roles: dict[str, list[str]]
    """Model role -> notebook variable names that may hold it, first found wins."""
    budgets: dict[str, Budget]
    relative_threshold: float
    """Accuracy must reach this fraction of the reference's at the same budget (moved where
    it would not separate correct from untrained notebooks: :mod:`grader.checks.thresholds`)."""
    course_targets: dict[str, float]
    """Absolute accuracy per role, enforced at ``full`` budget on real data."""
    checks: list[CheckSpec]
    pretrained: tuple[str, ...] = ()
    """``keras.applications`` whose ImageNet weights the exercise loads (see
    :mod:`grader.data.pretrained`); the reference's ``train`` receives them as ``weights``."""
    limits: Limits = field(default_factory=Limits)
    """Resource limits of the kernel (``[sandbox]``; ``grader grade`` options override them)."""
    sandbox_files: tuple[str, ...] = ()
    """Files of the assignment folder copied into the kernel's working folder (``[sandbox]
    files``); nothing else of the folder is visible to the kernel."""
    mutants: tuple[Mutant, ...] = ()
    """One-defect example submissions (``[[mutants]]``) that ``grader validate --mutants``
    grades: each loses exactly the points of the checks that name its defect."""
    budget_timeouts: dict[str, Timeouts] = field(default_factory=dict)
    """``[budgets.<name>]`` ``cell_timeout``/``total_timeout``: the rubric's own per budget."""
    confidence: float = 0.99
    """Each accuracy verdict (a correct notebook passes, an untrained one fails) holds with
    this probability (``[accuracy] confidence``)."""
    reference_runs: int = 1
    """Reference trainings (seeds ``seed``, ``seed + 1``, ...) calibration averages at the
    ``standard`` and ``full`` budgets, measuring their spread (``smoke`` trains once)."""
    assumed_spread: float = 0.03
    """The seed-to-seed spread of the reference's accuracy where one run cannot measure it."""
    kit: dict[str, t.Any] | None = None
    """A student kit's public spec (``[kit]``, written by :mod:`grader.kit.build`): expected
    architectures and pre-calibrated thresholds stand in for the reference, which a kit does
    not carry."""
    torch: TorchSpec | None = None
    """The ``[torch]`` table: the notebook is a PyTorch one (see :mod:`grader.rubric_torch`)."""
    manual: tuple[ManualItem, ...] = ()
    """Items a person grades (``[[manual]]``, see :mod:`grader.review.rubric`); their points
    are not in :attr:`max_score`, which counts the automatic checks only."""

    def reveals(self) -> dict[str, Visibility]:
        """Hidden check id -> its Gradescope visibility, for those not ``visible`` (see
        :attr:`CheckSpec.visibility`)."""
        return {c.id: c.visibility for c in self.checks if c.hidden and c.visibility != "visible"}

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def variables(self) -> list[str]:
        """Data variables the kernel must report (named by the checks' params)."""
        return [name for check in self.checks for name in params_variables(check.params)]

    def timeouts(self, budget: str) -> Timeouts:
        """The cell and notebook timeouts at ``budget``: the rubric's for that budget, else
        :data:`grader.budget.DEFAULT_TIMEOUTS`, never above the rubric's ``[execution]``."""
        ceiling = Timeouts(self.cell_timeout, self.total_timeout)
        own = self.budget_timeouts.get(budget) or DEFAULT_TIMEOUTS.get(budget)
        return own.within(ceiling) if own is not None else ceiling

    @property
    def course(self) -> Path:
        """The course folder this assignment belongs to (``<course>/assignments/<id>``)."""
        return course_of(self.folder)

    def reference_module(self) -> t.Any:
        """The reference module, imported from the course folder; for a student kit, the
        expected models its public spec describes (see :class:`grader.kit.spec.KitReference`).
        """
        if self.kit is not None:
            from grader.kit.spec import KitReference

            return KitReference(self.kit)
        return import_reference(self.reference, self.course)

    def reference_dir(self) -> Path | None:
        """The reference's top-level package folder in the course (None for a student kit)."""
        if self.kit is not None:
            return None
        folder = package_dir(self.reference, self.course)
        if folder is not None:
            return folder
        found = importlib.util.find_spec(self.reference.split(".")[0])
        if found is None or not found.submodule_search_locations:
            return None
        return Path(next(iter(found.submodule_search_locations)))

    def plan(self, budget: str) -> Budget:
        """The caps of the named budget.

        Raises:
            InputError: no such budget.
        """
        if budget not in BUDGET_NAMES or budget not in self.budgets:
            choices = ", ".join(BUDGET_NAMES)
            raise InputError(f"unknown budget {budget!r}; choose one of: {choices}")
        return self.budgets[budget]


def assignments_root() -> Path:
    """Where assignment folders live: the course folder's ``assignments/``.

    Raises:
        CourseError: no course folder is configured (see :mod:`grader.course`).
    """
    return course_root() / "assignments"


def available() -> list[str]:
    """Ids of the assignments found under :func:`assignments_root` (none without a course)."""
    course = find_course()
    if course is None:
        return []
    root = course / "assignments"
    return sorted(p.parent.name for p in root.glob("*/assignment.toml"))


def load_assignment(name_or_path: str | Path) -> Assignment:
    """Load an assignment by id (``cifar10_transfer``) or by folder / ``assignment.toml`` path.

    Example:
        >>> a = load_assignment("cifar10_transfer")
        >>> a.checks[0].id
        'data.split'
    """
    path = Path(name_or_path)
    if path.name == "assignment.toml" and path.is_file():
        toml_path = path
    elif (path / "assignment.toml").is_file():
        toml_path = path / "assignment.toml"
    elif (
        find_course() is not None
        and (assignments_root() / str(name_or_path) / "assignment.toml").is_file()
    ):
        toml_path = assignments_root() / str(name_or_path) / "assignment.toml"
    else:
        course_root()  # without a course folder, say that rather than "unknown assignment"
        raise UnknownAssignmentError(str(name_or_path), available())
    return parse_assignment(toml_path.read_text(encoding="utf-8"), toml_path)


def parse_assignment(text: str, path: Path, *, check_files: bool = True) -> Assignment:
    """Parse the text of an ``assignment.toml`` that lives (or lived) at ``path``.

    ``check_files=False`` skips checking that the files ``[sandbox] files`` names exist: the
    judge parses the rubric it is sent without seeing the assignment's folder.

    Raises:
        RubricError: the text is not valid TOML or not a valid rubric.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(path, f"not valid TOML ({exc})") from exc
    return _parse(raw, path, check_files=check_files)


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


def _parse(raw: dict[str, t.Any], path: Path, *, check_files: bool = True) -> Assignment:
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
