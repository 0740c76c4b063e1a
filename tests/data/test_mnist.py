"""The MNIST loader, on small files written here in Keras' official ``mnist.npz`` format, and
the synthetic digit-like fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.data import cifar10
from grader.data import sets as data
from grader.exceptions import DataError


def write_official_npz(path: Path, n_train: int = 30, n_test: int = 10) -> dict[str, np.ndarray]:
    """Write an ``mnist.npz`` laid out as the one Keras downloads: uint8 images, flat labels."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # numpy's stubs read ** as its allow_pickle keyword.
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return arrays


def test_data_dir_with_the_official_npz_is_read_as_keras_hands_it_out(tmp_path: Path) -> None:
    arrays = write_official_npz(tmp_path / "mnist.npz")
    ds = data.load("mnist", data_dir=tmp_path)
    assert ds.source == "real" and str(tmp_path) in ds.description
    # Flat labels, as keras.datasets.mnist.load_data returns them: `x[y < 5]` must work.
    assert ds.y_train.shape == (30,) and ds.x_train.shape == (30, 28, 28)
    for key in arrays:
        np.testing.assert_array_equal(getattr(ds, key), arrays[key])


def test_keras_cache_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_official_npz(tmp_path / "datasets" / "mnist.npz")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert data.load("mnist").source == "real"


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"x_train": np.zeros((3, 28, 28), np.uint8)}, "not Keras' official mnist.npz"),
        (
            {
                "x_train": np.zeros((3, 28, 28), np.uint8),
                "y_train": np.zeros((3, 1), np.uint8),
                "x_test": np.zeros((2, 28, 28), np.uint8),
                "y_test": np.zeros(2, np.uint8),
            },
            "expected x_train (n, 28, 28) and y_train (n,)",
        ),
        (
            {
                "x_train": np.zeros((3, 28, 28), np.float32),
                "y_train": np.zeros(3, np.uint8),
                "x_test": np.zeros((2, 28, 28), np.uint8),
                "y_test": np.zeros(2, np.uint8),
            },
            "expected uint8 images",
        ),
    ],
    ids=["missing-key", "labels-not-flat", "float-images"],
)
def test_a_malformed_npz_is_a_named_error(
    tmp_path: Path, arrays: dict[str, np.ndarray], expected: str
) -> None:
    np.savez(tmp_path / "mnist.npz", **arrays)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"mnist\.npz") as info:
        data.load("mnist", data_dir=tmp_path)
    assert expected in str(info.value)


def test_data_dir_without_mnist_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no mnist\.npz there"):
        data.load("mnist", data_dir=tmp_path)


def test_synthetic_digits_are_deterministic_balanced_and_mnist_shaped() -> None:
    a = data.synthetic("mnist", 3)
    b = data.synthetic("mnist", 3)
    assert a.source == "synthetic" and "MNIST" in a.description
    assert a.x_train.shape == (60_000, 28, 28) and a.x_train.dtype == np.uint8
    assert a.y_train.shape == (60_000,) and a.x_test.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(a.x_train[:500], b.x_train[:500])
    assert np.bincount(a.y_train).tolist() == [6000] * 10
    # Digits differ from one another: mean images of two classes are far apart.
    means = [a.x_train[a.y_train == d][:200].mean(axis=0) for d in (1, 8)]
    assert np.abs(means[0] - means[1]).mean() > 10


def test_synthetic_mnist_is_cached_under_its_own_name(tmp_path: Path) -> None:
    ds = data.load("mnist", seed=1, cache=tmp_path)
    assert len(list(tmp_path.glob(f"synthetic-mnist-v{cifar10.SYNTHETIC_VERSION}-1-*.npz"))) == 1
    again = data.load("mnist", seed=1, cache=tmp_path)
    assert again.class_names == ds.class_names and "MNIST" in again.description
    np.testing.assert_array_equal(again.y_test, ds.y_test)


def test_batch_cache_keys_see_real_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch grading's result cache names MNIST's npz, not a CIFAR folder it would not find."""
    from grader.batch.cache import _data_source

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    assert _data_source("mnist", None)["source"] == "synthetic"
    write_official_npz(tmp_path / "mnist.npz")
    real = _data_source("mnist", tmp_path)
    assert real["source"] == "real" and [f[0] for f in real["files"]] == ["mnist.npz"]
    assert data.find_real("mnist", tmp_path) == tmp_path / "mnist.npz"
