"""The grader's own ``.npz`` files mapped instead of read: the same arrays as ``np.load``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.artefacts.arrays import mapped_arrays
from grader.data.sets import save_arrays


def test_an_npz_is_mapped_as_numpy_reads_it(tmp_path: Path) -> None:
    """Stored members mapped read-only, the same arrays as ``np.load``: images, labels, a
    Fortran-ordered and an empty array; a compressed file is read instead."""
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {
        "x_train": rng.integers(0, 256, (50, 32, 32, 3), dtype=np.uint8),
        "y_train": rng.integers(0, 10, (50, 1)).astype(np.int64),
        "fortran": np.asfortranarray(rng.random((7, 5))),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "scalar": np.array(3.5),
    }
    stored = tmp_path / "stored.npz"
    save_arrays(stored, **arrays)
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, **arrays)  # type: ignore[arg-type]
    for path in (stored, compressed):
        found = mapped_arrays(path)
        assert found.keys() == arrays.keys()
        for name, array in arrays.items():
            assert type(found[name]) is np.ndarray and found[name].dtype == array.dtype, name
            assert np.array_equal(found[name], array), name
    mapped = mapped_arrays(stored)
    assert isinstance(mapped["x_train"].base, np.memmap)  # mapped, not read
    assert not mapped["x_train"].flags.writeable
    assert mapped["fortran"].flags.f_contiguous
