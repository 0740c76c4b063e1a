"""ImageNet weights without a network: the file Keras would download is served from
--weights-dir or Keras' cache, else the model starts from random weights, and says so.

The weights file is one this test writes itself, in Keras' no-top HDF5 layout."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from grader.data.pretrained import WEIGHT_FILES, find_weights, offline_weights
from grader.exceptions import InputError
from grader.kernel import runtime as kernel_runtime
from grader.kernel.applications import APPLICATIONS
from reference.vgg19_finetune import build_vgg19_finetune

FILENAME = WEIGHT_FILES["vgg19"]


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A VGG19 no-top weights file in the layout Keras downloads (legacy HDF5, by layer name)."""
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(7)
    model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path_factory.mktemp("weights") / FILENAME
    with h5py.File(path, "w") as fh:
        legacy_h5_format.save_weights_to_hdf5_group(fh, model)
    return path, model.get_weights()


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Keras tries to fetch anything; undo the kernel's patches afterwards."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"tried to download {args}")

    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "get_file", refuse)
    for name, module in list(sys.modules.items()):
        for function, _, _ in APPLICATIONS.values():
            if "applications" in name and hasattr(module, function):
                monkeypatch.setattr(module, function, getattr(module, function))


def test_weights_are_found_in_keras_cache_or_weights_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    missing = find_weights("vgg19")
    assert missing.path is None and missing.fingerprint == "random"
    assert "random weights" in missing.notice()
    cached = tmp_path / "home" / "models" / FILENAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    assert find_weights("vgg19").path == cached.resolve()
    assert find_weights("vgg19", tmp_path / "home" / "models").path == cached.resolve()
    with pytest.raises(InputError, match=f"no {FILENAME} there"):
        find_weights("vgg19", tmp_path)


def test_kernel_serves_the_weights_file_for_imagenet(
    weights_file: tuple[Path, list[np.ndarray]], no_download: None
) -> None:
    path, expected = weights_file
    kernel_runtime._serve_applications({"vgg19": str(path)}, {})
    from keras.applications import vgg19

    for build in (vgg19.VGG19, keras.applications.VGG19):
        model = build(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), expected, strict=True))


def test_without_weights_the_kernel_builds_random_weights_and_says_so(
    weights_file: tuple[Path, list[np.ndarray]],
    no_download: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, expected = weights_file
    kernel_runtime._serve_applications({"vgg19": None}, {})
    model = keras.applications.VGG19(include_top=False, input_shape=(32, 32, 3))  # imagenet default
    assert "no ImageNet weights on this machine" in capsys.readouterr().out
    assert not np.array_equal(model.get_weights()[0], expected[0])


def test_another_base_than_the_assignments_starts_random_and_names_what_is_asked_for(
    weights_file: tuple[Path, list[np.ndarray]],
    no_download: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 24.3: VGG16(weights="imagenet") tried a download and died, costing the checks of
    every cell after it."""
    path, _ = weights_file
    kernel_runtime._serve_applications({"vgg19": str(path)}, {})
    from keras.applications.vgg16 import VGG16

    for build in (VGG16, keras.applications.VGG16):
        model = build(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
        assert model.name == "vgg16"
    assert (
        "[grader] VGG16(weights='imagenet'): this assignment asks for VGG19; nothing is "
        "downloaded, so VGG16 starts from random weights" in capsys.readouterr().err
    )


def test_another_bases_weights_found_on_the_machine_are_served(
    tmp_path: Path, no_download: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(3)
    source = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / WEIGHT_FILES["vgg16"]
    with h5py.File(path, "w") as fh:
        legacy_h5_format.save_weights_to_hdf5_group(fh, source)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    assert offline_weights(["vgg19"], tmp_path) == [path.resolve()]
    assert offline_weights(["vgg16"], tmp_path) == []
    assert offline_weights(["vgg19"]) == []
    kernel_runtime._serve_applications({"vgg19": None}, {"vgg16": str(path)})
    model = keras.applications.VGG16(include_top=False, input_shape=(32, 32, 3))
    expected = source.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), expected, strict=True))


def test_the_reference_starts_from_the_same_weights(
    weights_file: tuple[Path, list[np.ndarray]],
) -> None:
    path, expected = weights_file
    model = build_vgg19_finetune(path)
    vgg = [
        w for layer in model.layers if layer.name.startswith("block") for w in layer.get_weights()
    ]
    assert all(np.array_equal(a, b) for a, b in zip(vgg, expected, strict=True))
    with pytest.raises(ValueError, match="received"):
        build_vgg19_finetune(path.parent / "missing.h5")
