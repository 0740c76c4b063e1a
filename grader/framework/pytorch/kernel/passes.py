"""One pass over a ``DataLoader``, as the runtime records and caps it (imported in the kernel).

A pass's record is what a cell's ``torch/cell-<n>.json`` lists: which data, its transform
pipeline, batches and samples, optimizer steps, losses and the modules called during it. The
:class:`Pass` stands for the iterator ``iter(loader)`` returns: it yields at most the budget's
samples, and none when the budget is spent.
"""

from __future__ import annotations

import typing as t

from grader.framework.pytorch.kernel import values

if t.TYPE_CHECKING:
    from grader.framework.pytorch.kernel.runtime import Runtime


def new_record(index: int, loader: t.Any) -> dict[str, t.Any]:
    """The record of pass ``index`` over ``loader``, before it yields anything; ``source``
    (which data set, as trained-on data is told apart) is kept in the kernel, not written."""
    split, source = values.source(loader.dataset)
    base = values.base_dataset(loader.dataset)
    return {
        "index": index,
        "split": split,
        "dataset": type(base).__name__[:100],
        "transform": values.describe_transform(getattr(base, "transform", None)),
        "batch_size": loader.batch_size,
        "dataset_size": values.length(loader.dataset),
        "batches": 0,
        "samples": 0,
        "skipped": False,
        "steps": {},
        "loss_sum": 0.0,
        "loss_count": 0,
        "losses": [],
        "grad": None,
        "modules": [],
        "source": source,
    }


class Pass:
    """One pass over a DataLoader: yields at most ``limit`` samples, records what it yields.

    ``make_iterator`` None: the budget skipped the pass, which yields nothing.
    """

    def __init__(
        self,
        runtime: Runtime,
        record: dict[str, t.Any],
        make_iterator: t.Callable[[], t.Any] | None,
        limit: int | None,
    ) -> None:
        self.runtime = runtime
        self.record = record
        self.make_iterator = make_iterator
        self.inner: t.Any = None
        self.limit = limit

    def __iter__(self) -> Pass:
        return self

    def __getattr__(self, name: str) -> t.Any:
        # The student holds what iter(loader) returned: an error names that, not this class
        # (Python 2's it.next(), for one).
        inner = self.__dict__.get("inner")
        shown = type(inner).__name__ if inner is not None else "_SingleProcessDataLoaderIter"
        raise AttributeError(f"'{shown}' object has no attribute '{name}'")

    def __next__(self) -> t.Any:
        record = self.record
        if (
            self.make_iterator is None
            or record["skipped"]
            or (self.limit is not None and record["samples"] >= self.limit)
        ):
            self.inner = None  # lets a multi-process iterator shut its workers down
            if self.runtime.active is record:
                self.runtime.pass_open = False
            raise StopIteration
        if self.inner is None:
            self.inner = self.make_iterator()
        batch = next(self.inner)
        size = values.batch_size(batch)
        if self.limit is not None and size is not None and record["samples"] + size > self.limit:
            size = self.limit - record["samples"]
            batch = values.head(batch, size)
        if record["batches"] == 0:
            import torch

            record["grad"] = bool(torch.is_grad_enabled())
        record["batches"] += 1
        record["samples"] += size or 0
        self.runtime.active = record
        self.runtime.pass_open = True
        self.runtime.touched.add(record["index"])
        return batch
