"""The in-notebook check: the live kernel's models, judged now by the production checks.

``kit.check()`` runs in the student's own kernel on the student's own machine: there is no
trust boundary to keep (the student judges their own work), so the models are read straight
from the kernel's variables instead of being saved, copied and loaded by a judge. Everything
else is the grader's: the rubric's roles pick the models (as :func:`grader.kernel.runtime.finish`
does), the data variables are summarised by the kernel runtime's own function, and each check
is the registered production check (:func:`grader.checks.base.run_check`) fed through
:class:`LiveArtefacts`, an :class:`~grader.artefacts.folder.Artefacts` whose models are the
live ones. The expected models come from the kit's public spec
(:class:`grader.rubric.kit.KitReference`), never from a reference package.

What needs the notebook re-run is left to :func:`full_check`: accuracy (the budgeted training)
and whatever a ``fit`` record proves (frozen weights unchanged by training, transferred
weights). The ``frozen`` check's trainable-flag part is judged live.
"""

from __future__ import annotations

import html
import inspect
import json
import os
import subprocess
import sys
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from grader.artefacts.folder import Artefacts, MissingInput, without_input
from grader.artefacts.records import layer_states, variables_from
from grader.checks.base import CheckContext, run_check
from grader.checks.frozen import reused_names
from grader.course import course_root, use_kit_around
from grader.data.secret import data_secret
from grader.exceptions import KitError
from grader.framework import framework_of
from grader.results import CheckResult

if t.TYPE_CHECKING:
    from grader.data.prepare import PreparedData
    from grader.data.sets import Dataset
    from grader.rubric import Assignment, CheckSpec

LIVE_KINDS = ("architecture", "compile", "data_split", "class_groups")
"""Check kinds judged live in full, by the production check."""

RERUN = "judged by kit.full_check(), which re-runs the notebook: {why}"
WHY_RERUN = {
    "accuracy": "it measures the trained model on held-out images",
    "weights_transferred": "it compares the weights when training began",
}

ICONS = {"pass": "✔", "fail": "✘", "error": "⚠"}


class LiveArtefacts(Artefacts):
    """The live kernel's models and variables, as the production checks read artefacts.

    Models are the kernel's own objects, for both ``final`` and ``trained`` (there is no
    record of training here); no ``fit`` was recorded.
    """

    def __init__(self, spec: Assignment, namespace: dict[str, t.Any]) -> None:
        import keras

        from grader.kernel.variables import summarise_variables

        models: dict[tuple[str, str], t.Any] = {}
        role_variables: dict[str, str] = {}
        compile_configs: dict[str, dict[str, t.Any] | None] = {}
        for role, names in spec.roles.items():
            for name in names:
                value = namespace.get(name)
                if isinstance(value, keras.Model):
                    models[(role, "final")] = models[(role, "trained")] = value
                    role_variables[role] = name
                    compile_configs[role] = value.get_compile_config() if value.compiled else None
                    break
        summaries, arrays = summarise_variables(namespace, spec.variables)
        variables, errors = variables_from(summaries, arrays)
        super().__init__(
            folder=Path(),
            fits=[],
            roles={role: id(models[(role, "final")]) for role in role_variables},
            role_variables=role_variables,
            role_errors={},
            variables=variables,
            variable_errors=errors,
            _models=models,
            _compile=compile_configs,
        )

    def _load_final(self, role: str) -> t.Any:
        if (role, "final") not in self._models:
            raise MissingInput(f"no {role} model found in the notebook")
        return self._models[(role, "final")]


@dataclass
class LiveReport:
    """The checks as judged now; shown as HTML in Jupyter and as text elsewhere."""

    assignment: str
    checks: list[CheckResult]
    seconds: float
    later: list[str] = field(default_factory=list)
    """Checks only a re-run can judge, each with why."""

    @property
    def score(self) -> float:
        return sum(c.score for c in self.checks)

    def __str__(self) -> str:
        lines = [f"{self.assignment}: checked now in {self.seconds:.2f} s"]
        for c in self.checks:
            lines.append(
                f"{ICONS[c.status]} {c.status:7} {c.id}: {c.title} ({c.score:g}/{c.max_score:g})"
            )
            lines += [f"    {line}" for line in c.message.splitlines() if line]
            if c.status == "fail" and c.hint:
                lines.append(f"    hint: {c.hint}")
        lines += [f"- {line}" for line in self.later]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = []
        for c in self.checks:
            hint = (
                f"<div><b>Hint:</b> {html.escape(c.hint)}</div>"
                if c.status == "fail" and c.hint
                else ""
            )
            rows.append(
                f'<tr class="{c.status}"><td>{ICONS[c.status]} {c.status}</td>'
                f"<td><code>{html.escape(c.id)}</code><br>{html.escape(c.title)}</td>"
                f"<td>{c.score:g}/{c.max_score:g}</td>"
                f'<td><pre style="white-space:pre-wrap;margin:0">{html.escape(c.message)}</pre>'
                f"{hint}</td></tr>"
            )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.later)
        return (
            f"<div><b>{html.escape(self.assignment)}</b>: checked now in {self.seconds:.2f} s"
            "<table><thead><tr><th>status</th><th>check</th><th>points</th><th>why</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table><ul>{notes}</ul></div>"
        )


_GIVEN: dict[tuple[str, int, str], Dataset] = {}


def _given(spec: Assignment) -> Dataset:
    """The data a notebook loads on this machine: real data in Keras' cache, else the kit's
    synthetic data (what the full self-check serves); cached for the kernel's life."""
    from grader.data import sets
    from grader.data.cache import cache_dir

    assert spec.kit is not None
    key = (spec.dataset, spec.seed, data_secret(spec.kit))
    if key not in _GIVEN:
        _GIVEN[key] = sets.load(
            spec.dataset, seed=spec.seed, secret=key[2], cache=cache_dir() / "data"
        )
    return _GIVEN[key]


def check(
    namespace: dict[str, t.Any] | None = None, *, assignment: str | None = None
) -> LiveReport:
    """Judge the live kernel's models now, with the production checks and the kit's spec.

    Args:
        namespace: the notebook's variables; the IPython kernel's (else the caller's globals)
            when None.
        assignment: the assignment id; the kit's only one, or the notebook folder's, when None.

    Returns:
        The checks, which Jupyter shows as a table (``print`` gives text).

    Raises:
        KitError: not inside a kit, or the assignment cannot be told.
    """
    started = time.perf_counter()
    if namespace is None:
        namespace = _caller_namespace()
    spec = _assignment(assignment)
    if not framework_of(spec).live_check:
        raise KitError(
            f"{spec.id} is a PyTorch assignment: kit.check() judges live Keras models only; "
            "save the notebook and run kit.full_check() (or `grader check <notebook>`)"
        )
    ds = _given(spec)
    from grader.data.sets import HeldOut

    ctx = CheckContext(
        LiveArtefacts(spec, namespace),
        spec,
        ds,
        HeldOut(x=ds.x_test[:0], y=ds.y_test[:0]),
        spec.plan("smoke"),
        {},
    )
    results, later = [], []
    for check_spec in spec.checks:
        result = judge_live(check_spec, ctx)
        if result is not None:
            results.append(result)
        else:
            why = WHY_RERUN.get(check_spec.kind, "it needs the notebook's training")
            later.append(f"{check_spec.id}: {RERUN.format(why=why)}")
    return LiveReport(spec.id, results, time.perf_counter() - started, later)


def judge_live(spec: CheckSpec, ctx: CheckContext) -> CheckResult | None:
    """One check as :func:`check` judges it (the production check, or what of it can be
    judged without a re-run); None for a check only a re-run can judge."""
    if spec.kind in LIVE_KINDS:
        return run_check(spec, ctx)
    if spec.kind == "frozen":
        return _frozen_flags(spec, ctx)
    return None


def _frozen_flags(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """The ``frozen`` check's trainable flags, by the same rule as the production check
    (:func:`grader.checks.frozen.check_frozen`): the same layer selection, and a model never
    trained is judged on its flags, the missing training left to the accuracy check."""
    params = spec.params
    try:
        model = ctx.artefacts.model(params.model)
        layers = without_input(layer_states(model))
        selection = params.selection(reused_names(ctx, params))
    except MissingInput as exc:
        return spec.result("fail", str(exc), {"missing": True})
    problems = selection.problems(layers)
    if problems:
        return spec.result("fail", "\n".join(f"- {p}" for p in problems))
    if not _trained(model):
        return spec.result(
            "pass",
            f"{params.describe()} frozen, the other layers trainable; the {params.model} model "
            "was never trained, so training could not confirm that the frozen weights stay "
            "unchanged (the accuracy check charges the missing training)",
        )
    return spec.result(
        "pass",
        f"{params.describe()} frozen; the other layers trainable (that training leaves "
        "them unchanged is judged by kit.full_check())",
    )


def _trained(model: t.Any) -> bool:
    """The model's optimizer has taken a step: ``fit`` ran on it in this kernel."""
    optimizer = getattr(model, "optimizer", None)
    try:
        return optimizer is not None and int(optimizer.iterations.numpy()) > 0
    except (AttributeError, TypeError, ValueError):
        return False


def run_in_process(spec: Assignment, budget: dict[str, t.Any], artefacts: Path) -> PreparedData:
    """Serve the kit's data and install the grader's kernel runtime in this process, as the
    grader's setup cell does in a kernel: a notebook's code run here afterwards is capped and
    recorded as it would be there (the benchmarks and the parity test run examples this way).

    Args:
        spec: a kit's assignment (``spec.kit`` set).
        budget: the runtime's budget table (``name`` and caps).
        artefacts: where the runtime writes its records and models.
    """
    from grader.data.prepare import prepare_data
    from grader.kernel import runtime

    if spec.kit is None:
        raise KitError(f"{spec.id}: not a student kit's assignment")
    data = prepare_data(
        spec.dataset,
        data_dir=None,
        seed=spec.seed,
        held_back=spec.held_back,
        secret=data_secret(spec.kit),
    )
    runtime.install(
        {
            "seed": spec.seed,
            "dataset": spec.dataset,
            "data_path": str(data.kernel_file),
            "data_note": data.visible.source,
            "budget": budget,
            "artefacts": str(artefacts),
            "roles": spec.roles,
            "variables": spec.variables,
            "pretrained": dict.fromkeys(spec.pretrained),
        }
    )
    return data


def _assignment(assignment: str | None) -> Assignment:
    from grader.rubric.load import available, load_assignment

    use_kit_around(Path.cwd())
    names = available()
    if assignment is None:
        here = Path.cwd().name
        if here in names:
            assignment = here
        elif len(names) == 1:
            assignment = names[0]
        else:
            raise KitError(f"which assignment? call kit.check(assignment=...) with one of {names}")
    spec = load_assignment(assignment)
    if spec.kit is None:
        raise KitError(
            f"{course_root()} is not a student kit: kit.check() judges with a kit's spec "
            "(build one with `grader kit build`)"
        )
    return spec


def _caller_namespace() -> dict[str, t.Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return t.cast(dict[str, t.Any], shell.user_ns)
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame and frame.f_back else None
    return dict(caller.f_globals) if caller else {}


def full_check(notebook: str | None = None, *, budget: str = "smoke", keep_warm: float = 0) -> str:
    """Re-run the saved notebook in a fresh, sandboxed kernel at ``budget`` (``grader check``).

    Says first how long it will take (the last full check of this notebook on this machine,
    else the kit's estimate), then prints the report's text; the HTML report is written beside
    the notebook. Save the notebook first: the saved file is what is run. With ``keep_warm``
    minutes, the next full check's kernel is prepared meanwhile and kept that long
    (``grader check --keep-warm``: about 1 GB of memory while it waits).

    Returns:
        The path of the HTML report.

    Raises:
        KitError: the notebook cannot be told, or the check failed to run.
    """
    path = _notebook(notebook)
    timings = _timings_file()
    known = json.loads(timings.read_text()) if timings.is_file() else {}
    last = known.get(str(path))
    estimate = f"about {last:.0f} s, as last time" if last else "20-40 s on a 2-core laptop"
    print(f"Re-running {path.name} at the {budget} budget: {estimate}.", flush=True)
    started = time.monotonic()
    warm = ["--keep-warm", f"{keep_warm:g}"] if keep_warm > 0 else []
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(path), "--budget", budget, *warm],
        capture_output=True,
        text=True,
    )
    print(done.stdout + done.stderr, flush=True)
    if done.returncode != 0:
        raise KitError(f"the full check did not run (exit code {done.returncode}); see above")
    known[str(path)] = time.monotonic() - started
    timings.parent.mkdir(parents=True, exist_ok=True)
    timings.write_text(json.dumps(known))
    return str(path.with_name(f"{path.stem}.report.html"))


def _timings_file() -> Path:
    from grader.data.cache import cache_dir

    return cache_dir() / "kit-full-check-seconds.json"


def _notebook(notebook: str | None) -> Path:
    if notebook is not None:
        return Path(notebook).resolve()
    # Jupyter Server tells the kernel its notebook's path.
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb") and Path(session).is_file():
        return Path(session).resolve()
    found = [p for p in Path.cwd().glob("*.ipynb") if not p.name.endswith(".report.ipynb")]
    if len(found) == 1:
        return found[0].resolve()
    raise KitError("which notebook? call kit.full_check('my_notebook.ipynb')")
