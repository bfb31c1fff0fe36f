"""Keras's loss functions (``keras.losses.mean_squared_error``, ...): the per-sample values of the
matching ``ks.losses`` class, unreduced and unweighted, so one formula serves both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kerasish.losses.base import Loss, as_float_tensor
from kerasish.losses.circle import circle_values
from kerasish.losses.ctc import CTC
from kerasish.losses.focal import BinaryFocalCrossentropy, CategoricalFocalCrossentropy
from kerasish.losses.generalized_crossentropy import CategoricalGeneralizedCrossEntropy
from kerasish.losses.hinge import CategoricalHinge, Hinge, SquaredHinge
from kerasish.losses.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from kerasish.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
)
from kerasish.losses.segmentation import Dice, Tversky


def _values(loss: Loss, y_true: Any, y_pred: Any) -> torch.Tensor:
    return loss(y_true, y_pred)  # reduction=None: the per-sample values


def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample mean squared error over the last axis (Keras's ``mean_squared_error``).

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(MeanSquaredError(reduction=None), y_true, y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample mean absolute error over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(MeanAbsoluteError(reduction=None), y_true, y_pred)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample mean absolute percentage error over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(MeanAbsolutePercentageError(reduction=None), y_true, y_pred)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample mean squared logarithmic error over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(MeanSquaredLogarithmicError(reduction=None), y_true, y_pred)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Per-sample Huber loss over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
        delta: where the loss turns from quadratic to linear.
    """
    return _values(Huber(delta, reduction=None), y_true, y_pred)


def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample log-cosh error over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(LogCosh(reduction=None), y_true, y_pred)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Per-sample negative cosine similarity along ``axis``.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
        axis: the axis the loss reduces over.
    """
    return _values(CosineSimilarity(axis, reduction=None), y_true, y_pred)


def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample hinge loss over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(Hinge(reduction=None), y_true, y_pred)


def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample squared hinge loss over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(SquaredHinge(reduction=None), y_true, y_pred)


def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample categorical hinge loss.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(CategoricalHinge(reduction=None), y_true, y_pred)


def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample Kullback-Leibler divergence over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(KLDivergence(reduction=None), y_true, y_pred)


def poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample Poisson loss over the last axis.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
    """
    return _values(Poisson(reduction=None), y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Per-sample binary cross-entropy, averaged along ``axis``.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
        from_logits: ``y_pred`` holds logits rather than probabilities.
        label_smoothing: how far to smooth the targets towards uniform (0: none).
        axis: the axis the loss reduces over.
    """
    loss = BinaryCrossentropy(from_logits, label_smoothing, axis, reduction=None)
    return _values(loss, y_true, y_pred)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Per-sample categorical cross-entropy over the class axis ``axis``.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
        from_logits: ``y_pred`` holds logits rather than probabilities.
        label_smoothing: how far to smooth the targets towards uniform (0: none).
        axis: the axis the loss reduces over.
    """
    loss = CategoricalCrossentropy(from_logits, label_smoothing, axis, reduction=None)
    return _values(loss, y_true, y_pred)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None,
                                    axis: int = -1) -> torch.Tensor:
    """Per-sample sparse categorical cross-entropy; float labels are cast to integers, as Keras
    casts them (the class's ``TypeError`` for float labels guards ``compile``'s targets).

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
        from_logits: ``y_pred`` holds logits rather than probabilities.
        ignore_class: a class index whose samples count for nothing (``None``: none).
        axis: the axis the loss reduces over.
    """
    y_true = torch.as_tensor(y_true)
    if y_true.is_floating_point():
        y_true = y_true.long()
    loss = SparseCategoricalCrossentropy(from_logits, ignore_class, None, axis)
    return _values(loss, y_true, y_pred)



def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                              label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Per-sample binary focal cross-entropy, averaged along ``axis``.

    Args:
        y_true: the targets (tensors, NumPy arrays or lists).
        y_pred: the outputs, the same shape as ``y_true``.
        apply_class_balancing, alpha, gamma, from_logits, label_smoothing, axis: as
            ``BinaryFocalCrossentropy``.
    """
    loss = BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits,
                                   label_smoothing, axis, reduction=None)
    return _values(loss, y_true, y_pred)


def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: float | Sequence[float] = 0.25,
                                   gamma: float = 2.0, from_logits: bool = False,
                                   label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Per-sample categorical focal cross-entropy over the class axis ``axis``.

    Args:
        y_true: the one-hot (or soft) targets.
        y_pred: the outputs, the same shape as ``y_true``.
        alpha, gamma, from_logits, label_smoothing, axis: as ``CategoricalFocalCrossentropy``.
    """
    loss = CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing, axis,
                                        reduction=None)
    return _values(loss, y_true, y_pred)


def ctc(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sequence CTC loss: ``(batch, max_length)`` labels (0 the blank) against
    ``(batch, time, classes)`` logits, as ``CTC``.

    Args:
        y_true: the integer label sequences, padded with 0.
        y_pred: the logits.
    """
    return _values(CTC(reduction=None), y_true, y_pred)


def dice(y_true: Any, y_pred: Any, axis: Any = None) -> torch.Tensor:
    """The Dice loss over ``axis`` (``None``: one value for everything), as ``Dice``.

    Args:
        y_true: the targets.
        y_pred: the outputs, the same shape as ``y_true``.
        axis: the axes the sums run over.
    """
    return _values(Dice(reduction=None, axis=axis), y_true, y_pred)


def tversky(y_true: Any, y_pred: Any, alpha: float = 0.5, beta: float = 0.5,
            axis: Any = None) -> torch.Tensor:
    """The Tversky loss over ``axis``, as ``Tversky``.

    Args:
        y_true: the targets.
        y_pred: the outputs, the same shape as ``y_true``.
        alpha, beta, axis: as ``Tversky``.
    """
    return _values(Tversky(alpha, beta, reduction=None, axis=axis), y_true, y_pred)


def circle(y_true: Any, y_pred: Any, ref_labels: Any = None, ref_embeddings: Any = None,
           remove_diagonal: bool = True, gamma: float = 80, margin: float = 0.4) -> torch.Tensor:
    """Per-embedding Circle loss against a reference set (``None``: the batch itself).

    Args:
        y_true: the integer labels, ``(N,)``.
        y_pred: the L2-normalised embeddings, ``(N, D)``.
        ref_labels, ref_embeddings, remove_diagonal, gamma, margin: as ``circle_values``.
    """
    y_pred = as_float_tensor(y_pred, None)
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    return circle_values(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal, gamma,
                         margin)


def categorical_generalized_cross_entropy(y_true: Any, y_pred: Any, q: float) -> torch.Tensor:
    """Per-sample generalized cross-entropy ``(1 - p ** q) / q`` for integer labels.

    Args:
        y_true: the class indices, ``y_pred``'s shape without the class axis.
        y_pred: the predicted probabilities.
        q: the noise parameter, in ``(0, 1)``.
    """
    return _values(CategoricalGeneralizedCrossEntropy(q, reduction=None), y_true, y_pred)


# Keras's short aliases.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh


# What get_loss calls Keras's way round (adapters.LossFunction), not torch-style as a user's own.
KERAS_ORDER_FUNCTIONS = frozenset(
    value for key, value in dict(globals()).items()
    if callable(value) and getattr(value, "__module__", None) == __name__ and not key.startswith("_")
    and not isinstance(value, type))
