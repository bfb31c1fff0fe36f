"""A wrapped Keras model with named outputs logs, pairs and weighs per output as Keras does.

Keras names per-output logs after the model's output names (``score_output_loss``), takes dict
targets keyed by those names with a list of losses, and pairs a list of sample weights with the
outputs in order. Each case runs Keras 3's ``fit`` and ``evaluate`` and kerasish's on identical
weights and data.
"""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks
from tests.keras_port.twins import keras

LOSS = ["mse", "sparse_categorical_crossentropy"]
METRICS = [["mae"], ["accuracy"]]


def named_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    score = keras.layers.Dense(1, name="score_output")(inputs)
    label = keras.layers.Dense(2, name="class_output", activation="softmax")(inputs)
    return keras.Model(inputs, [score, label])


def data():
    rng = np.random.default_rng(0)
    x = rng.random((16, 3), dtype=np.float32)
    return x, rng.random((16, 1), dtype=np.float32), rng.integers(0, 2, 16)


def both(y, **fit_kwargs):
    x, _, _ = data()
    theirs = named_model()
    theirs.compile(keras.optimizers.SGD(0.1), LOSS, metrics=METRICS, weighted_metrics=[["mse"], []])
    their_history = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
                               **fit_kwargs).history
    ours = ks.Model(named_model(), device="cpu").compile(
        keras.optimizers.SGD(0.1), LOSS, metrics=METRICS, weighted_metrics=[["mse"], []])
    our_history = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
                           **fit_kwargs).history
    return (our_history, ours.evaluate(x, y, verbose=0)), (their_history, theirs.evaluate(x, y, verbose=0))


def assert_same(ours, theirs):
    (our_history, our_eval), (their_history, their_eval) = ours, theirs
    assert sorted(our_history) == sorted(their_history)
    assert "score_output_loss" in our_history and "class_output_accuracy" in our_history
    for key in their_history:
        np.testing.assert_allclose(our_history[key], their_history[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(our_eval, their_eval, rtol=1e-5, atol=1e-6)


def test_list_losses_on_named_outputs_log_kerass_keys_and_evaluate_list():
    _, score, label = data()
    assert_same(*both([score, label]))


def test_dict_targets_keyed_by_output_name_with_list_losses():
    _, score, label = data()
    assert_same(*both({"class_output": label, "score_output": score}))


def test_a_list_of_sample_weights_pairs_with_named_outputs_in_order():
    _, score, label = data()
    weights = [np.linspace(0.5, 2.0, 16, dtype=np.float32), np.ones(16, np.float32)]
    assert_same(*both([score, label], sample_weight=weights))


@pytest.mark.parametrize("spec", ["dict", "list"])
def test_losses_keyed_or_listed_give_the_same_numbers(spec):
    x, score, label = data()
    loss = {"score_output": "mse", "class_output": "sparse_categorical_crossentropy"} \
        if spec == "dict" else LOSS
    model = ks.Model(named_model(), device="cpu").compile(keras.optimizers.SGD(0.1), loss)
    logs = model.fit(x, [score, label], epochs=1, batch_size=8, shuffle=False, verbose=0).history
    assert sorted(logs) == ["class_output_loss", "loss", "score_output_loss"]
