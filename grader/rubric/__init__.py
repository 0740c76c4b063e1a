"""An assignment as typed, frozen dataclasses: what ``assignment.toml`` says, once checked.

An assignment lives in ``assignments/<id>/`` with ``assignment.toml`` (the rubric), the
student and solution notebooks, and example ``submissions/``. :mod:`grader.rubric.load` finds
and loads one; :mod:`grader.rubric.parse` reads its tables key by key, reporting every
malformed key with the file, the key and what was expected. Neither is imported here, so the
model and its readers import each other nowhere.
"""

from __future__ import annotations

import importlib
import importlib.util
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from grader.budget import BUDGET_NAMES, DEFAULT_TIMEOUTS, Budget, Timeouts
from grader.checks.params import variables as params_variables
from grader.course import course_of, import_reference, package_dir
from grader.exceptions import InputError
from grader.results import CheckResult, CheckStatus
from grader.rubric.manual import ManualItem
from grader.rubric.pytorch import TorchSpec
from grader.sandbox.limits import Limits

Visibility = t.Literal["visible", "after_due_date", "after_published", "hidden"]
"""Gradescope's visibility values of a test."""
VISIBILITIES: tuple[str, ...] = t.get_args(Visibility)


@dataclass(frozen=True)
class CheckSpec:
    """One rubric line: what is judged and what it is worth."""

    id: str
    """Stable id, e.g. ``transfer.frozen``; used in results, gradebooks and reports."""
    kind: str
    """Which check function judges it (``grader list`` shows them; the kinds are those of
    :data:`grader.checks.base.REGISTRY`)."""
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
    python: str | None = None
    """``[execution] python``: the interpreter the kernel runs (a course's environment, with
    ipykernel); None: the grader's own. Checked before any work (see
    :mod:`grader.execute.environment`)."""
    packages: tuple[str, ...] = ()
    """``[execution] packages``: distributions (pip names) the notebooks import, checked in
    the kernel's environment before any work."""
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
    """The ``[torch]`` table: the notebook is a PyTorch one (see :mod:`grader.rubric.pytorch`)."""
    manual: tuple[ManualItem, ...] = ()
    """Items a person grades (``[[manual]]``, see :mod:`grader.rubric.manual`); their points
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
        expected models its public spec describes (see :class:`grader.rubric.kit.KitReference`).
        """
        if self.kit is not None:
            from grader.rubric.kit import KitReference

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
