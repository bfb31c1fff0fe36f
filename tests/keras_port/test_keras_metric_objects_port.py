"""Keras metric objects log what Keras logs, including one whose ``result()`` is a Variable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks
from tests.keras_port.twins import dense_model, keras


class SumOfPredictions(keras.metrics.Metric):
    """A metric written as Keras's guide writes one, returning its Variable from ``result()``."""

    def __init__(self, name="sum_of_predictions", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total",
                                       aggregation="sum")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(keras.ops.sum(y_pred))

    def result(self):
        return self.total


class SumOfPredictionsCopied(SumOfPredictions):
    """The same metric returning a copy of its value.

    Keras 3.15.1 keeps the Variable that ``result()`` returned in the epoch's logs, so validation,
    which resets and refills it, changes the logged training value to the validation one. The
    copy gives Keras's true per-epoch values: the reference here.
    """

    def result(self):
        return keras.ops.copy(self.total)


def test_a_metric_returning_its_variable_logs_kerass_values_every_epoch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 3)).astype("float32")
    y = rng.normal(size=(24, 1)).astype("float32")
    kmodel, twin = dense_model()
    kmodel.compile(keras.optimizers.SGD(0.05), "mse",
                   metrics=[SumOfPredictionsCopied(name="sum_of_predictions")])
    theirs = kmodel.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                        validation_data=(x, y)).history

    model = ks.Model(twin, device="cpu").compile(torch.optim.SGD(twin.parameters(), lr=0.05), "mse",
                                                 metrics=[SumOfPredictions()])
    ours = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                     validation_data=(x, y)).history
    for key in ("sum_of_predictions", "val_sum_of_predictions", "loss"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-5)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["sum_of_predictions"] == pytest.approx(
        kmodel.evaluate(x, y, verbose=0, return_dict=True)["sum_of_predictions"], rel=1e-5)
