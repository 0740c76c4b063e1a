"""What the judge refuses to load, read from the archive as data: no Keras needed to say no."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import keras
import pytest

from grader.artefacts.policy import ModelRefused, check_config, inspect_archive

MB = 2**20


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("models") / "ok.keras"
    model.save(path)
    return path


def config_of(path: Path) -> dict[str, object]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def rewrite(source: Path, target: Path, config: object) -> Path:
    """The same archive with another config.json, as a student could write it."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = json.dumps(config).encode() if item.filename == "config.json" else None
            new.writestr(item, data if data is not None else old.read(item))
    return target


def test_a_model_of_built_in_layers_is_accepted_with_its_compile_config(saved: Path) -> None:
    archive = inspect_archive(saved, max_bytes=100 * MB)
    assert archive.compile_config is not None
    assert archive.compile_config["loss"] == "categorical_crossentropy"


GADGET: dict[str, Any] = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {
        "name": "lambda",
        "function": {
            "module": "keras.visualization",
            "class_name": "function",
            "config": "plot_image_gallery",
            "registered_name": "function",
        },
        "arguments": {"path": "/work/templates/report.md.j2"},
    },
    "registered_name": None,
}


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda layers: layers.append(GADGET), "a Lambda layer"),
        (
            lambda layers: layers[-1]["config"].update(activation=GADGET["config"]["function"]),
            "function keras.visualization.plot_image_gallery",
        ),
        (
            lambda layers: layers.append({**GADGET, "class_name": "TFSMLayer"}),
            "keras.layers.TFSMLayer",
        ),
        (
            lambda layers: layers.append(
                {**GADGET, "class_name": "Dense", "registered_name": "mine>Dense"}
            ),
            "registered custom object",
        ),
        (
            lambda layers: layers.append({**GADGET, "module": "os", "class_name": "system"}),
            "os.system",
        ),
    ],
    ids=["lambda", "function-gadget", "saved-model-layer", "custom-object", "foreign-module"],
)
def test_code_in_a_config_is_refused_before_loading(
    saved: Path, tmp_path: Path, mutate: object, reason: str
) -> None:
    config = copy.deepcopy(config_of(saved))
    mutate(config["config"]["layers"])  # type: ignore[index, operator]
    with pytest.raises(ModelRefused, match=reason):
        inspect_archive(rewrite(saved, tmp_path / "evil.keras", config), max_bytes=100 * MB)


def test_run_eagerly_and_deep_nesting_are_refused(saved: Path) -> None:
    config = copy.deepcopy(config_of(saved))
    config["compile_config"]["run_eagerly"] = True  # type: ignore[index]
    with pytest.raises(ModelRefused, match="run_eagerly"):
        check_config(config)
    deep: object = {}
    for _ in range(100):
        deep = {"x": deep}
    with pytest.raises(ModelRefused, match="nests deeper"):
        check_config(deep)


def test_archives_that_are_not_models_or_too_large_are_refused(saved: Path, tmp_path: Path) -> None:
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ModelRefused, match="not a readable Keras model file"):
        inspect_archive(tmp_path / "text.keras", max_bytes=MB)
    with pytest.raises(ModelRefused, match="unpacks to"):
        inspect_archive(saved, max_bytes=1000)
    with zipfile.ZipFile(tmp_path / "bare.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ModelRefused, match="not a Keras 3 model file"):
        inspect_archive(tmp_path / "bare.keras", max_bytes=MB)


def test_a_function_is_judged_by_its_registered_name_too(saved: Path, tmp_path: Path) -> None:
    """Keras looks a function up by ``registered_name`` before its name: the policy checks both."""
    config = copy.deepcopy(config_of(saved))
    loss = {"module": "keras.losses", "class_name": "function"}
    config["compile_config"]["loss"] = {  # type: ignore[index]
        **loss,
        "config": "categorical_crossentropy",
        "registered_name": "mine>categorical_crossentropy",
    }
    with pytest.raises(ModelRefused, match="registered as 'mine>categorical_crossentropy'"):
        check_config(config)
    for registered in ({"a": 1}, ["function"], "plot_image_gallery"):
        config["compile_config"]["loss"]["registered_name"] = registered  # type: ignore[index]
        with pytest.raises(ModelRefused, match="registered as"):
            check_config(config)


def test_built_in_functions_passed_as_objects_are_accepted(tmp_path: Path) -> None:
    """``loss=keras.losses.categorical_crossentropy`` is saved as a ``builtins`` function."""
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(2, activation=keras.activations.softmax)]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.categorical_crossentropy,
        metrics=[keras.metrics.categorical_accuracy],
    )
    model.save(tmp_path / "functions.keras")
    archive = inspect_archive(tmp_path / "functions.keras", max_bytes=100 * MB)
    assert archive.compile_config is not None
    assert archive.compile_config["loss"]["registered_name"] == "function"
