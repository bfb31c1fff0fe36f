"""Regression metrics: per-sample error functions (Keras order, ``y_true`` first) and their running
means, ``RootMeanSquaredError`` included.
"""

from __future__ import annotations

import torch

from kerasish.metrics.base import EPSILON, align
from kerasish.metrics.reduction import FunctionMean


def mean_squared_error(y_true, y_pred):
    """``mean((y_pred - y_true) ** 2)`` over the last axis, in float32: one value per sample.

    Targets ``(N,)`` against outputs ``(N, 1)`` (or the other way round) meet at ``(N, 1)``,
    as in Keras, instead of broadcasting to ``(N, N)``; the other ``*_error`` functions do the
    same.

    Args:
        y_true: the targets.
        y_pred: the outputs, shaped like ``y_true`` up to that trailing 1-axis.

    Returns:
        A tensor of ``y_pred``'s shape without its last axis.

    Example:
        ks.metrics.mean_squared_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        # tensor([0.5000])
    """
    y_true, y_pred = align(y_true, y_pred)
    return (y_pred.float() - y_true.float()).square().mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_pred - y_true|)`` over the last axis, in float32: one value per sample.

    Args:
        y_true: the targets, as for ``mean_squared_error``.
        y_pred: the outputs.

    Example:
        ks.metrics.mean_absolute_error(torch.tensor([0.0, 2.0]), torch.tensor([[1.0], [1.0]]))
        # tensor([1., 1.])
    """
    y_true, y_pred = align(y_true, y_pred)
    return (y_pred.float() - y_true.float()).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis, per sample.

    Args:
        y_true: the targets; near zero, 1e-7 replaces them in the divisor.
        y_pred: the outputs, as for ``mean_squared_error``.

    Example:
        ks.metrics.mean_absolute_percentage_error(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        # tensor([50.])
    """
    y_true, y_pred = (t.float() for t in align(y_true, y_pred))
    return 100.0 * ((y_true - y_pred).abs() / y_true.abs().clamp_min(EPSILON)).mean(dim=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(1 + y_pred) - log(1 + y_true)) ** 2)`` over the last axis, per sample.

    Args:
        y_true: the targets; values below 1e-7 are raised to it before the logarithm.
        y_pred: the outputs, likewise.

    Example:
        model.compile("adam", "mse", metrics=[ks.metrics.mean_squared_logarithmic_error])
    """
    y_true, y_pred = (t.float() for t in align(y_true, y_pred))
    first = torch.log(y_pred.clamp_min(EPSILON) + 1.0)
    second = torch.log(y_true.clamp_min(EPSILON) + 1.0)
    return (first - second).square().mean(dim=-1)


class MeanSquaredError(FunctionMean):
    """The running (sample-weighted) mean of ``mean_squared_error`` (``"mse"``).

    Args:
        name: the log key.

    Example:
        model.compile("adam", "mae", metrics=[ks.metrics.MeanSquaredError(name="mse")])
    """

    _function = staticmethod(mean_squared_error)


class MeanAbsoluteError(FunctionMean):
    """The mean absolute error over everything seen since the last reset (``"mae"``).

    Args:
        name: the log key (default ``"mean_absolute_error"``).

    Example:
        model.compile("adam", "huber", metrics=["mae"])   # the same metric, by name
    """

    _function = staticmethod(mean_absolute_error)


class MeanAbsolutePercentageError(FunctionMean):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` per sample, averaged (``"mape"``).

    Args:
        name: the log key.
        dtype: only ``None``/``"float32"``: kerasish metrics accumulate in float32.

    Example:
        model.compile("adam", "mse", metrics=[ks.metrics.MeanAbsolutePercentageError()])
    """

    _function = staticmethod(mean_absolute_percentage_error)


class MeanSquaredLogarithmicError(FunctionMean):
    """``mean((log(1 + y_pred) - log(1 + y_true))**2)`` per sample, averaged (``"msle"``).

    Args:
        name: the log key.
        dtype: only ``None``/``"float32"``.

    Example:
        model.compile("adam", "mse", metrics=["msle"])
    """

    _function = staticmethod(mean_squared_logarithmic_error)


class RootMeanSquaredError(FunctionMean):
    """The square root of the running weighted mean of squared errors.

    Args:
        name: the log key (``"rmse"`` when given by that name).

    Example:
        rmse = ks.metrics.RootMeanSquaredError()
        rmse.update_state(torch.tensor([[0.0], [0.0]]), torch.tensor([[3.0], [4.0]]))
        rmse.result()   # tensor(3.5355): sqrt((9 + 16) / 2)
    """

    _function = staticmethod(mean_squared_error)

    def result(self) -> torch.Tensor:
        """``sqrt`` of the mean squared error over everything seen since the last reset."""
        return super().result().sqrt()
