"""``compile(loss=None)`` on a Keras model whose layers add losses trains on those, as Keras does.

Keras 3.15.1's ``compute_loss`` sums the compiled loss (none here) and ``model.losses``; with no
loss at all it raises "No loss to compute". Each case trains Keras and the wrapped twin from the
same weights on the same data, with and without targets.
"""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks
from tests.keras_port.twins import assert_logs_close, assert_unchanged, keras, weights_of

RNG = np.random.default_rng(0)
X = RNG.random((20, 3), dtype=np.float32)
Y = RNG.random((20, 2), dtype=np.float32)
SETTINGS = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)


class SquarePenalty(keras.layers.Layer):
    def call(self, x):
        self.add_loss(keras.ops.mean(keras.ops.square(x)))
        return x


def model(penalty: bool = True, **dense_kwargs):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    out = keras.layers.Dense(2, name="dense", **dense_kwargs)(inputs)
    return keras.Model(inputs, SquarePenalty()(out) if penalty else out)


@pytest.mark.parametrize("targets", [None, Y], ids=["no_y", "y"])
@pytest.mark.parametrize("kind", ["add_loss", "regularizer"])
def test_loss_none_trains_on_the_layer_losses(kind, targets):
    kwargs = {"kernel_regularizer": keras.regularizers.L2(0.1)} if kind == "regularizer" else {}
    build = (lambda: model(False, **kwargs)) if kind == "regularizer" else model
    theirs = build()
    theirs.compile(keras.optimizers.SGD(0.1), loss=None)
    their_history = theirs.fit(X, targets, **SETTINGS).history
    ours = ks.Model(build(), device="cpu").compile(keras.optimizers.SGD(0.1), loss=None)
    assert_logs_close(ours.fit(X, targets, **SETTINGS).history, their_history)
    np.testing.assert_allclose(ours.module.get_layer("dense").get_weights()[0],
                               theirs.get_layer("dense").get_weights()[0], rtol=1e-5, atol=1e-6)
    assert ours.evaluate(X, targets, verbose=0) == pytest.approx(theirs.evaluate(X, targets, verbose=0),
                                                                  rel=1e-5)
    assert ours.train_on_batch(X, targets) == pytest.approx(theirs.train_on_batch(X, targets), rel=1e-5)


def test_loss_none_without_layer_losses_fails_before_any_step_as_keras():
    theirs = model(penalty=False)
    theirs.compile(keras.optimizers.SGD(0.1), loss=None)
    with pytest.raises(ValueError, match="No loss to compute"):
        theirs.fit(X, Y, **SETTINGS)
    ours = ks.Model(model(penalty=False), device="cpu").compile(keras.optimizers.SGD(0.1), loss=None)
    before = weights_of(ours.module)
    with pytest.raises(ValueError, match="No loss to compute"):
        ours.fit(X, Y, **SETTINGS)
    assert_unchanged(before, ours.module)
