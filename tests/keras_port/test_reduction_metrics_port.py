"""Port of Keras 3.15.1 ``keras/src/metrics/reduction_metrics_test.py`` onto ``ks.metrics``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks

Y_TRUE = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]])
Y_PRED = np.array([[0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [1, 1, 1, 1, 1]])


def mse(y_true, y_pred):
    return (y_true - y_pred) ** 2


@pytest.mark.parametrize("cls, n_vars", [(ks.metrics.Sum, 1), (ks.metrics.Mean, 2)])
def test_config(cls, n_vars):  # SumTest / MeanTest.test_config
    metric = cls(name="m", dtype="float32")
    assert (metric.name, len(metric.variables), metric.dtype) == ("m", n_vars, "float32")
    again = cls.from_config(metric.get_config())
    assert (again.name, len(again.variables), again.dtype) == ("m", n_vars, "float32")


@pytest.mark.parametrize("cls, values, weight, expected", [
    (ks.metrics.Sum, [1, 3, 5, 7], None, 16.0),                          # SumTest.test_unweighted
    (ks.metrics.Sum, [1, 3, 5, 7], [1, 1, 0, 0], 4.0),                   # test_weighted
    (ks.metrics.Sum, [[1, 3], [5, 7]], [[1, 1], [1, 0]], 9.0),           # test_weighted_nd
    (ks.metrics.Sum, [[1, 3], [5, 7]], [[1, 0]], 6.0),                   # test_weighted_nd_broadcast
    (ks.metrics.Mean, [1, 3, 5, 7], None, 4.0),                          # MeanTest.test_unweighted
    (ks.metrics.Mean, [1, 3, 5, 7], [1, 1, 0, 0], 2.0),                  # test_weighted
    (ks.metrics.Mean, [1, 3, 5, 7], [-1, -1, 0, 0], 2.0),                # test_weighted_negative_weights
    (ks.metrics.Mean, [[1, 3], [5, 7]], [[1, 1], [1, 0]], 3.0),          # test_weighted_nd
    (ks.metrics.Mean, [[1, 3], [5, 7]], [[1, 0]], 3.0),                  # test_weighted_nd_broadcast
])
def test_values(cls, values, weight, expected):
    metric = cls(dtype="float32")
    metric.update_state(values, sample_weight=weight)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-3)


def test_mean_weighted_dynamic_shapes():  # a batch of any size gives a 0-d result
    metric = ks.metrics.Mean(dtype="float32")
    metric.update_state(torch.ones(3, 2), torch.ones(3, 2))
    assert metric.result().shape == ()


def test_wrapper_config():
    metric = ks.metrics.MeanMetricWrapper(fn=mse, name="mse", dtype="float32")
    assert (metric.name, len(metric.variables), metric.dtype) == ("mse", 2, "float32")
    again = ks.metrics.MeanMetricWrapper.from_config(metric.get_config())
    assert (again.name, len(again.variables), again.dtype) == ("mse", 2, "float32")
    assert "fn" in again.get_config()


@pytest.mark.parametrize("weight, expected", [
    (None, 0.5),                                            # test_unweighted
    (np.array([1.0, 1.5, 2.0, 2.5]), 0.54285),              # test_weighted
    (np.array([[1.0, 0.0, 0.5, 0.0, 1.0]]), 0.45),          # test_weighted_broadcast
])
def test_wrapper_values(weight, expected):
    metric = ks.metrics.MeanMetricWrapper(fn=mse, name="mse", dtype="float32")
    result = metric(Y_TRUE, Y_PRED, sample_weight=weight)
    assert float(result) == pytest.approx(expected, abs=1e-5)


def test_wrapper_weighted_dynamic_shape():
    metric = ks.metrics.MeanMetricWrapper(fn=mse, name="mse", dtype="float32")
    metric.update_state(torch.ones(3, 5), torch.zeros(3, 5), torch.ones(3, 5))
    assert metric.result().shape == ()


def test_binary_accuracy_with_boolean_inputs():  # a model output `x > 0.5` against y = x > 0.5
    x = np.random.default_rng(0).random((32, 1))
    metric = ks.metrics.BinaryAccuracy()
    metric.update_state(x > 0.5, torch.as_tensor(x) > 0.5)
    assert float(metric.result()) == 1.0
