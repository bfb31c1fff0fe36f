"""Port of Keras 3.15.1 ``keras/src/metrics/regression_metrics_test.py`` onto ``ks.metrics``."""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks

Y_TRUE = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]])
Y_PRED = np.array([[0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [1, 1, 1, 1, 1]])
W4 = np.array([1.0, 1.5, 2.0, 2.5])
COS_TRUE = np.asarray([[1, 9, 2], [-5, -2, 6]], dtype=np.float32)
COS_PRED = np.asarray([[4, 8, 12], [8, 1, 3]], dtype=np.float32)


def test_mean_squared_error_config():  # Keras's test_config is an empty TODO; name and dtype here
    metric = ks.metrics.MeanSquaredError()
    assert (metric.name, metric.dtype) == ("mean_squared_error", "float32")


@pytest.mark.parametrize("cls, y_pred, weight, expected", [
    (ks.metrics.MeanSquaredError, Y_PRED, None, 0.5),
    (ks.metrics.MeanSquaredError, Y_PRED, W4, 0.54285),
    (ks.metrics.MeanAbsoluteError, Y_PRED, None, 0.5),
    (ks.metrics.MeanAbsoluteError, Y_PRED, W4, 0.54285),
    (ks.metrics.MeanAbsolutePercentageError, Y_PRED.astype("float32"), None, 35e7),
    (ks.metrics.MeanAbsolutePercentageError, Y_PRED.astype("float32"), W4, 40e7),
    (ks.metrics.MeanSquaredLogarithmicError, Y_PRED, None, 0.24022),
    (ks.metrics.MeanSquaredLogarithmicError, Y_PRED, W4, 0.26082),
], ids=["mse_unweighted", "mse_weighted", "mae_unweighted", "mae_weighted", "mape_unweighted",
        "mape_weighted", "msle_unweighted", "msle_weighted"])
def test_error_values(cls, y_pred, weight, expected):
    result = cls()(Y_TRUE, y_pred, sample_weight=weight)
    np.testing.assert_allclose(result.numpy(), expected, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("cls, name", [
    (ks.metrics.MeanAbsoluteError, "my_mae"), (ks.metrics.MeanAbsolutePercentageError, "my_mape"),
    (ks.metrics.MeanSquaredLogarithmicError, "my_msle"), (ks.metrics.RootMeanSquaredError, "rmse"),
    (ks.metrics.LogCoshError, "logcosh"),
])
def test_int32_config(cls, name):  # each class's test_config: Keras takes dtype="int32"
    metric = cls(name=name, dtype="int32")
    assert (metric.name, metric.dtype) == (name, "int32")
    again = cls.from_config(metric.get_config())
    assert (again.name, again.dtype) == (name, "int32")


def _cosine(axis):
    def l2_norm(x):
        return x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))
    return np.sum(l2_norm(COS_TRUE) * l2_norm(COS_PRED), axis=axis)


def test_cosine_config():
    metric = ks.metrics.CosineSimilarity(axis=2, name="my_cos", dtype="int32")
    assert (metric.name, metric.dtype) == ("my_cos", "int32")
    again = ks.metrics.CosineSimilarity.from_config(metric.get_config())
    assert (again.name, again.dtype) == ("my_cos", "int32")


@pytest.mark.parametrize("kwargs, weight", [({}, None), ({}, np.asarray([1.2, 3.4])), ({"axis": 1}, None)],
                         ids=["unweighted", "weighted", "axis"])
def test_cosine_values(kwargs, weight):
    expected = _cosine(1)
    expected = np.mean(expected) if weight is None else np.sum(expected * weight) / np.sum(weight)
    result = ks.metrics.CosineSimilarity(**kwargs)(COS_TRUE, COS_PRED, sample_weight=weight)
    assert float(result) == pytest.approx(expected, abs=5e-4)


def test_rmse_unweighted():
    metric = ks.metrics.RootMeanSquaredError()
    metric.update_state(np.array([2, 4, 6]), np.array([1, 3, 2]))
    assert float(metric.result()) == pytest.approx(np.sqrt(6), abs=1e-3)


def test_rmse_weighted():  # rank-1 inputs are squared element by element (kerasish averaged them)
    result = ks.metrics.RootMeanSquaredError()(np.array([2, 4, 6, 8]), np.array([1, 3, 2, 3]),
                                               sample_weight=np.array([0, 1, 0, 1]))
    assert float(result) == pytest.approx(np.sqrt(13), abs=1e-3)


def _logcosh_expected():
    error = COS_PRED - COS_TRUE
    return np.log((np.exp(error) + np.exp(-error)) / 2)


def test_logcosh_unweighted():
    metric = ks.metrics.LogCoshError()
    metric.update_state(COS_TRUE, COS_PRED)
    assert float(metric.result()) == pytest.approx(np.sum(_logcosh_expected()) / 6, abs=1e-3)


def test_logcosh_weighted():
    metric = ks.metrics.LogCoshError(dtype="float32")
    result = metric(COS_TRUE, COS_PRED, sample_weight=np.array([[1.2], [3.4]]))
    weight = np.asarray([1.2, 1.2, 1.2, 3.4, 3.4, 3.4]).reshape((2, 3))
    assert float(result) == pytest.approx(np.sum(_logcosh_expected() * weight) / np.sum(weight), abs=1e-3)


def test_r2_config():
    metric = ks.metrics.R2Score(class_aggregation=None, num_regressors=2, dtype="float32")
    again = ks.metrics.R2Score.from_config(metric.get_config())
    for m in (metric, again):
        assert (m.class_aggregation, m.num_regressors, m.dtype) == (None, 2, "float32")


R2_TRUE = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


@pytest.mark.parametrize("y_pred, weight, aggregation, regressors, expected", [
    # test_r2_sklearn_comparison
    ([[0.4, 0.5, 0.6], [0.1, 0.2, 0.3], [0.5, 0.8, 0.2]], None, None, 0, [0.37, -1.295, 0.565]),
    ([[0.4, 0.5, 0.6], [0.1, 0.2, 0.3], [0.5, 0.8, 0.2]], None, "uniform_average", 0, -0.12),
    ([[0.4, 0.5, 0.6], [0.1, 0.2, 0.3], [0.5, 0.8, 0.2]], None, "variance_weighted_average", 0, -0.12),
    # test_r2_tfa_comparison
    *[([[0.4, 0.9, 1.6], [0.1, 1.2, 0.6], [1.5, 0.8, 0.6]], [0.8, 0.1, 0.4], agg, reg, value)
      for agg, reg, value in [
          (None, 0, [0.17305559, -8.836666, -0.521]),
          (None, 1, [0.054920673, -10.241904, -0.7382858]),
          (None, 2, [-0.10259259, -12.115555, -1.0280001]),
          ("uniform_average", 0, -3.0615367889404297),
          ("uniform_average", 1, -3.641756534576416),
          ("uniform_average", 2, -4.415382385253906),
          ("variance_weighted_average", 0, -1.3710224628448486),
          ("variance_weighted_average", 1, -1.7097399234771729),
          ("variance_weighted_average", 2, -2.161363363265991)]],
])
def test_r2_values(y_pred, weight, aggregation, regressors, expected):
    metric = ks.metrics.R2Score(aggregation, regressors, dtype="float32")
    metric.update_state(R2_TRUE, y_pred, weight)
    np.testing.assert_allclose(metric.result().numpy(), expected, atol=1e-6)


def test_r2_errors():
    with pytest.raises(ValueError, match="Invalid value for argument `class_aggregation`"):
        ks.metrics.R2Score(class_aggregation="wrong")
    with pytest.raises(ValueError, match="Invalid value for argument `num_regressors`"):
        ks.metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match="expects 2D inputs with shape"):
        ks.metrics.R2Score().update_state([0.0, 1.0], [0.0, 1.0])
