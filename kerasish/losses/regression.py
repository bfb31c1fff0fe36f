"""Regression losses: the error between outputs and targets of the same shape, averaged over the
last axis per sample (Keras's regression family, cosine similarity included)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kerasish.losses.base import EPSILON, Loss


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true) ** 2)`` over the last axis, per sample (``"mse"``).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"mean_squared_error"``.

    Example:
        ks.losses.MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))  # 0.5
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return (y_pred - y_true).square().mean(dim=-1)

    def mean(self, y_true, y_pred):
        return F.mse_loss(y_pred, y_true.to(y_pred.dtype))


class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|)`` over the last axis, per sample (``"mae"``).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"mean_absolute_error"``.

    Example:
        model.compile("adam", loss=ks.losses.MeanAbsoluteError())
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return (y_pred - y_true).abs().mean(dim=-1)

    def mean(self, y_true, y_pred):
        return F.l1_loss(y_pred, y_true.to(y_pred.dtype))


class MeanAbsolutePercentageError(Loss):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis (``"mape"``).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"mean_absolute_percentage_error"``.

    Example:
        mape = ks.losses.MeanAbsolutePercentageError()(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        # tensor(50.): the output misses the target by half of it
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        diff = (y_true - y_pred).abs() / y_true.abs().clamp_min(EPSILON)
        return 100.0 * diff.mean(dim=-1)


class MeanSquaredLogarithmicError(Loss):
    """``mean((log(1 + y_pred) - log(1 + y_true)) ** 2)`` over the last axis (``"msle"``).

    Values below 1e-7 are raised to 1e-7 before the logarithm, as in Keras.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"mean_squared_logarithmic_error"``.

    Example:
        model.compile("adam", loss="msle")   # the same loss by name
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        first = torch.log(y_pred.clamp_min(EPSILON) + 1.0)
        second = torch.log(y_true.clamp_min(EPSILON) + 1.0)
        return (first - second).square().mean(dim=-1)


class Huber(Loss):
    """The Huber loss: quadratic for small errors, linear for large ones, averaged over the last axis.

    For an error ``e = y_pred - y_true``: ``0.5 * e**2`` where ``|e| <= delta``, else
    ``delta * (|e| - 0.5 * delta)``.

    Args:
        delta: where the loss turns from quadratic to linear.
        reduction, name, dtype: as ``Loss``; the default name is ``"huber_loss"``.

    Example:
        loss = ks.losses.Huber(delta=1.0)
        loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))   # (0.125 + 2.5) / 2
    """

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size",
                 name: str | None = "huber_loss", dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "huber_loss", reduction=reduction, dtype=dtype)
        self.delta = delta

    def call(self, y_true, y_pred):
        return F.huber_loss(y_pred, y_true.to(y_pred.dtype), reduction="none", delta=self.delta).mean(dim=-1)


class LogCosh(Loss):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed without overflow.

    About ``e**2 / 2`` for small errors and ``|e| - log(2)`` for large ones.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"log_cosh"``.

    Example:
        model.compile("adam", loss=ks.losses.LogCosh())
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        x = y_pred - y_true
        return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


class CosineSimilarity(Loss):
    """The negative cosine similarity of ``y_true`` and ``y_pred`` along the last axis.

    -1 for vectors pointing the same way, 0 for orthogonal ones, so minimising it aligns the
    outputs with the targets (Keras's sign convention).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"cosine_similarity"``.

    Example:
        ks.losses.CosineSimilarity()(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))  # -1.
    """

    def __init__(self, axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = axis

    def call(self, y_true, y_pred):
        # Keras: l2-normalise each (x / sqrt(max(sum(x**2), 1e-12))), then the summed product.
        y_true = F.normalize(y_true.to(y_pred.dtype), dim=self.axis, eps=1e-6)
        y_pred = F.normalize(y_pred, dim=self.axis, eps=1e-6)
        return -(y_true * y_pred).sum(dim=self.axis)
