"""Overlap losses for segmentation masks: Keras's ``Dice`` and ``Tversky``.

Both reduce over ``axis`` (``None``: every axis, one value for the whole batch; ``(1, 2, 3)`` for
images: one value per sample) and add Keras's epsilon to the denominator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from kerasish.losses.base import EPSILON, Loss

Axis = int | Sequence[int] | None


def _sum(x: torch.Tensor, axis: Axis) -> torch.Tensor:
    if axis is None:
        return x.sum()
    return x.sum(dim=axis if isinstance(axis, int) else tuple(axis))


def dice_values(y_true: torch.Tensor, y_pred: torch.Tensor, axis: Axis = None) -> torch.Tensor:
    """Keras's ``dice``: ``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + eps)``."""
    y_true = y_true.to(y_pred.dtype)
    intersection = _sum(y_true * y_pred, axis)
    return 1 - 2.0 * intersection / (_sum(y_true, axis) + _sum(y_pred, axis) + EPSILON)


def tversky_values(y_true: torch.Tensor, y_pred: torch.Tensor, alpha: float = 0.5,
                   beta: float = 0.5, axis: Axis = None) -> torch.Tensor:
    """Keras's ``tversky``: ``1 - TP / (TP + alpha * FP + beta * FN + eps)``, in Keras's terms
    (its ``fp`` is ``sum((1 - y_pred) * y_true)``, its ``fn`` ``sum(y_pred * (1 - y_true))``)."""
    y_true = y_true.to(y_pred.dtype)
    intersection = _sum(y_true * y_pred, axis)
    fp = _sum((1 - y_pred) * y_true, axis)
    fn = _sum(y_pred * (1 - y_true), axis)
    return 1 - intersection / (intersection + fp * alpha + fn * beta + EPSILON)


class Dice(Loss):
    """The Dice loss ``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred))`` (Keras's).

    Targets are shaped like the outputs. With ``axis=None`` (Keras's default) the sums run over
    the whole batch, giving one value; pass the non-batch axes (``axis=(1, 2, 3)``) for one value
    per sample, which ``sample_weight`` and the reduction then apply to.

    Args:
        reduction, name: as ``Loss``; the default name is ``"dice"``.
        axis: the axes the sums run over (``None``: all).
        dtype: as ``Loss``.

    Example:
        model.compile("adam", loss=ks.losses.Dice(axis=(1, 2, 3)))   # a sigmoid mask per image
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "dice",
                 axis: Axis = None, dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "dice", reduction=reduction, dtype=dtype)
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

    def call(self, y_true, y_pred):
        return dice_values(y_true, y_pred, self.axis)


class Tversky(Loss):
    """The Tversky loss (Salehi et al., 2017): Dice with false positives and false negatives
    weighted by ``alpha`` and ``beta`` (``alpha = beta = 0.5`` is the Dice loss).

    Args:
        alpha: the weight of Keras's false-positive term.
        beta: the weight of Keras's false-negative term.
        reduction, name: as ``Loss``; the default name is ``"tversky"``.
        axis: the axes the sums run over (``None``: all), as for ``Dice``.
        dtype: as ``Loss``.

    Example:
        model.compile("adam", loss=ks.losses.Tversky(alpha=0.3, beta=0.7, axis=(1, 2)))
    """

    def __init__(self, alpha: float = 0.5, beta: float = 0.5,
                 reduction: str | None = "sum_over_batch_size", name: str | None = "tversky",
                 axis: Axis = None, dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "tversky", reduction=reduction, dtype=dtype)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "axis": self.axis}

    def call(self, y_true, y_pred):
        return tversky_values(y_true, y_pred, self.alpha, self.beta, self.axis)
