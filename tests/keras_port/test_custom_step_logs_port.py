"""A custom ``train_step`` ported from Keras's "customizing fit (torch)" guide logs Keras's numbers.

The guide's step calls ``compute_loss``, then ``metric.update_state(loss)`` on the loss tracker and
``metric.update_state(y, y_pred, sample_weight)`` on every other metric of ``self.metrics``. In
Keras 3.15.1 ``compute_loss`` leaves the tracker alone (so the loss is the unweighted mean of the
batch losses) and the compiled ``metrics=`` get no sample weight (only ``weighted_metrics=`` do).
kerasish's ``compute_loss`` tracks the loss (its contract): the step's own ``update_state``
replaces that, so the logs match. A step that only calls ``compute_loss`` and ``compute_metrics``
logs the loss in kerasish, where Keras logs 0.0 (docs/differences.md). 20 samples in batches of
8: a short last batch tells a batch mean from a sample mean.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks
from tests.keras_port.twins import assert_logs_close, keras, linear_from

RNG = np.random.default_rng(0)
X = RNG.random((20, 3), dtype=np.float32)
Y = RNG.random((20, 1), dtype=np.float32)
SW = np.linspace(0.5, 2.0, 20).astype("float32")
SETTINGS = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)


def track(model, loss, y, y_pred, sample_weight):
    """The guide's metric loop, the same lines in both ports."""
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(loss)
        else:
            metric.update_state(y, y_pred, sample_weight)
    return {m.name: m.result() for m in model.metrics}


class KerasGuideStep(keras.Model):
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        weights = list(self.trainable_weights)
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in weights], weights)
        return track(self, loss, y, y_pred, sample_weight)


class PortedGuideStep(ks.Model):
    def train_step(self, data):
        x, y, sample_weight = ks.utils.unpack_x_y_sample_weight(data)
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        self.optimizer.step()
        return track(self, loss, y, y_pred, sample_weight)


class KerasMinimalStep(keras.Model):
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        self.zero_grad()
        y_pred = self(x, training=True)
        self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight).backward()
        weights = list(self.trainable_weights)
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in weights], weights)
        return self.compute_metrics(x, y, y_pred, sample_weight)


class PortedMinimalStep(ks.Model):
    def train_step(self, data):
        x, y, sample_weight = ks.utils.unpack_x_y_sample_weight(data)
        self.zero_grad()
        y_pred = self(x, training=True)
        self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight).backward()
        self.optimizer.step()
        return self.compute_metrics(x, y, y_pred, sample_weight)


def run(keras_cls, ported_cls, sample_weight):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    kmodel = keras_cls(inputs, keras.layers.Dense(1, name="dense")(inputs))
    net = linear_from(kmodel.get_layer("dense"))
    compiled = dict(loss="mse", metrics=["mae"], weighted_metrics=["mse"])
    kmodel.compile(keras.optimizers.SGD(0.1), **compiled)
    theirs = kmodel.fit(X, Y, sample_weight=sample_weight, **SETTINGS).history
    model = ported_cls(net, device="cpu").compile(ks.optimizers.SGD(0.1), **compiled)
    return model.fit(X, Y, sample_weight=sample_weight, **SETTINGS).history, theirs


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_the_guides_step_logs_kerass_loss_and_metrics(weighted):
    ours, theirs = run(KerasGuideStep, PortedGuideStep, SW if weighted else None)
    assert_logs_close(ours, theirs)


def test_compute_loss_alone_tracks_the_loss_where_keras_logs_zero():
    ours, theirs = run(KerasMinimalStep, PortedMinimalStep, SW)
    assert theirs["loss"] == [0.0, 0.0]  # Keras: compute_loss does not update the tracker
    assert_logs_close({k: v for k, v in ours.items() if k != "loss"},
                      {k: v for k, v in theirs.items() if k != "loss"})
    assert all(value > 0.1 for value in ours["loss"])
