"""Which module each rubric role is judged on, taken when its cell ends or at the end of the
notebook (imported in the kernel).

A role's variables are a first guess; a module another role already took is never taken twice.
Without one (a model built inside ``main()``), the role's module is the first that trained on
the grader's training data and no other role took; a role never built is recorded as such. The
module taken is exported and described by :mod:`~grader.framework.pytorch.kernel.capture`.
"""

from __future__ import annotations

import typing as t

from grader.framework.pytorch.kernel import layout
from grader.framework.pytorch.kernel.capture import (
    artefact_folder,
    capture_module,
    find_module,
    write_once,
)

if t.TYPE_CHECKING:
    from grader.framework.pytorch.kernel.modules import ModuleRecord
    from grader.framework.pytorch.kernel.runtime import Runtime


def capture_remaining(runtime: Runtime, namespace: dict[str, t.Any]) -> None:
    """Take every role not taken after its cell, from the notebook's last state.

    A variable that several roles name (``model`` for the CNN and for its dropout variant)
    says nothing at the end of the notebook about which role it holds: those roles take
    the modules that trained, in the order they trained, before any variable.
    """
    for role in runtime.roles:
        if role in runtime.captured:
            continue
        anchor = runtime.capture.get(role)
        when = "end of notebook"
        if anchor is not None:
            when += f" (its cell {anchor!r} never ran)"
        shared = any(
            set(names) & set(runtime.roles.get(role, []))
            for other, names in runtime.roles.items()
            if other != role
        )
        capture_role(runtime, role, namespace, when, trained_first=shared)


def choose(
    runtime: Runtime, role: str, namespace: dict[str, t.Any], *, trained_first: bool = False
) -> tuple[t.Any, str, str]:
    """The module a role is judged on, the variable that held it (or ""), and how it was
    found; (None, "", why) when the notebook never built one (see the module docstring)."""
    taken = {
        rec["module"]
        for other, rec in runtime.captured.items()
        if other != role and isinstance(rec.get("module"), int)
    }
    names = runtime.roles.get(role, [])
    found = find_module(namespace, names)
    by_variable = None
    if found is not None:
        record = runtime.modules.record(namespace[found])
        if record.key not in taken:
            by_variable = (namespace[found], found, f"the variable `{found}`")
    if by_variable is not None and not trained_first:
        return by_variable
    why = (
        "roles sharing a variable are told apart by the order they trained"
        if by_variable is not None
        else f"no variable {' or '.join(f'`{n}`' for n in names)} held a module of its own"
    )
    for record, module in runtime.modules.trained():
        if record.key not in taken:
            return module, "", _trained_object(runtime, record, why)
    if by_variable is not None:
        return by_variable
    held = (
        f"`{found}` holds the module another role took"
        if found
        else (f"no variable {', '.join(f'`{n}`' for n in names)} holds a module")
    )
    return None, "", f"never built: {held}, and no other module trained on the training data"


def _trained_object(runtime: Runtime, record: ModuleRecord, why: str) -> str:
    count = record.trained_cell
    cell = runtime.cell_ids[count - 1] if 0 < count <= len(runtime.cell_ids) else ""
    where = f"cell {cell!r}" if cell else f"code cell {count}"
    return f"the {record.cls} object the {record.optimizer} optimizer trained in {where} ({why})"


def capture_role(
    runtime: Runtime,
    role: str,
    namespace: dict[str, t.Any],
    when: str,
    *,
    trained_first: bool = False,
) -> None:
    """Export and describe the module a role is judged on (:func:`choose`)."""
    runtime.captured[role] = {}
    module, variable, how = choose(runtime, role, namespace, trained_first=trained_first)
    if module is not None:
        runtime.captured[role] = {"module": runtime.modules.record(module).key}
    if runtime.artefacts is None:
        return
    folder = artefact_folder(runtime.artefacts)
    onnx_name, json_name = layout.model_files(role)
    if module is None:
        write_once(folder / json_name, {"role": role, "error": how})
        return
    runtime.modules.paused = True  # exporting and tracing call the module: not the notebook
    try:
        record = capture_module(
            module,
            folder,
            runtime.input_shape,
            record={
                "role": role,
                "variable": variable,
                "module": runtime.modules.record(module).key,
                "taken": how[:200],
                "when": when,
                "input_shape": list(runtime.input_shape),
                "optimizers": runtime.optimizers.of_module(module),
            },
            onnx_name=onnx_name,
            json_name=json_name,
        )
    finally:
        runtime.modules.paused = False
    runtime.captured[role] = record
    if not runtime.quiet:
        print(f"[grader] took {how} ({record['class']}) for the rubric's {role!r} ({when})")
