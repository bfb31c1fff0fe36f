"""Weights of a wrapped Keras model load into a fresh identical one, as Keras's ``.weights.h5`` do.

Keras numbers auto-generated layer names per process (``dense``, ``dense_1``, ... ``dense_11``),
so the same code run again builds ``dense_12``...; Keras 3.15.1 loads a ``.weights.h5`` file by
the layers' order all the same. ``ks.Model(keras_model).load_weights`` pairs the layers of each
kind in Keras's numbering order (past ``_9``, where the keys' text order is not Keras's).
"""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks
from tests.keras_port.twins import keras

RNG = np.random.default_rng(0)
X = RNG.random((16, 3), dtype=np.float32)
Y = RNG.random((16, 1), dtype=np.float32)


def build(depth: int = 11):
    """Unnamed Dense layers (more than ten, so ``dense_10`` sorts before ``dense_9``) and a BatchNorm."""
    inputs = keras.Input((3,))
    h = inputs
    for _ in range(depth):
        h = keras.layers.Dense(4, activation="relu")(h)
    h = keras.layers.BatchNormalization()(h)
    return keras.Model(inputs, keras.layers.Dense(1)(h))


def trained():
    keras.utils.set_random_seed(0)
    model = ks.Model(build(), device="cpu").compile(keras.optimizers.SGD(0.01), "mse")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    return model


@pytest.mark.parametrize("save", ["save_weights", "save"])
def test_a_fresh_identical_keras_model_loads_by_layer_order(tmp_path, save):
    source = trained()
    path = tmp_path / "weights.pt"
    getattr(source, save)(path)
    # Keras: the same with its own file format, into a model whose layers are numbered otherwise.
    source.module.save_weights(tmp_path / "k.weights.h5")
    theirs = build()
    theirs.load_weights(tmp_path / "k.weights.h5")
    fresh = ks.Model(build(), device="cpu").compile(keras.optimizers.SGD(0.01), "mse")
    assert fresh.module.layers[1].name != source.module.layers[1].name
    fresh.load_weights(path)
    for ours, keras_loaded, original in zip(fresh.module.get_weights(), theirs.get_weights(),
                                            source.module.get_weights()):
        np.testing.assert_array_equal(keras_loaded, original)
        np.testing.assert_array_equal(ours, original)
    np.testing.assert_allclose(fresh.predict(X, verbose=0), source.predict(X, verbose=0), rtol=1e-6)


def test_another_architecture_is_still_refused(tmp_path):
    source = trained()
    source.save_weights(tmp_path / "weights.pt")
    other = ks.Model(build(depth=10), device="cpu").compile("sgd", "mse")
    with pytest.raises(ValueError, match="does not match this module"):
        other.load_weights(tmp_path / "weights.pt")
