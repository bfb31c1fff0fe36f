"""Losses kerasish does not compute itself: torch loss modules and user callables (called
torch-style, ``fn(y_pred, y_true)``) and Keras losses (called Keras's way, with Keras's own
reduction), each behind the ``Loss`` interface ``compile`` expects (docs/differences.md)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeGuard

import torch

from kerasish.losses.base import Loss, weighted_reduce


def is_torch_loss_module(fn: Any) -> TypeGuard[torch.nn.modules.loss._Loss]:  # private: torch's loss base
    """Whether ``fn`` is one of torch's loss modules (or a subclass), whose ``reduction`` means what
    torch documents: a copy with ``reduction="none"`` gives per-element values to weight.

    torch has no public base class for its losses; this is the one place kerasish reads the private
    ``torch.nn.modules.loss._Loss`` (tests/test_private_apis.py fails if a torch release moves it).

    Args:
        fn: the loss given to ``compile``.
    """
    return isinstance(fn, torch.nn.modules.loss._Loss) and hasattr(fn, "reduction")  # private: as above


class LossFunction(Loss):
    """A ``ks.losses`` function given to ``compile`` (``loss=ks.losses.binary_crossentropy``):
    called Keras's way round, ``fn(y_true, y_pred)``, its per-sample values weighted and reduced as
    Keras's ``LossFunctionWrapper`` does. A user's own callable is called torch-style instead
    (``TorchStyleLoss``), so these must be told apart: called torch-style, a Keras-order function
    gets its arguments swapped and gives a wrong number without an error.

    Args:
        fn: one of ``kerasish.losses.functions``' functions.
        name: the log key (the function's name).
    """

    elementwise = False  # each function lines its targets up as its class does

    def __init__(self, fn: Callable[..., torch.Tensor], name: str):
        super().__init__(name=name)
        self.fn = fn

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self.fn(y_true, y_pred)


class TorchStyleLoss(Loss):
    """Adapts a torch loss module or a ``fn(y_pred, y_true)`` callable to the Keras reduction.

    Without sample weights the callable is used exactly as the user wrote it. With sample weights
    a torch loss module is re-run with ``reduction="none"`` and a callable must return one value
    per sample, because a scalar cannot be re-weighted.

    Args:
        fn: the torch loss module or callable, called ``fn(y_pred, y_true)``.
        name: the log key.
    """

    elementwise = False

    def __init__(self, fn: Callable[..., torch.Tensor], name: str):
        super().__init__(name=name)
        self.fn = fn
        self._unreduced = None
        if is_torch_loss_module(fn):
            self._unreduced = copy.copy(fn)
            self._unreduced.reduction = "none"

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            out = self.fn(y_pred, y_true)
            return out if out.dim() == 0 else out.mean()
        if self._unreduced is not None:
            values = self._unreduced(y_pred, y_true)
        else:
            values = self.fn(y_pred, y_true)
        if values.dim() == 0:
            raise ValueError(
                f"loss {self.name!r} returned a scalar, so sample_weight/class_weight cannot be "
                "applied. Return one loss value per sample (no reduction) from the loss function."
            )
        if values.dim() > 1:
            values = values.flatten(1).mean(dim=1)
        return weighted_reduce(values, sample_weight)


class KerasLoss(Loss):
    """A ``keras.losses.Loss`` object (Keras 3, torch backend) used with Keras's semantics.

    kerasish calls it exactly as Keras's trainer does, ``loss(y_true, y_pred, sample_weight)``:
    its own reduction, mask handling and name apply, and the arguments are never swapped.
    ``get_loss`` builds this wrapper for Keras loss objects, classes and functions
    (``keras.losses.categorical_crossentropy`` is wrapped in ``keras.losses.LossFunctionWrapper``
    as Keras's ``compile`` does). Keras computes on its own device (``cuda`` when there is one),
    so keep the model on that device.

    Args:
        loss: the ``keras.losses.Loss`` object.

    Example:
        model.compile("adam", keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
    """

    elementwise = False

    def __init__(self, loss: Any):
        super().__init__(name=loss.name, reduction=None)
        self.reduction = loss.reduction
        self.loss = loss

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.loss(y_true, y_pred, sample_weight=sample_weight)


def keras_function_loss(keras: Any, fn: Callable, name: str) -> Any:
    """A ``keras.losses.Loss`` around a Keras loss function, as Keras's ``compile`` wraps one (its
    ``LossFunctionWrapper`` is not public): Keras's ``Loss.__call__`` then applies the reduction,
    the sample weights and the masks.

    Args:
        keras: the ``keras`` module the function comes from.
        fn: the Keras loss function, ``fn(y_true, y_pred)`` returning per-sample values.
        name: the loss's name.
    """

    class FunctionLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return fn(y_true, y_pred)

    return FunctionLoss(name=name)
