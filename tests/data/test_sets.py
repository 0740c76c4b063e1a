"""The real-format CIFAR-10 loader, on small files written here in the official format, and the
synthetic fallback."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from grader.data import sets as data
from grader.exceptions import DataError


def write_official_batches(folder: Path, per_batch: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Write data_batch_1..5 and test_batch as the official python release does.

    Returns the channels-last training images and labels the loader should produce.
    """
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        chw = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        lab = [int(v) for v in rng.integers(0, 10, per_batch)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": lab,
            b"data": chw.reshape(per_batch, 3072),
            b"filenames": [b"x.png"] * per_batch,
        }
        # Protocol 2 and bytes keys: what the Python 2 pickles read back as with encoding="bytes".
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        if name != "test_batch":
            images.append(chw.transpose(0, 2, 3, 1))
            labels += lab
    return np.concatenate(images), np.array(labels)


def test_data_dir_with_official_batches_is_read_channels_last(tmp_path: Path) -> None:
    x, y = write_official_batches(tmp_path / "cifar-10-batches-py")
    for given in (tmp_path, tmp_path / "cifar-10-batches-py"):
        ds = data.load("cifar10", data_dir=given)
        assert ds.source == "real"
        assert ds.x_train.shape == (30, 32, 32, 3) and ds.x_train.dtype == np.uint8
        assert ds.y_train.shape == (30, 1)
        np.testing.assert_array_equal(ds.x_train, x)
        np.testing.assert_array_equal(ds.y_train.reshape(-1), y)
        assert ds.x_test.shape == (6, 32, 32, 3)


@pytest.mark.parametrize(
    "layout",
    ["cifar-10-batches-py", "cifar-10-batches-py-target/cifar-10-batches-py"],
    ids=["keras2-cache", "keras3-cache"],
)
def test_keras_cache_layouts_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    write_official_batches(tmp_path / "datasets" / layout)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    ds = data.load("cifar10")
    assert ds.source == "real" and str(tmp_path) in ds.description


def test_missing_batch_is_a_named_error(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_official_batches(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 is missing"):
        data.load("cifar10", data_dir=folder)


def test_data_dir_without_cifar_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no cifar-10-batches-py/test_batch"):
        data.load("cifar10", data_dir=tmp_path)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_a_pickle_carrying_code_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_official_batches(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Evil(), b"labels": []}))
    with pytest.raises(DataError, match="corrupted or malicious"):
        data.load("cifar10", data_dir=folder)


def test_synthetic_data_is_deterministic_balanced_and_cifar_shaped() -> None:
    a = data.synthetic("cifar10", 7, n_train=200, n_test=50)
    b = data.synthetic("cifar10", 7, n_train=200, n_test=50)
    c = data.synthetic("cifar10", 8, n_train=200, n_test=50)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.shape == (200, 32, 32, 3) and a.x_train.dtype == np.uint8
    assert a.y_train.shape == (200, 1)
    assert np.bincount(a.y_train.reshape(-1)).tolist() == [20] * 10
    assert a.source == "synthetic" and "synthetic" in a.description


def test_synthetic_data_is_cached_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    small = data.synthetic("cifar10", 3, n_train=100, n_test=20)
    monkeypatch.setattr(data, "synthetic", lambda *a, **kw: small)
    first = data.load("cifar10", seed=3, cache=tmp_path)
    monkeypatch.setattr(data, "synthetic", lambda *a, **kw: pytest.fail("regenerated"))
    second = data.load("cifar10", seed=3, cache=tmp_path)
    np.testing.assert_array_equal(first.x_train, second.x_train)


def test_the_secret_draws_the_synthetic_set_and_the_held_back_images() -> None:
    """A notebook knows the seed and the grader's source: without the secret it can neither
    draw the synthetic test images again nor tell which of them were held back."""
    ours = data.synthetic("cifar10", 1, "ours", n_train=50, n_test=40)
    guess = data.synthetic("cifar10", 1, "", n_train=50, n_test=40)
    assert not np.array_equal(ours.x_test, guess.x_test)
    again = data.synthetic("cifar10", 1, "ours", n_train=50, n_test=40)
    np.testing.assert_array_equal(ours.x_test, again.x_test)
    _, held = data.hold_out(ours, 20, seed=5, secret="ours")
    _, guessed = data.hold_out(ours, 20, seed=5, secret="")
    assert held.x.tobytes() != guessed.x.tobytes()


def test_holdout_is_disjoint_seeded_and_keeps_the_training_set_whole() -> None:
    ds = data.synthetic("cifar10", 1, n_train=100, n_test=40)
    visible, held = data.hold_out(ds, 15, seed=5)
    _, held_again = data.hold_out(ds, 15, seed=5)
    assert len(held.y) == 15 and len(visible.y_test) == 25
    assert visible.x_train is ds.x_train
    np.testing.assert_array_equal(held.x, held_again.x)
    given = {img.tobytes() for img in visible.x_test}
    assert not any(img.tobytes() in given for img in held.x)
    with pytest.raises(DataError):
        data.hold_out(ds, 40, seed=5)
