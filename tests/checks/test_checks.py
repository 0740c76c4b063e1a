"""Each check on small models and arrays built here: no notebook, no kernel."""

from __future__ import annotations

import dataclasses
import json
import shutil
import typing as t
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from grader.artefacts.folder import Artefacts
from grader.artefacts.records import FitCapture, LayerState, VariableSummary, layer_states
from grader.budget import DEFAULT_BUDGETS
from grader.checks import architecture
from grader.checks.accuracy import confusion_matrix, evaluate_accuracy
from grader.checks.architecture import align, diff, signatures
from grader.checks.base import CheckContext, run_check
from grader.data.sets import HeldOut, synthetic
from grader.kernel import layout
from grader.rubric import Assignment, CheckSpec
from grader.rubric.load import load_assignment
from reference import cifar10_transfer as ref

ASSIGNMENT = load_assignment("cifar10_transfer")
CHECKS = {c.id: c for c in ASSIGNMENT.checks}
TRUTH = synthetic("cifar10", 0, n_train=400, n_test=100)
HELD = HeldOut(TRUTH.x_test, TRUTH.y_test.reshape(-1))


def base_cnn(
    kernel: int = 4,
    dense: int = 256,
    extra: list[layers.Layer] | None = None,
    drop_last: bool = False,
) -> keras.Model:
    stack: list[layers.Layer] = [
        keras.Input((32, 32, 3)),
        layers.Conv2D(32, (4, 4), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (kernel, kernel), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        *(extra or []),
        layers.Dense(dense, activation="relu"),
        layers.Dense(5, activation="softmax"),
    ]
    model = keras.Sequential(stack[:-1] if drop_last else stack)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def states(model: keras.Model) -> tuple[LayerState, ...]:
    return tuple(layer_states(model))


def train(model: keras.Model, width: int, index: int) -> FitCapture:
    """One recorded fit on a few random images, as the kernel would record it."""
    before = states(model)
    x = np.random.default_rng(index).random((8, 32, 32, 3), dtype=np.float32)
    y = keras.utils.to_categorical(np.arange(8) % width, width)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    after = states(model)
    return FitCapture(index, id(model), 1, 1, 8, 8, {"loss": [1.0]}, after, before, after)


def artefacts(
    tmp_path: Path,
    models: dict[str, keras.Model],
    fits: list[FitCapture] = (),  # type: ignore[assignment]
    variables: dict[str, VariableSummary] | None = None,
) -> Artefacts:
    """The artefacts a kernel leaves for these models as they are now: their final saves, and
    the checkpoint taken after the cell that built them (the same weights: nothing trained
    them unrecorded), with ``fits`` as recorded."""
    (tmp_path / "models").mkdir(parents=True, exist_ok=True)
    (tmp_path / layout.CHECKPOINTS).mkdir(exist_ok=True)
    for role, model in models.items():
        model.save(tmp_path / layout.model_file(role))
        shutil.copyfile(
            tmp_path / layout.model_file(role),
            tmp_path / layout.checkpoint_file(0, layout.model_file(role)),
        )
    roles = {role: id(model) for role, model in models.items()}
    table = {role: {"variable": role, "model_id": model_id} for role, model_id in roles.items()}
    (tmp_path / layout.checkpoint_file(0, layout.ROLES)).write_text(json.dumps(table))
    return Artefacts(tmp_path, list(fits), roles, {r: r for r in roles}, {}, variables or {}, {})


def judge(
    check_id: str,
    art: Artefacts,
    *,
    reference: dict[str, float] | None = None,
    assignment: Assignment = ASSIGNMENT,
    budget: str = "smoke",
    truth: t.Any = TRUTH,
) -> t.Any:
    ctx = CheckContext(
        art,
        assignment,
        truth,
        HELD,
        DEFAULT_BUDGETS[budget],
        reference or {"base.accuracy": 0.5, "transfer.accuracy": 0.5},
    )
    return run_check(CHECKS[check_id], ctx)


# --- architecture -----------------------------------------------------------------------------


def test_reference_architecture_passes(tmp_path: Path) -> None:
    result = judge("base.architecture", artefacts(tmp_path, {"base": base_cnn()}))
    assert result.status == "pass" and result.score == 20
    assert len(result.details["expected"]) == 7


def test_wrong_kernel_size_names_the_field_and_its_consequences(tmp_path: Path) -> None:
    result = judge("base.architecture", artefacts(tmp_path, {"base": base_cnn(kernel=3)}))
    assert result.status == "fail" and result.score == 0
    assert "layer 3 (conv2d" in result.message
    assert "kernel_size is 3x3, expected 4x4" in result.message
    assert "parameters is 9248, expected 16416" in result.message


def test_missing_and_extra_layers_are_named_not_zipped_away() -> None:
    expected = signatures(ref.build_base_cnn())
    shorter = diff(expected, signatures(base_cnn(drop_last=True)))
    assert any(p.startswith("missing layer 7: Dense(units=5, activation=softmax)") for p in shorter)
    longer = diff(expected, signatures(base_cnn(extra=[layers.Dropout(0.5)])))
    assert any(p.startswith("extra layer 6") and "Dropout(rate=0.5)" in p for p in longer)
    assert len(longer) == 1, longer  # the Dense layers after the extra one still line up


def test_comparison_pairs_layers_side_by_side_with_the_differing_fields(tmp_path: Path) -> None:
    result = judge("base.architecture", artefacts(tmp_path, {"base": base_cnn(kernel=3)}))
    rows = result.details["comparison"]
    assert [r["op"] for r in rows] == [
        "same",
        "same",
        "changed",
        "changed",
        "changed",
        "changed",
        "same",
    ]
    conv = rows[2]
    assert conv["position"] == 3 and conv["expected"]["config"]["kernel_size"] == "4x4"
    assert conv["actual"]["config"]["kernel_size"] == "3x3"
    assert conv["differing"] == ["kernel_size", "output_shape", "params"]
    assert conv["actual"]["output_shape"] == "(None, 12, 12, 32)"
    counts = result.details["parameters"]
    assert counts["expected"] == {"trainable": 224_325, "non_trainable": 0}
    assert counts["actual"]["trainable"] != counts["expected"]["trainable"]


def test_alignment_shows_missing_and_extra_layers_as_such() -> None:
    expected = signatures(ref.build_base_cnn())
    shorter = align(expected, signatures(base_cnn(drop_last=True)))
    assert [p.op for p in shorter][-1] == "missing" and shorter[-1].actual is None
    longer = align(expected, signatures(base_cnn(extra=[layers.Dropout(0.5)])))
    assert [p.op for p in longer] == ["same"] * 5 + ["extra"] + ["same"] * 2
    assert longer[5].expected is None and longer[5].position == 6


def test_comparison_flags_trainable_differences_without_failing_the_architecture(
    tmp_path: Path,
) -> None:
    base = base_cnn()
    transfer = ref.build_transfer_model(base)
    for layer in transfer.layers:
        layer.trainable = True
    result = judge(
        "transfer.architecture", artefacts(tmp_path, {"base": base, "transfer": transfer})
    )
    assert result.status == "pass"  # trainable flags are the frozen check's business
    rows = result.details["comparison"]
    assert [r["trainable_differs"] for r in rows] == [True] * 5 + [False] * 2
    counts = result.details["parameters"]
    assert counts["expected"]["non_trainable"] == 17_984 and counts["actual"]["non_trainable"] == 0


def test_wrong_dense_width(tmp_path: Path) -> None:
    result = judge("base.architecture", artefacts(tmp_path, {"base": base_cnn(dense=128)}))
    assert "units is 128, expected 256" in result.message


def test_transfer_architecture_is_judged_on_the_students_own_base(tmp_path: Path) -> None:
    base = base_cnn(kernel=3)
    transfer = ref.build_transfer_model(base)
    art = artefacts(tmp_path, {"base": base, "transfer": transfer})
    assert judge("transfer.architecture", art).status == "pass"
    assert judge("base.architecture", art).status == "fail"


# --- compile ----------------------------------------------------------------------------------


def test_compile_mismatch_is_named(tmp_path: Path) -> None:
    model = base_cnn()
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    result = judge("base.compile", artefacts(tmp_path, {"base": model}))
    assert result.status == "fail"
    assert "loss is mean_squared_error, expected categorical_crossentropy" in result.message
    assert "optimizer" not in result.message  # the exercise (seed 000) names none
    assert judge("base.compile", artefacts(tmp_path / "ok", {"base": base_cnn()})).status == "pass"


def test_the_optimizer_is_judged_only_where_the_exercise_prescribes_it(tmp_path: Path) -> None:
    model = base_cnn()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    art = artefacts(tmp_path, {"base": model})
    free = judge("base.compile", art)
    assert free.status == "pass" and "the optimizer, sgd, is the student's choice" in free.message
    # cifar10_transfer_v2's notebook says "Compile it with Adam": there it is a requirement.
    v2 = load_assignment("cifar10_transfer_v2")
    spec = next(c for c in v2.checks if c.id == "base.compile")
    assert spec.params.optimizer_prescribed
    ctx = CheckContext(art, v2, TRUTH, HELD, DEFAULT_BUDGETS["smoke"], {})
    prescribed = run_check(spec, ctx)
    assert prescribed.status == "fail" and "optimizer is sgd, expected adam" in prescribed.message


def test_a_roles_architecture_and_compile_checks_build_the_reference_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    reference = ASSIGNMENT.reference_module()
    for name in ("build_base_cnn", "build_transfer_model"):
        original = getattr(reference, name)

        def counted(*args: t.Any, _name: str = name, _original: t.Any = original) -> t.Any:
            built.append(_name)
            return _original(*args)

        monkeypatch.setattr(reference, name, counted)
    art = _transfer_setup(tmp_path)
    ctx = CheckContext(art, ASSIGNMENT, TRUTH, HELD, DEFAULT_BUDGETS["smoke"], {})
    ids = ("base.architecture", "base.compile", "transfer.architecture")
    statuses = {i: run_check(CHECKS[i], ctx).status for i in ids}
    assert statuses == dict.fromkeys(ids, "pass")
    assert sorted(built) == ["build_base_cnn", "build_transfer_model"]


# --- frozen and transferred -------------------------------------------------------------------


def _transfer_setup(tmp_path: Path, *, freeze: bool = True, reuse: bool = True) -> Artefacts:
    base = base_cnn()
    fits = [train(base, 5, 0)]
    if reuse:
        transfer = keras.Sequential(
            [
                keras.Input((32, 32, 3)),
                *base.layers[:5],
                layers.Dense(128, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ]
        )
    else:
        transfer = ref.build_transfer_model(base_cnn())  # same shapes, fresh weights
    for layer in transfer.layers[:5]:
        layer.trainable = not freeze
    transfer.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    fits.append(train(transfer, 10, 1))
    return artefacts(tmp_path, {"base": base, "transfer": transfer}, fits)


def test_frozen_and_transferred_pass_for_the_course_solution(tmp_path: Path) -> None:
    art = _transfer_setup(tmp_path)
    assert judge("transfer.frozen", art).status == "pass"
    assert judge("transfer.weights_transferred", art).status == "pass"


def test_unfrozen_layers_fail_frozen_with_each_layer_named(tmp_path: Path) -> None:
    art = _transfer_setup(tmp_path, freeze=False)
    result = judge("transfer.frozen", art)
    assert result.status == "fail"
    for i in range(1, 6):
        assert f"layer {i} (" in result.message
    assert "changed during training" in result.message
    assert judge("transfer.weights_transferred", art).status == "pass"


def test_a_transfer_model_reusing_too_few_layers_is_charged_by_architecture_only(
    tmp_path: Path,
) -> None:
    """Three reused layers where five are asked (the second pooling layer is missing): the
    layers it reused are frozen and carry the trained weights, so frozen and
    weights_transferred pass; the architecture check charges the missing layer."""
    base = base_cnn()
    fits = [train(base, 5, 0)]
    transfer = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            *base.layers[:3],
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    for layer in transfer.layers[:3]:
        layer.trainable = False
    transfer.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    fits.append(train(transfer, 10, 1))
    art = artefacts(tmp_path, {"base": base, "transfer": transfer}, fits)
    assert judge("transfer.frozen", art).status == "pass"
    assert judge("transfer.weights_transferred", art).status == "pass"
    assert judge("transfer.architecture", art).status == "fail"


def test_recreated_layers_fail_weights_transferred_only(tmp_path: Path) -> None:
    art = _transfer_setup(tmp_path, reuse=False)
    result = judge("transfer.weights_transferred", art)
    assert result.status == "fail" and "did not hold the trained base weights" in result.message
    assert judge("transfer.frozen", art).status == "pass"


def test_a_transfer_model_never_trained_is_judged_on_its_flags(tmp_path: Path) -> None:
    """One mistake costs once: the missing training is transfer.accuracy's to charge."""
    base = base_cnn()
    transfer = ref.build_transfer_model(base)
    art = artefacts(tmp_path, {"base": base, "transfer": transfer}, [train(base, 5, 0)])
    result = judge("transfer.frozen", art)
    assert result.status == "pass" and "never trained" in result.message
    assert "could not confirm" in result.details["unconfirmed"]
    for layer in transfer.layers[:5]:  # the flags it can see are still judged
        layer.trainable = True
    wrong = judge(
        "transfer.frozen", artefacts(tmp_path / "b", {"base": base, "transfer": transfer})
    )
    assert wrong.status == "fail" and "layer 1 (" in wrong.message
    # Without a fit, the saved models are compared: the layers are shared, so weights match.
    assert judge("transfer.weights_transferred", art).status == "pass"


# --- accuracy ---------------------------------------------------------------------------------


class Oracle:
    """Predicts the true label for a fixed fraction of the images."""

    def __init__(self, labels: np.ndarray, right: int, width: int) -> None:
        self.labels, self.right, self.width = labels, right, width

    def predict(self, x: np.ndarray, **_: t.Any) -> np.ndarray:
        guess = self.labels[: len(x)].copy()
        guess[self.right :] = (guess[self.right :] + 1) % self.width
        return keras.utils.to_categorical(guess, self.width)


def test_evaluate_accuracy_selects_classes_and_offsets_labels() -> None:
    labels = HELD.y[np.isin(HELD.y, [5, 6, 7, 8, 9])]
    acc = evaluate_accuracy(Oracle(labels - 5, 30, 5), HELD, [5, 6, 7, 8, 9], label_offset=5)
    assert acc == pytest.approx(30 / len(labels))


LARGE = synthetic("cifar10", 1, n_train=10, n_test=2000)
LARGE_HELD = HeldOut(LARGE.x_test, LARGE.y_test.reshape(-1))


def judge_on(held: HeldOut, check_id: str, art: Artefacts, figures: dict[str, float]) -> t.Any:
    ctx = CheckContext(art, ASSIGNMENT, TRUTH, held, DEFAULT_BUDGETS["smoke"], figures)
    return run_check(CHECKS[check_id], ctx)


def test_accuracy_threshold_is_relative_to_the_reference(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    labels = LARGE_HELD.y[np.isin(LARGE_HELD.y, [0, 1, 2, 3, 4])][:1000]
    right = int(0.6 * len(labels))
    art = artefacts(tmp_path, {})
    model = Oracle(labels, right, 5)
    monkeypatch.setattr(Artefacts, "model", lambda self, role, when="final": model)
    measured = right / len(labels)
    # 1000 images and a spread of 1 point: 80% of the reference lies within the bounds.
    spread = {"base.accuracy/spread": 0.01}
    low, high = measured / 0.8 - 0.01, measured / 0.8 + 0.01
    passing = judge_on(LARGE_HELD, "base.accuracy", art, {"base.accuracy": low, **spread})
    failing = judge_on(LARGE_HELD, "base.accuracy", art, {"base.accuracy": high, **spread})
    assert passing.status == "pass" and failing.status == "fail"
    assert "80% of the reference's" in failing.message
    assert failing.details["accuracy"] == pytest.approx(measured)
    assert failing.details["statistics"]["images"] == len(labels)
    # The Oracle gets its first images right and shifts every later label by one.
    confusion = failing.details["confusion"]
    assert confusion["rows"] == [0, 1, 2, 3, 4] and confusion["names"]["0"] == "airplane"
    counts = np.array(confusion["counts"])
    assert counts.sum() == len(labels) and np.trace(counts) == right


def test_an_accuracy_check_near_chance_is_not_judged_and_gives_what_the_rubric_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Few images and a reference within noise of chance: no coin flip."""
    labels = HELD.y[np.isin(HELD.y, [0, 1, 2, 3, 4])]
    art = artefacts(tmp_path, {})
    model = Oracle(labels, len(labels) // 4, 5)
    monkeypatch.setattr(Artefacts, "model", lambda self, role, when="final": model)
    withheld = judge("base.accuracy", art, reference={"base.accuracy": 0.3})
    assert withheld.status == "not_judged" and withheld.score == 0
    assert "cannot be judged at the 'smoke' budget" in withheld.message
    stats = withheld.details["statistics"]
    assert stats["correct_lower"] < stats["untrained_upper"]
    spec = CHECKS["base.accuracy"]
    award = dataclasses.replace(
        spec, params=dataclasses.replace(spec.params, when_not_judged="award")
    )
    ctx = CheckContext(art, ASSIGNMENT, TRUTH, HELD, DEFAULT_BUDGETS["smoke"], {spec.id: 0.3})
    awarded = run_check(award, ctx)
    assert awarded.status == "not_judged" and awarded.score == spec.points


def test_confusion_matrix_adds_columns_for_labels_outside_the_classes() -> None:
    matrix = confusion_matrix(
        np.array([0, 0, 1, 1, 2]),
        np.array([0, 3, 1, 1, 0]),
        [5, 6, 7],
        ["c0", "c1", "c2", "c3", "c4", "dog", "frog", "horse", "ship"],
        label_offset=5,
    )
    assert matrix["rows"] == [0, 1, 2] and matrix["columns"] == [0, 1, 2, 3]
    assert matrix["names"] == {"0": "dog", "1": "frog", "2": "horse", "3": "ship"}
    assert matrix["counts"] == [[1, 0, 0, 1], [0, 2, 0, 0], [1, 0, 0, 0]]


def test_course_target_applies_at_full_budget_on_real_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dataclasses import replace

    labels = HELD.y[np.isin(HELD.y, [0, 1, 2, 3, 4])]
    monkeypatch.setattr(Artefacts, "model", lambda self, role, when="final": Oracle(labels, 30, 5))
    real = replace(TRUTH, source="real")
    result = judge(
        "base.accuracy",
        artefacts(tmp_path, {}),
        reference={"base.accuracy": 0.1},
        budget="full",
        truth=real,
    )
    assert result.status == "fail" and "course target of 65%" in result.message


# --- data split -------------------------------------------------------------------------------


def summary(values: np.ndarray) -> VariableSummary:
    rows = tuple(range(0, len(values), 7)) if values.ndim > 2 else tuple(range(len(values)))
    return VariableSummary(
        tuple(values.shape),
        str(values.dtype),
        float(values.min()),
        float(values.max()),
        rows,
        (values[list(rows)] if values.ndim > 2 else values).astype(np.float32),
    )


def split_variables(scale: float = 255.0, width1: int = 5) -> dict[str, VariableSummary]:
    out: dict[str, VariableSummary] = {}
    for n, classes, width in ((1, ref.SET1_CLASSES, width1), (2, ref.SET2_CLASSES, 10)):
        s = ref.split_set(TRUTH.x_train, TRUTH.y_train, classes, width)
        factor = 255.0 / scale
        out |= {
            f"x{n}_train": summary(s.x_train * factor),
            f"y{n}_train": summary(s.y_train),
            f"x{n}_val": summary(s.x_val * factor),
            f"y{n}_val": summary(s.y_val),
        }
    return out


def test_data_split_of_the_solution_passes(tmp_path: Path) -> None:
    result = judge("data.split", artefacts(tmp_path, {}, variables=split_variables()))
    assert result.status == "pass", result.message


def test_unscaled_pixels_fail(tmp_path: Path) -> None:
    result = judge("data.split", artefacts(tmp_path, {}, variables=split_variables(scale=1.0)))
    assert result.status == "fail" and "divide by 255 to get [0, 1]" in result.message


def test_wrong_one_hot_width_fails(tmp_path: Path) -> None:
    variables = split_variables(width1=10)
    result = judge("data.split", artefacts(tmp_path, {}, variables=variables))
    assert "expected one-hot rows of width 5" in result.message


def test_mixed_classes_and_wrong_labels_fail(tmp_path: Path) -> None:
    variables = split_variables()
    wrong = variables["y1_train"].values.copy()
    wrong[:, [0, 1]] = wrong[:, [1, 0]]  # swap two classes' labels
    variables["y1_train"] = summary(wrong)
    result = judge("data.split", artefacts(tmp_path, {}, variables=variables))
    assert "sampled x1_train images carry the wrong label" in result.message
    stray = split_variables()
    s1 = ref.split_set(TRUTH.x_train, TRUTH.y_train, ref.SET1_CLASSES, 10)
    stray["y2_train"] = summary(s1.y_train[: stray["y2_train"].shape[0]])
    message = judge("data.split", artefacts(tmp_path, {}, variables=stray)).message
    assert "y2_train holds classes [0, 1, 2, 3, 4]; this set takes only [5, 6, 7, 8, 9]" in message


def test_missing_variables_are_listed(tmp_path: Path) -> None:
    variables = split_variables()
    del variables["x2_val"]
    result = judge("data.split", artefacts(tmp_path, {}, variables=variables))
    assert result.status == "fail" and "x2_val is not defined" in result.message


# --- robustness -------------------------------------------------------------------------------


def test_missing_model_fails_with_reason_and_a_crashing_check_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = judge("base.architecture", artefacts(tmp_path, {}))
    assert result.status == "fail" and result.message == "no base model found in the notebook"
    # A file that is not a Keras model is the student's problem, found before loading.
    (tmp_path / "models" / "base.keras").write_text("not a zip")
    refused = judge("base.architecture", artefacts(tmp_path, {}))
    assert refused.status == "fail"
    assert refused.message.startswith("the base model was not loaded: not a readable Keras")
    # A check that breaks for any other reason is the grader's: an error, never a crash.
    monkeypatch.setattr(architecture, "signatures", lambda model: 1 / 0)
    crashing = judge("base.architecture", artefacts(tmp_path / "other", {"base": base_cnn()}))
    assert crashing.status == "error" and "could not judge" in crashing.message


def test_every_registered_kind_is_documented() -> None:
    from grader.checks.base import REGISTRY

    assert {c.kind for c in ASSIGNMENT.checks} <= set(REGISTRY)
    assert all(kind.doc for kind in REGISTRY.values())


def test_check_spec_points_are_the_only_score() -> None:
    assert sum(c.points for c in ASSIGNMENT.checks) == ASSIGNMENT.max_score
    assert isinstance(ASSIGNMENT.checks[0], CheckSpec)


# --- idioms the checks judge alike, and mistakes they judge as mistakes -----------------------


def test_compiling_with_loss_and_metric_objects_is_compiling_with_their_names(
    tmp_path: Path,
) -> None:
    idioms: list[tuple[t.Any, t.Any, list[t.Any]]] = [
        ("adam", "categorical_crossentropy", ["accuracy"]),
        (
            keras.optimizers.Adam(),
            keras.losses.CategoricalCrossentropy(),
            [keras.metrics.CategoricalAccuracy()],
        ),
        (keras.optimizers.SGD(), keras.losses.categorical_crossentropy, ["acc"]),
    ]
    for index, (optimizer, loss, metrics) in enumerate(idioms):
        model = base_cnn()
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        result = judge("base.compile", artefacts(tmp_path / str(index), {"base": model}))
        assert result.status == "pass", (index, result.message)
    wrong = base_cnn()
    wrong.compile(optimizer="adam", loss=keras.losses.MeanSquaredError(), metrics=["accuracy"])
    result = judge("base.compile", artefacts(tmp_path / "wrong", {"base": wrong}))
    assert result.status == "fail"
    assert "loss is mean_squared_error, expected categorical_crossentropy" in result.message


def test_a_functional_base_is_reused_layer_for_layer_like_a_sequential_one(
    tmp_path: Path,
) -> None:
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for layer in base_cnn().layers:
        x = layer(x)
    base = keras.Model(inputs, x)
    base.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    transfer = ref.build_transfer_model(base)
    assert [type(layer).__name__ for layer in transfer.layers[:2]] == ["Conv2D", "MaxPooling2D"]
    art = artefacts(tmp_path, {"base": base, "transfer": transfer})
    assert judge("transfer.architecture", art).status == "pass"


@pytest.mark.parametrize("broken", ["no layers", "wrong input"])
def test_a_model_that_cannot_predict_the_images_fails_accuracy_never_errors(
    tmp_path: Path, broken: str
) -> None:
    if broken == "no layers":
        model = keras.Sequential()
    else:  # a grey-digit model handed CIFAR-10's colour images
        model = keras.Sequential(
            [keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(5, activation="softmax")]
        )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    art = artefacts(tmp_path, {"base": model})
    result = judge("base.accuracy", art, reference={"base.accuracy": 0.5})
    assert result.status == "fail", result.message
    assert "base model" in result.message
