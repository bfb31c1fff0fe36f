"""Focal cross-entropies (Lin et al., 2018): cross-entropy scaled by a focal factor that
down-weights easy examples, Keras's ``BinaryFocalCrossentropy`` and ``CategoricalFocalCrossentropy``.

Both follow Keras's formulas step by step (the same clipping, the same order of label smoothing,
softmax/sigmoid and normalisation), so their values match Keras on the torch backend.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from kerasish.losses.base import EPSILON, Loss


def _check_axis(axis: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis!r} of type {type(axis)}")
    return axis


def binary_focal_values(y_true: torch.Tensor, y_pred: torch.Tensor, apply_class_balancing: bool,
                        alpha: float, gamma: float, from_logits: bool, label_smoothing: float,
                        axis: int) -> torch.Tensor:
    """Keras's ``binary_focal_crossentropy``: per-sample values, averaged along ``axis``."""
    y_true = y_true.to(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    # Keras's torch backend: torch's kernel on probabilities clipped to [1e-7, 1 - 1e-7].
    bce = F.binary_cross_entropy(y_pred.clamp(EPSILON, 1.0 - EPSILON), y_true, reduction="none")
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal_bce = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal_bce = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal_bce
    return focal_bce.mean(dim=axis)


def categorical_focal_values(y_true: torch.Tensor, y_pred: torch.Tensor,
                             alpha: float | Sequence[float], gamma: float, from_logits: bool,
                             label_smoothing: float, axis: int, name: str) -> torch.Tensor:
    """Keras's ``categorical_focal_crossentropy``: per-sample values, summed along ``axis``."""
    y_true = y_true.to(y_pred.dtype)
    if y_pred.shape[-1] == 1:
        warnings.warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=3)
    if label_smoothing:  # Keras smooths over the last axis's size, whatever ``axis`` is
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    output = (y_pred / y_pred.sum(dim=axis, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)
    cce = -y_true * torch.log(output)
    weight = torch.pow(1.0 - output, gamma)
    if isinstance(alpha, (int, float)):
        weight = weight * alpha
    else:  # one alpha per class, broadcast against the last axis as in Keras
        weight = weight * torch.as_tensor(alpha, dtype=output.dtype, device=output.device)
    return (weight * cce).sum(dim=axis)


class BinaryFocalCrossentropy(Loss):
    """Binary cross-entropy times the focal factor ``(1 - p_t) ** gamma`` (Keras's class).

    ``p_t`` is the probability given to the true class, so confident, correct predictions count
    less; ``gamma=0`` is plain binary cross-entropy. Targets are 0/1 (or soft), shaped like the
    outputs; the loss is averaged along ``axis``.

    Args:
        apply_class_balancing: weight class 1 by ``alpha`` and class 0 by ``1 - alpha``.
        alpha: the class-1 weight used with ``apply_class_balancing``.
        gamma: the focusing parameter.
        from_logits: whether ``y_pred`` are logits (a sigmoid is applied first).
        label_smoothing: moves the targets towards 0.5: ``y * (1 - s) + 0.5 * s``.
        axis: the axis the loss is averaged over.
        reduction, name, dtype: as ``Loss``; the default name is ``"binary_focal_crossentropy"``.

    Example:
        loss = ks.losses.BinaryFocalCrossentropy(gamma=2.0, from_logits=True)
        loss(torch.tensor([[0.0, 1.0, 0.0, 0.0]]), torch.tensor([[-18.6, 0.51, 2.94, -12.8]]))  # 0.691
    """

    def __init__(self, apply_class_balancing: bool = False, alpha: float = 0.25, gamma: float = 2.0,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str | None = "binary_focal_crossentropy",
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "binary_focal_crossentropy", reduction=reduction, dtype=dtype)
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis,
                "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}

    def call(self, y_true, y_pred):
        return binary_focal_values(y_true, y_pred, self.apply_class_balancing, self.alpha,
                                   self.gamma, self.from_logits, self.label_smoothing, self.axis)


class CategoricalFocalCrossentropy(Loss):
    """Alpha-balanced focal cross-entropy against one-hot (or soft) targets (Keras's class).

    ``alpha * (1 - p) ** gamma * -y_true * log(p)`` summed over the class axis, with ``p`` the
    outputs rescaled to sum to 1 and clipped to ``[1e-7, 1 - 1e-7]`` (after a softmax with
    ``from_logits=True``), as in Keras.

    Args:
        alpha: a weight for all classes, or a list with one weight per class.
        gamma: the focusing parameter (0: alpha-weighted categorical cross-entropy).
        from_logits: whether ``y_pred`` are logits rather than probabilities.
        label_smoothing: mixes the targets with the uniform distribution: ``y * (1 - s) + s / C``.
        axis: the class axis.
        reduction, name, dtype: as ``Loss``; the default name is ``"categorical_focal_crossentropy"``.

    Raises:
        ValueError: ``axis`` is not an integer.

    Example:
        model.compile("adam", loss=ks.losses.CategoricalFocalCrossentropy(alpha=[0.1, 0.3, 0.6]))
    """

    def __init__(self, alpha: float | Sequence[float] = 0.25, gamma: float = 2.0,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str | None = "categorical_focal_crossentropy",
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "categorical_focal_crossentropy", reduction=reduction,
                         dtype=dtype)
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = _check_axis(axis)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis, "alpha": self.alpha,
                "gamma": self.gamma}

    def call(self, y_true, y_pred):
        return categorical_focal_values(y_true, y_pred, self.alpha, self.gamma, self.from_logits,
                                        self.label_smoothing, self.axis, self.name)
