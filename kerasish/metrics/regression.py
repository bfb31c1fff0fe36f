"""Regression metrics: per-sample error functions (Keras order, ``y_true`` first) and their running
means, ``RootMeanSquaredError`` included.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from kerasish.metrics.base import EPSILON, Metric, align, as_tensors
from kerasish.metrics.reduction import FunctionMean, Mean, MeanMetricWrapper


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


class RootMeanSquaredError(Mean):
    """The square root of the running weighted mean of squared errors.

    Args:
        name: the log key (``"rmse"`` when given by that name).

    Example:
        rmse = ks.metrics.RootMeanSquaredError()
        rmse.update_state(torch.tensor([[0.0], [0.0]]), torch.tensor([[3.0], [4.0]]))
        rmse.result()   # tensor(3.5355): sqrt((9 + 16) / 2)
    """

    def __init__(self, name: str | None = "root_mean_squared_error", dtype: Any = None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:  # type: ignore[override]
        """Add the batch's squared errors, element by element (Keras's rule: ``(N,)`` inputs
        give one squared error per sample, not one mean for the batch).

        Args:
            y_true: the targets; array-likes become tensors.
            y_pred: the outputs, shaped like ``y_true`` up to a trailing 1-axis.
            sample_weight: ``None``, or weights as ``Mean`` takes them.
        """
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        y_true, y_pred = align(y_true.to(self.torch_dtype), y_pred.detach().to(self.torch_dtype))
        self._accumulate((y_pred - y_true).square(), sample_weight)

    def result(self) -> torch.Tensor:
        """``sqrt`` of the mean squared error over everything seen since the last reset."""
        return super().result().sqrt()


def _as_float(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both in ``y_pred``'s floating dtype (float32 for integer outputs), as Keras converts them."""
    dtype = y_pred.dtype if y_pred.is_floating_point() else torch.float32
    return y_true.to(dtype), y_pred.to(dtype)


def cosine_similarity(y_true, y_pred, axis: int = -1):
    """The cosine of the angle between ``y_true`` and ``y_pred`` along ``axis``, per sample.

    Both are L2-normalised first (norms below 1e-6 count as 1e-6, Keras's ``normalize``).

    Args:
        y_true: the targets.
        y_pred: the outputs, shaped like ``y_true`` up to a trailing 1-axis.
        axis: the axis along which the vectors lie.

    Example:
        ks.metrics.cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
        # tensor([0.7071])
    """
    y_true, y_pred = _as_float(*align(y_true, y_pred))
    y_true = torch.nn.functional.normalize(y_true, dim=axis, eps=1e-6)
    y_pred = torch.nn.functional.normalize(y_pred, dim=axis, eps=1e-6)
    return (y_true * y_pred).sum(dim=axis)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed without overflow.

    Args:
        y_true: the targets.
        y_pred: the outputs, shaped like ``y_true`` up to a trailing 1-axis.

    Example:
        ks.metrics.log_cosh(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, -1.0]]))
        # tensor([0.4338])
    """
    y_true, y_pred = _as_float(*align(y_true, y_pred))
    error = y_pred - y_true
    return (error + torch.nn.functional.softplus(-2.0 * error) - math.log(2.0)).mean(dim=-1)


class CosineSimilarity(MeanMetricWrapper):
    """The running mean of ``cosine_similarity`` (Keras's ``CosineSimilarity`` metric).

    Args:
        name: the log key.
        dtype: the state's dtype (see ``Metric``).
        axis: the axis along which the vectors lie.

    Example:
        model.compile("adam", "mse", metrics=[ks.metrics.CosineSimilarity(axis=-1)])
    """

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}  # Keras leaves axis out, too


class LogCoshError(FunctionMean):
    """The running mean of ``log_cosh`` (Keras's ``LogCoshError``, logged as ``"logcosh"``).

    Args:
        name: the log key.
        dtype: the state's dtype (see ``Metric``).

    Example:
        model.compile("adam", "mse", metrics=[ks.metrics.LogCoshError()])
    """

    _function = staticmethod(log_cosh)

    def __init__(self, name: str = "logcosh", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """The coefficient of determination, per output column or aggregated (Keras's ``R2Score``).

    Its state is five sums over samples (per column: squared sum, sum, squared residual, weight;
    and the number of values), created at the first batch on its device, so ``summed_state``
    hands them to the cross-rank reduction.

    Args:
        class_aggregation: ``"uniform_average"`` (the mean of the columns' scores),
            ``"variance_weighted_average"`` (weighted by each column's variance) or ``None``
            (one score per column).
        num_regressors: the number of independent variables, for the adjusted R2 (0: plain R2).
        name: the log key.
        dtype: the state's dtype (see ``Metric``).

    Raises:
        ValueError: an unknown ``class_aggregation``, a negative ``num_regressors``; at
            ``update_state``, inputs that are not 2-D.

    Example:
        r2 = ks.metrics.R2Score()
        r2.update_state(torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[1.0], [2.0], [4.0]]))
        r2.result()   # tensor(0.5000)
    """

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score", dtype: Any = None):
        super().__init__(name, dtype)
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(
                "Invalid value for argument `class_aggregation`. Expected one of "
                f"{_AGGREGATIONS}. Received: class_aggregation={class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value >= 0. "
                             f"Received: num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self._sums: list[torch.Tensor] | None = None

    def reset_state(self) -> None:
        self._sums = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add a batch of ``(samples, outputs)`` targets and predictions.

        Args:
            y_true: the targets, 2-D.
            y_pred: the predictions, 2-D, one column per output.
            sample_weight: ``None``, one weight per sample, or weights shaped like ``y_true``.
        """
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        y_true, y_pred = align(y_true.to(self.torch_dtype), y_pred.detach().to(self.torch_dtype))
        if y_true.dim() != 2 or y_pred.dim() != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). Received "
                             f"input shapes: y_pred.shape={tuple(y_pred.shape)} and "
                             f"y_true.shape={tuple(y_true.shape)}.")
        y_true = y_true.to(y_pred.device)
        weight = (torch.ones((), dtype=self.torch_dtype, device=y_pred.device) if sample_weight is None
                  else sample_weight.detach().to(device=y_pred.device, dtype=self.torch_dtype))
        if weight.dim() == 1:
            weight = weight.unsqueeze(1)
        weight = weight.broadcast_to(y_true.shape)
        weighted = y_true * weight
        batch = [(y_true * weighted).sum(0), weighted.sum(0), ((y_true - y_pred).square() * weight).sum(0),
                 weight.sum(0), torch.tensor(float(y_true.numel()), dtype=self.torch_dtype)]
        if self._sums is None or self._sums[0].device != y_pred.device:
            self._sums = [torch.zeros_like(t, device=y_pred.device) for t in batch]
        for total, value in zip(self._sums, batch):
            total += value.to(total.device)

    def result(self) -> torch.Tensor:
        if self._sums is None:
            return torch.zeros(())
        squared_sum, total_sum, residual, count, num_samples = self._sums
        total = squared_sum - total_sum * (total_sum / count)
        raw = 1 - residual / total
        raw = torch.where(torch.isinf(raw), torch.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        return self._adjusted(score, num_samples) if self.num_regressors else score

    def _adjusted(self, score: torch.Tensor, num_samples: torch.Tensor) -> torch.Tensor:
        # Reads the sample count on the host: result() runs once per epoch, never per step.
        n = float(num_samples)
        if self.num_regressors >= n - 1:
            warnings.warn("More independent predictors than datapoints in adjusted R2 score, or a "
                          "division by zero. Falling back to standard R2 score.", stacklevel=3)
            return score
        return 1 - (1 - score) * (n - 1) / (n - self.num_regressors - 1)

    @property
    def variables(self) -> list[torch.Tensor]:
        """Keras's order: the sample count, then the per-column sums (once a batch was seen)."""
        if self._sums is None:
            return [torch.zeros((), dtype=self.torch_dtype)]
        return [self._sums[4], *self._sums[:4]]

    def summed_state(self) -> list[torch.Tensor]:
        if self._sums is None:
            raise ValueError("R2Score saw no batch on this rank, so the shapes of its sums are unknown; "
                             "give every rank at least one batch.")
        return list(self._sums)

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        self._sums = list(state)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
