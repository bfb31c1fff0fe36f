"""Hinge metrics: Keras's margin functions per sample (``y_true`` first) and their running means;
the values are the hinge losses' (``kerasish.losses.hinge``), as Keras's metrics call its losses."""

from __future__ import annotations

import torch

from kerasish.losses.hinge import categorical_hinge_values, hinge_values, squared_hinge_values
from kerasish.metrics.reduction import FunctionMean


def _floats(y_true, y_pred) -> tuple[torch.Tensor, torch.Tensor]:
    dtype = y_pred.dtype if y_pred.is_floating_point() else torch.float32
    return y_true.to(dtype), y_pred.to(dtype)


def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis, per sample.

    Args:
        y_true: -1/1 labels (0/1 labels are converted, as in Keras).
        y_pred: the outputs, shaped like ``y_true``.

    Example:
        ks.metrics.hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[-0.5, 0.5]]))   # tensor([0.5000])
    """
    return hinge_values(*_floats(y_true, y_pred))


def squared_hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis, per sample.

    Args:
        y_true: -1/1 labels (0/1 labels are converted, as in Keras).
        y_pred: the outputs, shaped like ``y_true``.

    Example:
        model.compile("adam", "squared_hinge", metrics=[ks.metrics.squared_hinge])
    """
    return squared_hinge_values(*_floats(y_true, y_pred))


def categorical_hinge(y_true, y_pred):
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` per sample.

    Args:
        y_true: one-hot targets, classes on the last axis.
        y_pred: the scores over the same classes.

    Example:
        ks.metrics.categorical_hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3, 0.8]]))
        # tensor([0.5000])
    """
    return categorical_hinge_values(*_floats(y_true, y_pred))


class Hinge(FunctionMean):
    """The running mean of ``hinge`` (Keras's ``Hinge`` metric).

    Args:
        name: the log key (default ``"hinge"``).
        dtype: the state's dtype (see ``Metric``).

    Example:
        model.compile("adam", "hinge", metrics=[ks.metrics.Hinge()])
    """

    _function = staticmethod(hinge)


class SquaredHinge(FunctionMean):
    """The running mean of ``squared_hinge`` (Keras's ``SquaredHinge`` metric).

    Args:
        name: the log key (default ``"squared_hinge"``).
        dtype: the state's dtype (see ``Metric``).

    Example:
        model.compile("adam", "squared_hinge", metrics=[ks.metrics.SquaredHinge()])
    """

    _function = staticmethod(squared_hinge)


class CategoricalHinge(FunctionMean):
    """The running mean of ``categorical_hinge`` (Keras's ``CategoricalHinge`` metric).

    Args:
        name: the log key (default ``"categorical_hinge"``).
        dtype: the state's dtype (see ``Metric``).

    Example:
        model.compile("adam", "categorical_crossentropy", metrics=[ks.metrics.CategoricalHinge()])
    """

    _function = staticmethod(categorical_hinge)
