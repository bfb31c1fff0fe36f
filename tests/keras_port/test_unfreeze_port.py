"""A layer unfrozen after ``compile`` trains, as Keras 3 trains one unfrozen before its first fit.

Keras builds its optimizer at the first ``fit`` on the variables trainable then; kerasish builds
it at ``compile`` and takes in parameters made trainable since at the start of every ``fit``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import kerasish as ks
from tests.keras_port.twins import keras


def frozen_base_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="base")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))
    model.get_layer("base").trainable = False
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_keras_layer_unfrozen_after_compile_trains_as_in_keras(optimizer):
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 3), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
    theirs = frozen_base_model()
    theirs.compile(optimizer, "mse")
    theirs.get_layer("base").trainable = True
    their_loss = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]

    keras_model = frozen_base_model()
    ours = ks.Model(keras_model, device="cpu").compile(optimizer, "mse")
    keras_model.get_layer("base").trainable = True
    our_loss = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(our_loss, their_loss, rtol=1e-5)
    for ours_w, theirs_w in zip(keras_model.get_layer("base").get_weights(),
                                theirs.get_layer("base").get_weights()):
        np.testing.assert_allclose(ours_w, theirs_w, rtol=1e-5, atol=1e-6)


def test_a_torch_optimizer_instance_is_left_as_the_user_built_it():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(net[1].parameters(), lr=0.1)  # the head only, on purpose
    model = ks.Model(net, device="cpu").compile(optimizer, "mse")
    base = net[0].weight.detach().clone()
    model.fit(np.ones((8, 3), np.float32), np.ones((8, 1), np.float32), verbose=0)
    assert len(optimizer.param_groups) == 1 and torch.equal(net[0].weight, base)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_keras_model_built_at_its_first_call_trains_as_in_keras(optimizer):
    # No keras.Input: the weights are created by the first call, after compile, as in Keras.
    def lazy_model():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])

    rng = np.random.default_rng(0)
    x, y = rng.random((16, 3), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
    theirs = lazy_model()
    theirs.compile(optimizer, "mse")
    their_loss = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]

    keras_model = lazy_model()
    model = ks.Model(keras_model, device="cpu").compile(optimizer, "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "nothing to train" warning
        our_loss = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(our_loss, their_loss, rtol=1e-5)
    for ours_w, theirs_w in zip(keras_model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(ours_w, theirs_w, rtol=1e-5, atol=1e-6)
