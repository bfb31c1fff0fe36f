"""Hinge losses: margin losses for -1/1 (or 0/1) labels, as Keras's hinge family.

The per-sample values (``hinge_values``, ...) are the one implementation: the ``ks.metrics``
hinge metrics and functions compute them too, as Keras's metrics call its losses.
"""

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
        return hinge_values(y_true, y_pred)


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
        return squared_hinge_values(y_true, y_pred)


def plus_minus_one(y_true: torch.Tensor) -> torch.Tensor:
    """Keras's ``convert_binary_labels_to_hinge``: labels that are all 0/1 become -1/1; any other
    labels (-1/1, or a mix such as -1/0/1) are kept as they are.

    Decided on the device (``torch.where``), so the batch's labels are never read by the host.
    """
    binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(binary, 2.0 * y_true - 1.0, y_true)


def hinge_values(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis, per sample."""
    return (1.0 - plus_minus_one(y_true) * y_pred).clamp_min(0.0).mean(dim=-1)


def squared_hinge_values(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis, per sample."""
    return (1.0 - plus_minus_one(y_true) * y_pred).clamp_min(0.0).square().mean(dim=-1)


def categorical_hinge_values(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` per sample."""
    positive = (y_true * y_pred).sum(dim=-1)
    negative = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return (negative - positive + 1.0).clamp_min(0.0)


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
        return categorical_hinge_values(y_true, y_pred)
