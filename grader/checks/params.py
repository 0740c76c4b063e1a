"""Typed parameters of a check, read from the rubric and validated when the rubric loads.

Each check kind declares its parameters as a frozen dataclass. :func:`parse` turns a rubric's
``params`` table into an instance, checking every key (nested tables and lists of tables too)
against the field types, so a typo anywhere is reported with the file, the key and what was
expected before any notebook runs. Two markers say what a string names:

* :data:`Role`: a model role from the rubric's ``[models]`` table;
* :data:`Variable`: a notebook variable the kernel must report (see
  :func:`variables`).

A dataclass may define ``problem(self) -> str | None`` for rules across its fields (exactly
one of two options, say).
"""

from __future__ import annotations

import dataclasses
import types
import typing as t
from pathlib import Path

from grader.exceptions import RubricError


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ROLE = _Marker("role")
VARIABLE = _Marker("variable")
Role = t.Annotated[str, ROLE]
"""A model role from the rubric's ``[models]`` table."""
Variable = t.Annotated[str, VARIABLE]
"""A notebook variable the kernel summarises for the grader (arrays: shape, range, samples)."""

P = t.TypeVar("P")


def parse(cls: type[P], raw: t.Any, *, path: Path, key: str, roles: t.Collection[str]) -> P:
    """An instance of the params dataclass ``cls`` from a rubric's ``params`` table.

    Raises:
        RubricError: a key is unknown, missing or of the wrong type, names an unknown role, or
            the params' own ``problem()`` finds one.
    """
    return t.cast(P, _value(cls, raw, path, key, roles))


def variables(params: t.Any) -> list[str]:
    """Every :data:`Variable` named anywhere in ``params``, in order."""
    found: list[str] = []
    _walk(params, VARIABLE, found)
    return found


def roles(params: t.Any) -> list[str]:
    """Every :data:`Role` named anywhere in ``params``, in order."""
    found: list[str] = []
    _walk(params, ROLE, found)
    return found


def describe(cls: type) -> list[str]:
    """One line per parameter: ``name: type (default)``, for ``grader list``-style help."""
    hints = t.get_type_hints(cls, include_extras=True)
    lines = []
    for f in dataclasses.fields(cls):
        default = "" if _required(f) else f" = {_default(f)!r}"
        lines.append(f"{f.name}: {_type_name(hints[f.name])}{default}")
    return lines


def _walk(value: t.Any, marker: _Marker, found: list[str]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = t.get_type_hints(type(value), include_extras=True)
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if marker in _markers(hints[f.name]) and isinstance(item, str):
                found.append(item)
            elif marker in _markers(hints[f.name]) and isinstance(item, list):
                found.extend(x for x in item if isinstance(x, str))
            else:
                _walk(item, marker, found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, marker, found)


def _markers(tp: t.Any) -> list[t.Any]:
    if t.get_origin(tp) is t.Annotated:
        return list(tp.__metadata__)
    return [m for arg in t.get_args(tp) for m in _markers(arg)]


def _required(f: dataclasses.Field[t.Any]) -> bool:
    missing = dataclasses.MISSING
    return f.default is missing and f.default_factory is missing


def _default(f: dataclasses.Field[t.Any]) -> t.Any:
    if f.default is dataclasses.MISSING and callable(f.default_factory):
        return f.default_factory()
    return f.default


def _type_name(tp: t.Any) -> str:
    origin = t.get_origin(tp)
    if origin is t.Annotated:
        return f"{_type_name(t.get_args(tp)[0])} ({tp.__metadata__[0]!r})"
    if origin is list:
        return f"list of {_type_name(t.get_args(tp)[0])}"
    if origin in (t.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in t.get_args(tp))
    if origin is t.Literal:
        return " or ".join(repr(a) for a in t.get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _value(tp: t.Any, raw: t.Any, path: Path, key: str, roles: t.Collection[str]) -> t.Any:
    origin = t.get_origin(tp)
    if origin is t.Annotated:
        base = t.get_args(tp)[0]
        value = _value(base, raw, path, key, roles)
        if ROLE in tp.__metadata__ and value not in roles:
            raise RubricError.at(path, key, f"expected a role from [models] {sorted(roles)}")
        return value
    if origin in (t.Union, types.UnionType):
        for option in t.get_args(tp):
            try:
                return _value(option, raw, path, key, roles)
            except RubricError:
                continue
        raise RubricError.at(path, key, f"expected {_type_name(tp)}, got {raw!r}")
    if origin is list:
        if not isinstance(raw, list):
            raise RubricError.at(path, key, f"expected {_type_name(tp)}, got {raw!r}")
        (item,) = t.get_args(tp)
        return [_value(item, x, path, f"{key}[{i}]", roles) for i, x in enumerate(raw)]
    if origin is dict:
        # Free-form tables (an optimizer's hyper-parameters): string keys, typed values.
        if not isinstance(raw, dict):
            raise RubricError.at(path, key, f"expected a table, got {raw!r}")
        item = t.get_args(tp)[1]
        return {str(k): _value(item, v, path, f"{key}.{k}", roles) for k, v in raw.items()}
    if tp is t.Any:
        return raw
    if origin is t.Literal:
        if raw not in t.get_args(tp):
            raise RubricError.at(path, key, f"expected {_type_name(tp)}, got {raw!r}")
        return raw
    if dataclasses.is_dataclass(tp):
        return _dataclass(t.cast(type, tp), raw, path, key, roles)
    if tp is type(None):
        if raw is not None:
            raise RubricError.at(path, key, f"expected nothing, got {raw!r}")
        return None
    if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    # bool is an int in Python; a rubric saying `n_layers = true` is still a mistake.
    if not isinstance(raw, tp) or (isinstance(raw, bool) and tp is not bool):
        raise RubricError.at(path, key, f"expected {_type_name(tp)}, got {raw!r}")
    return raw


def _dataclass(cls: type, raw: t.Any, path: Path, key: str, roles: t.Collection[str]) -> t.Any:
    if not isinstance(raw, dict):
        raise RubricError.at(path, key, f"expected a table, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise RubricError.at(
            path, f"{key}.{unknown[0]}", f"unknown parameter; known: {sorted(fields)}"
        )
    hints = t.get_type_hints(cls, include_extras=True)
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _value(hints[name], raw[name], path, f"{key}.{name}", roles)
        elif _required(f):
            raise RubricError.at(path, f"{key}.{name}", "is required")
    instance = cls(**values)
    problem = getattr(instance, "problem", None)
    if problem is not None and (found := problem()):
        raise RubricError.at(path, key, found)
    return instance
