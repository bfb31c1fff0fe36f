"""Hinge losses: margin losses for -1/1 (or 0/1) labels, as Keras's hinge family."""

from __future__ import annotations

import torch

from kerasish.losses.base import Loss


class Hinge(Loss):
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis, for -1/1 or 0/1 labels.

    A label 0 counts as -1, as Keras converts binary labels.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"hinge"``.

    Example:
        ks.losses.Hinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[-0.5, 0.5]]))   # tensor(0.5)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = _to_plus_minus_one(y_true)
        return (1.0 - y_true * y_pred).clamp_min(0.0).mean(dim=-1)


class SquaredHinge(Loss):
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis; labels as for ``Hinge``.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"squared_hinge"``.

    Example:
        model.compile("adam", loss="squared_hinge")
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = _to_plus_minus_one(y_true)
        return (1.0 - y_true * y_pred).clamp_min(0.0).square().mean(dim=-1)


def _to_plus_minus_one(y_true: torch.Tensor) -> torch.Tensor:
    # Keras converts {0, 1} labels to {-1, 1}; labels already in {-1, 1} are kept.
    return torch.where(y_true == 0, -torch.ones_like(y_true), y_true)


class CategoricalHinge(Loss):
    """``max(0, 1 + max((1 - y_true) * y_pred) - sum(y_true * y_pred))`` per sample, for one-hot
    targets over the last axis (Keras's ``CategoricalHinge``).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"categorical_hinge"``.

    Example:
        ks.losses.CategoricalHinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3, 0.7]]))  # 0.6
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        pos = (y_true * y_pred).sum(dim=-1)
        neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
        return (neg - pos + 1.0).clamp_min(0.0)
