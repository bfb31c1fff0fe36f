"""Hinge losses: margin losses for -1/1 (or 0/1) labels, and the categorical hinge for one-hot
labels, as Keras's hinge family (functions in Keras's order and classes around them)."""

from __future__ import annotations

from typing import Any

import torch

from kerasish.losses.base import LossFunctionWrapper, to_tensors

Reduction = str | None


def convert_binary_labels_to_hinge(y_true: torch.Tensor) -> torch.Tensor:
    """Labels that are all 0 or 1 become -1/1 (``2 * y - 1``); others are kept, as in Keras.

    The choice is a ``torch.where`` on the device, not a host read.
    """
    is_binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels count as -1/1."""
    y_true, y_pred = to_tensors(y_true, y_pred, None)
    y_true = convert_binary_labels_to_hinge(y_true)
    return (1.0 - y_true * y_pred).clamp_min(0.0).mean(dim=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)``; labels as for ``hinge``."""
    y_true, y_pred = to_tensors(y_true, y_pred, None)
    y_true = convert_binary_labels_to_hinge(y_true)
    return (1.0 - y_true * y_pred).clamp_min(0.0).square().mean(dim=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` over the last axis,
    for one-hot ``y_true``."""
    y_true, y_pred = to_tensors(y_true, y_pred, None)
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return (neg - pos + 1.0).clamp_min(0.0)


class Hinge(LossFunctionWrapper):
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis, for -1/1 or 0/1 labels.

    Labels that are all 0 or 1 are converted to -1/1, as Keras converts binary labels.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"hinge"``.

    Example:
        ks.losses.Hinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[-0.5, 0.5]]))   # tensor(0.5)
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size", name: str | None = "hinge",
                 dtype: Any = None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis; labels as for ``Hinge``.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"squared_hinge"``.

    Example:
        model.compile("adam", loss="squared_hinge")
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "squared_hinge", dtype: Any = None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """The categorical hinge for one-hot targets: the best wrong class's score minus the true
    class's, plus 1, floored at 0.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"categorical_hinge"``.

    Example:
        ks.losses.CategoricalHinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3, 0.7]]))  # 0.6
    """

    def __init__(self, reduction: Reduction = "sum_over_batch_size",
                 name: str | None = "categorical_hinge", dtype: Any = None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)
