"""Metric trackers a layer owns (Keras 3's replacement for ``add_metric``) are logged as Keras does.

A layer holding ``keras.metrics.Mean(name="activation_mean")`` and updating it in ``call`` appears
in Keras 3.15.1's logs under its name (``val_`` in validation), reset at each epoch and at the
start of ``evaluate``, and last in ``evaluate``'s list. kerasish logs the same numbers for the
wrapped Keras model, and for a torch module whose submodule holds a ``ks.metrics.Mean`` (trained
from the same weights on the same data).
"""

from __future__ import annotations

import numpy as np
import torch

import kerasish as ks
from tests.keras_port.twins import assert_logs_close, keras, linear_from

RNG = np.random.default_rng(0)
X = RNG.random((16, 3), dtype=np.float32)
Y = RNG.random((16, 1), dtype=np.float32)
SETTINGS = dict(epochs=2, batch_size=8, shuffle=False, verbose=0, validation_data=(X, Y))


class ActivationMean(keras.layers.Layer):
    """Passes its input through and tracks its mean, as the Keras guide's layer does."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tracker = keras.metrics.Mean(name="activation_mean")

    def call(self, x):
        self.tracker.update_state(keras.ops.mean(x, axis=-1))
        return x


def functional():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    hidden = ActivationMean()(keras.layers.Dense(4, name="hidden")(inputs))
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))


class Nested(keras.layers.Layer):
    """The tracking layer one level down, next to a Dense."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)
        self.act = ActivationMean()

    def call(self, x):
        return self.act(self.dense(x))


class Subclassed(keras.Model):
    """A model holding a metric of its own besides its layer's (updated in ``call``)."""

    def __init__(self):
        super().__init__()
        self.block = Nested()
        self.head = keras.layers.Dense(1)
        self.output_mean = keras.metrics.Mean(name="output_mean")

    def call(self, x):
        out = self.head(self.block(x))
        self.output_mean.update_state(out)
        return out


def subclassed():
    keras.utils.set_random_seed(0)
    model = Subclassed()
    model(X[:1])
    model.output_mean.reset_state()
    model.block.act.tracker.reset_state()
    return model


def both(build):
    theirs = build()
    theirs.compile(keras.optimizers.SGD(0.1), "mse", metrics=["mae"])
    history = theirs.fit(X, Y, **SETTINGS).history
    ours = ks.Model(build(), device="cpu").compile(keras.optimizers.SGD(0.1), "mse", metrics=["mae"])
    return (ours.fit(X, Y, **SETTINGS).history, ours), (history, theirs)


def assert_same(ours, theirs, names, repeated=()):
    """Same logs; ``evaluate``'s list is Keras's with each name once (``repeated``: the names
    Keras 3.15.1 lists twice, a nested layer's tracker being found at each level)."""
    (our_history, our_model), (their_history, their_model) = ours, theirs
    for name in names:
        assert name in their_history and f"val_{name}" in their_history
    assert_logs_close(our_history, their_history)
    their_logs = their_model.evaluate(X, Y, verbose=0, return_dict=True)
    assert_logs_close(our_model.evaluate(X, Y, verbose=0, return_dict=True), their_logs)
    order = ["loss", "mae", *names]
    np.testing.assert_allclose(their_model.evaluate(X, Y, verbose=0),
                               [their_logs[k] for k in order + list(repeated)], rtol=1e-6)
    np.testing.assert_allclose(our_model.evaluate(X, Y, verbose=0), [their_logs[k] for k in order],
                               rtol=1e-5, atol=1e-6)


def test_a_layer_tracker_of_a_functional_model():
    ours, theirs = both(functional)
    assert_same(ours, theirs, ["activation_mean"])
    assert [m.name for m in ours[1].metrics] == ["loss", "mae", "activation_mean"]


def test_a_nested_layer_tracker_and_the_models_own_metric():
    ours, theirs = both(subclassed)
    assert_same(ours, theirs, ["output_mean", "activation_mean"], repeated=["activation_mean"])


class TorchActivationMean(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tracker = ks.metrics.Mean(name="activation_mean")

    def forward(self, x):
        self.tracker.update_state(x.mean(dim=-1))
        return x


def test_a_torch_submodule_holding_a_ks_metric_logs_as_the_keras_layer():
    kmodel = functional()
    net = torch.nn.Sequential(linear_from(kmodel.get_layer("hidden")), TorchActivationMean(),
                              linear_from(kmodel.get_layer("head")))
    kmodel.compile(keras.optimizers.SGD(0.1), "mse", metrics=["mae"])
    their_history = kmodel.fit(X, Y, **SETTINGS).history
    model = ks.Model(net, device="cpu").compile(ks.optimizers.SGD(0.1), "mse", metrics=["mae"])
    assert_logs_close(model.fit(X, Y, **SETTINGS).history, their_history)
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0), kmodel.evaluate(X, Y, verbose=0),
                               rtol=1e-5, atol=1e-6)
