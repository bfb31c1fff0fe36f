"""A Keras 3 model wrapped as it is trains with Keras's meaning, compared with keras.Model.fit."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - another backend was chosen first
    pytest.skip("Keras runs on another backend here", allow_module_level=True)

import kerasish as ks  # noqa: E402


def timeseries_fcn(dropout: float = 0.0, seed: int = 0):
    """A small FCN with BatchNorm (and optionally Dropout), as in keras-io's timeseries example."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,), name="features")
    h = keras.layers.Dense(16, activation="relu")(inputs)
    h = keras.layers.BatchNormalization()(h)
    if dropout:
        h = keras.layers.Dropout(dropout, seed=seed)(h)
    outputs = keras.layers.Dense(3, name="classes")(h)
    return keras.Model(inputs, outputs)


def twins(dropout: float = 0.0):
    first = timeseries_fcn(dropout)
    second = timeseries_fcn(dropout)
    second.set_weights(first.get_weights())
    return first, second


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1).astype("int64")


def loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_fit_trains_batchnorm_and_dropout_as_keras_fit_does(dropout):
    theirs, ours = twins(dropout)
    x, y = data()
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss())
    history = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    model = ks.Model(ours, device="cpu").compile(ks.optimizers.SGD(learning_rate=0.05), loss())
    mine = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    bn_theirs, bn_ours = theirs.get_layer(index=2), ours.get_layer(index=2)
    np.testing.assert_allclose(bn_ours.moving_mean.numpy(), bn_theirs.moving_mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(bn_ours.moving_variance.numpy(), bn_theirs.moving_variance.numpy(),
                               atol=1e-5)
    assert not np.allclose(bn_ours.moving_variance.numpy(), 1.0)  # the statistics did move
    np.testing.assert_allclose(mine["loss"], history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_evaluate_and_predict_run_in_inference_mode_as_keras_does():
    theirs, ours = twins(dropout=0.5)
    x, y = data()
    theirs.compile(optimizer="sgd", loss=loss(), metrics=["accuracy"])
    model = ks.Model(ours, device="cpu").compile("sgd", loss(), metrics=["accuracy"])
    expected = theirs.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    got = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert got == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_dict_input_reaches_a_multi_input_keras_model_whole():
    keras.utils.set_random_seed(1)
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    joined = keras.layers.Concatenate()([a, b])
    kmodel = keras.Model({"a": a, "b": b}, keras.layers.Dense(2)(joined))
    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(16, 4)).astype("float32"), "b": rng.normal(size=(16, 3)).astype("float32")}
    model = ks.Model(kmodel, device="cpu").compile("sgd", "mse")
    model.fit(x, rng.normal(size=(16, 2)).astype("float32"), batch_size=8, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=1e-6)
    listed = keras.Model([a, b], keras.layers.Dense(2)(joined))
    as_list = ks.Model(listed, device="cpu")
    np.testing.assert_allclose(as_list.predict([x["a"], x["b"]], verbose=0),
                               listed.predict([x["a"], x["b"]], verbose=0), atol=1e-6)


def test_only_float_trainable_variables_reach_the_optimizer_and_adam_stays_fused():
    _, ours = twins(dropout=0.5)  # Dropout carries an int32 seed-generator state
    model = ks.Model(ours, device="cpu").compile("adam", loss())
    params = [p for group in model.optimizer.param_groups for p in group["params"]]
    assert all(p.is_floating_point() and p.requires_grad for p in params)
    assert len(params) == len(ours.trainable_weights)
    assert all(group.get("fused") for group in model.optimizer.param_groups)


def test_summary_shows_keras_layers_and_keras_counts(capsys):
    _, ours = twins()
    ks.Model(ours, device="cpu").summary()
    text = capsys.readouterr().out
    assert "(BatchNormalization)" in text and "(Dense)" in text
    assert f"Total params: {ours.count_params():,}" in text
    assert "ParameterDict" not in text


def test_the_wrapped_keras_example_trains_two_named_outputs(monkeypatch, capsys):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "keras_wrapped.py"
    spec = importlib.util.spec_from_file_location("keras_wrapped", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    monkeypatch.setattr(sys, "argv", ["keras_wrapped.py", "--small"])
    results = example.main()
    assert set(results) == {"loss", "digit_loss", "parity_loss", "digit_accuracy", "parity_accuracy"}
    assert results["loss"] == pytest.approx(results["digit_loss"] + 0.5 * results["parity_loss"], rel=1e-4)
    assert results["digit_accuracy"] > 0.3 and results["parity_accuracy"] > 0.6  # chance: 0.1, 0.5
    assert "Non-trainable params: 256" in capsys.readouterr().out  # Keras's table: BatchNorm's moving stats


@pytest.mark.parametrize("targets", ["list", "dict"])
def test_losses_and_metrics_keyed_by_output_name_on_list_outputs_as_keras(targets):
    def build():
        keras.utils.set_random_seed(3)
        inputs = keras.Input((8,))
        h = keras.layers.Dense(16, activation="relu")(inputs)
        return keras.Model(inputs, [keras.layers.Dense(3, name="cls")(h),
                                    keras.layers.Dense(1, name="reg")(h)])

    theirs, ours = build(), build()
    ours.set_weights(theirs.get_weights())
    x, labels = data()
    y_reg = x[:, :1] * 2.0
    y = [labels, y_reg] if targets == "list" else {"cls": labels, "reg": y_reg}
    spec = dict(loss={"cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "reg": "mse"},
                loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), **spec)
    expected = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    model = ks.Model(ours, device="cpu").compile(ks.optimizers.SGD(learning_rate=0.05), **spec)
    got = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-4, err_msg=key)
    predictions = model.predict(x, verbose=0)  # Keras's structure: a list, as theirs.predict gives
    assert isinstance(predictions, list) and len(predictions) == 2
