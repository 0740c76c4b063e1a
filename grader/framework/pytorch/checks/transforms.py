"""The transform pipelines the notebook's DataLoaders really applied, in training and in test."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from grader.checks.base import CheckContext, Verdict, register
from grader.framework.pytorch.checks.common import torch_artefacts

if t.TYPE_CHECKING:
    from grader.framework.pytorch.judge.records import PassRecord


@dataclass(frozen=True)
class TorchTransformsParams:
    """The transforms the training and the test DataLoaders must (not) apply."""

    train_has: list[str] = field(default_factory=list)
    test_has: list[str] = field(default_factory=list)
    test_lacks: list[str] = field(default_factory=list)
    settings: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    """Transform type -> fields it must have (``{RandomCrop = {padding = [4]}}``)."""


@register("torch_transforms", TorchTransformsParams)
def check_torch_transforms(ctx: CheckContext, params: TorchTransformsParams) -> Verdict:
    """Every pass that trained a model read data through a transform pipeline holding each of
    ``train_has``; every pass over the test split held each of ``test_has`` and none of
    ``test_lacks``. ``settings`` gives fields a transform must have, by type
    (``{RandomCrop = {size = [32, 32], padding = [4]}}``).

    The pipelines are those of the data sets under the loaders when each pass began, as the
    kernel recorded them: a transform built but never given to the training data set does not
    count.
    """
    arts = torch_artefacts(ctx)
    settings = params.settings
    training = [p for p in arts.passes if p.training]
    testing = [p for p in arts.passes if p.split == "test" and not p.training and p.batches]
    problems: list[str] = []
    if params.train_has:
        if not training:
            problems.append("no pass over a DataLoader trained a model (no optimizer step)")
        problems += _pipelines(training, "training", params.train_has, (), settings)
    if params.test_has or params.test_lacks:
        if not testing:
            problems.append("no DataLoader over the test split was iterated without training")
        problems += _pipelines(testing, "test", params.test_has, params.test_lacks, settings)
    details = {
        "training": _distinct(training),
        "test": _distinct(testing),
    }
    if problems:
        return Verdict(False, "\n".join(f"- {p}" for p in problems), details)
    parts = []
    if params.train_has:
        parts.append(f"training data through {', '.join(params.train_has)}")
    if params.test_has:
        parts.append(f"test data through {', '.join(params.test_has)}")
    if params.test_lacks:
        parts.append(f"test data without {', '.join(params.test_lacks)}")
    return Verdict(True, "; ".join(parts), details)


def _distinct(passes: list[PassRecord]) -> list[list[str]]:
    seen: list[list[str]] = []
    for record in passes:
        shown = [_describe(e) for e in record.transform or []]
        if shown not in seen:
            seen.append(shown)
    return seen


def _describe(entry: dict[str, t.Any]) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "type")
    return f"{entry.get('type')}({fields})"


def _pipelines(
    passes: list[PassRecord],
    which: str,
    has: t.Sequence[str],
    lacks: t.Sequence[str],
    settings: dict[str, dict[str, t.Any]],
) -> list[str]:
    problems: list[str] = []
    for record in passes:
        if record.transform is None:
            problems.append(
                f"the {which} data ({record.dataset}) is not a torchvision data set with a "
                "transform; use the data set torchvision.datasets returns"
            )
            continue
        types = {entry.get("type"): entry for entry in record.transform}
        for name in has:
            if name not in types:
                problems.append(f"the {which} data is not transformed with {name}")
            elif (wrong := _wrong_settings(types[name], settings.get(name, {}))) is not None:
                problems.append(f"the {which} data's {name} has {wrong}")
        for name in lacks:
            if name in types:
                problems.append(
                    f"the {which} data is transformed with {name}; augmentation belongs to "
                    "training only"
                )
    # One line per finding, however many passes repeat it.
    return list(dict.fromkeys(problems))


def _wrong_settings(entry: dict[str, t.Any], wanted: dict[str, t.Any]) -> str | None:
    wrong = [
        f"{key}={entry.get(key)!r} (expected {value!r})"
        for key, value in wanted.items()
        if _collapse(entry.get(key)) != _collapse(value)
    ]
    return ", ".join(wrong) if wrong else None


def _collapse(value: t.Any) -> t.Any:
    """``4``, ``[4]`` and ``[4, 4]`` say the same; so do ``32`` and ``[32, 32]``."""
    values = value if isinstance(value, list | tuple) else [value]
    values = [round(float(v), 6) if isinstance(v, int | float) else v for v in values]
    return values[:1] if values and all(v == values[0] for v in values) else values
