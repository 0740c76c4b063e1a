"""The options several commands share, each declared once, with defaults from
:class:`~grader.options.GradeOptions`; a command's parameters gathered into one object."""

from __future__ import annotations

import dataclasses
import functools
import typing as t
from pathlib import Path

import click

from grader.budget import BUDGET_NAMES
from grader.sandbox.limits import Limits

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
T = t.TypeVar("T")


def options(*decorators: t.Callable[[F], F]) -> t.Callable[[F], F]:
    """Click's ``argument`` and ``option`` decorators as one, in the order written (the order
    of ``--help``), as if stacked above the command."""

    def apply(fn: F) -> F:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply


Command: t.TypeAlias = t.Callable[..., None]


def pass_as(gather: t.Callable[..., T]) -> t.Callable[[t.Callable[[T], None]], Command]:
    """A command that takes its parameters as one object: ``gather`` builds it, once, from
    the keyword arguments click passes (one per option and argument)."""

    def decorate(command: t.Callable[[T], None]) -> Command:
        @functools.wraps(command)
        def invoke(**params: t.Any) -> None:
            command(gather(**params))

        return invoke

    return decorate


LIMIT_OPTIONS = {
    # option: (Limits field, help)
    "memory_limit": ("memory_mb", "MiB of memory per kernel."),
    "cpu_limit": ("cpu_seconds", "CPU seconds per kernel."),
    "process_limit": ("processes", "Processes and threads per kernel."),
    "file_size_limit": ("file_size_mb", "MiB per file a kernel writes."),
    "open_files_limit": ("open_files", "Open files per kernel."),
    "output_limit": ("output_kb", "KiB of output kept per cell."),
    "notebook_output_limit": ("notebook_output_mb", "MiB of output kept for the whole notebook."),
    "tmpfs_limit": ("tmpfs_mb", "MiB of each of a kernel's /tmp, /var/tmp, /dev/shm."),
}
"""Every ``--*-limit`` option and the :class:`~grader.sandbox.limits.Limits` field it sets."""


data_options = options(
    click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Folder with real cifar-10-batches-py or mnist.npz "
        "[default: Keras' cache, else synthetic].",
    ),
    click.option(
        "--weights-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder with ImageNet weights files (e.g. "
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) "
        "[default: Keras' cache, else random weights].",
    ),
)
"""``--data-dir`` and ``--weights-dir``."""


def budget_option(default: str) -> t.Callable[[F], F]:
    return click.option(
        "--budget",
        type=click.Choice(BUDGET_NAMES),
        default=default,
        show_default=True,
        help="How much training each fit/evaluate/predict call may do.",
    )


def view_option(default: str) -> t.Callable[[F], F]:
    return click.option(
        "--view",
        type=click.Choice(["student", "instructor"]),
        default=default,
        show_default=True,
        help="Whom reports are for; students see hidden checks as status and points.",
    )


def limit_options(fn: F) -> F:
    for name, (_, help_text) in reversed(LIMIT_OPTIONS.items()):
        flag = "--" + name.replace("_", "-")
        fn = click.option(flag, name, type=click.IntRange(1), default=None, help=help_text)(fn)
    return fn


def limits_from(assignment: str, given: dict[str, int | None]) -> Limits | None:
    """The rubric's limits with the command line's overrides; None when none was given."""
    from grader.rubric.load import load_assignment

    overrides = {LIMIT_OPTIONS[k][0]: v for k, v in given.items() if v is not None}
    if not overrides:
        return None
    return dataclasses.replace(load_assignment(assignment).limits, **overrides)
