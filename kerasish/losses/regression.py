"""Regression losses: the error between outputs and targets of the same shape, averaged over the
last axis per sample (Keras's regression family, cosine similarity included).

Each loss is a function in Keras's order, ``fn(y_true, y_pred)`` returning one value per sample
(``ks.losses.mean_squared_error``, ...), and a class around it with Keras's positional arguments:
``(reduction, name, dtype)``, after the loss's own ones (``Huber(delta, ...)``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from kerasish.losses.base import EPSILON, LossFunctionWrapper, squeeze_or_expand_to_same_rank, to_tensors

Reduction = str | None


def pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's loss-function preamble: tensors, the targets in the outputs' float dtype, and a
    trailing 1-axis squeezed or added so the ranks match."""
    y_true, y_pred = to_tensors(y_true, y_pred, None)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(square(y_true - y_pred), axis=-1)``: one value per sample, as Keras's function."""
    y_true, y_pred = pair(y_true, y_pred)
    return (y_pred - y_true).square().mean(dim=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(abs(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = pair(y_true, y_pred)
    return (y_pred - y_true).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)), axis=-1)``."""
    y_true, y_pred = pair(y_true, y_pred)
    diff = (y_true - y_pred).abs() / y_true.abs().clamp_min(EPSILON)
    return 100.0 * diff.mean(dim=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(square(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)), axis=-1)``."""
    y_true, y_pred = pair(y_true, y_pred)
    first = torch.log(y_pred.clamp_min(EPSILON) + 1.0)
    second = torch.log(y_true.clamp_min(EPSILON) + 1.0)
    return (first - second).square().mean(dim=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: -1 for aligned vectors."""
    y_true, y_pred = pair(y_true, y_pred)
    y_true = F.normalize(y_true, dim=axis, eps=1e-12)
    y_pred = F.normalize(y_pred, dim=axis, eps=1e-12)
    return -(y_true * y_pred).sum(dim=axis)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """``0.5 * e**2`` where ``|e| <= delta``, else ``delta * |e| - 0.5 * delta**2``, averaged over
    the last axis (``e = y_pred - y_true``)."""
    y_true, y_pred = pair(y_true, y_pred)
    return F.huber_loss(y_pred, y_true, reduction="none", delta=float(delta)).mean(dim=-1)


def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow."""
    y_true, y_pred = pair(y_true, y_pred)
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


class MeanSquaredError(LossFunctionWrapper):
    """``mean((y_pred - y_true) ** 2)`` over the last axis, per sample (``"mse"``).

    Args:
        reduction, name, dtype: as ``Loss``, in Keras's positional order; the default name is
            ``"mean_squared_error"``.

    Example:
        ks.losses.MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))  # 0.5
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "mean_squared_error", dtype: Any = None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)

    def mean(self, y_true, y_pred):
        return F.mse_loss(y_pred, y_true)


class MeanAbsoluteError(LossFunctionWrapper):
    """``mean(|y_pred - y_true|)`` over the last axis, per sample (``"mae"``).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"mean_absolute_error"``.

    Example:
        model.compile("adam", loss=ks.losses.MeanAbsoluteError())
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "mean_absolute_error", dtype: Any = None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)

    def mean(self, y_true, y_pred):
        return F.l1_loss(y_pred, y_true)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis (``"mape"``).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is
            ``"mean_absolute_percentage_error"``.

    Example:
        mape = ks.losses.MeanAbsolutePercentageError()(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        # tensor(50.): the output misses the target by half of it
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "mean_absolute_percentage_error", dtype: Any = None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """``mean((log(1 + y_pred) - log(1 + y_true)) ** 2)`` over the last axis (``"msle"``).

    Values below 1e-7 are raised to 1e-7 before the logarithm, as in Keras.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is
            ``"mean_squared_logarithmic_error"``.

    Example:
        model.compile("adam", loss="msle")   # the same loss by name
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "mean_squared_logarithmic_error", dtype: Any = None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype)


class Huber(LossFunctionWrapper):
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

    def __init__(self, delta: float = 1.0, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "huber_loss", dtype: Any = None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


class LogCosh(LossFunctionWrapper):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed without overflow.

    About ``e**2 / 2`` for small errors and ``|e| - log(2)`` for large ones.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"log_cosh"``.

    Example:
        model.compile("adam", loss=ks.losses.LogCosh())
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "log_cosh", dtype: Any = None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """The negative cosine similarity of ``y_true`` and ``y_pred`` along ``axis``.

    -1 for vectors pointing the same way, 0 for orthogonal ones, so minimising it aligns the
    outputs with the targets (Keras's sign convention).

    Args:
        axis: the axis the similarity is computed along.
        reduction, name, dtype: as ``Loss``; the default name is ``"cosine_similarity"``.

    Example:
        ks.losses.CosineSimilarity()(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))  # -1.
    """

    def __init__(self, axis: int = -1, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "cosine_similarity", dtype: Any = None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis
