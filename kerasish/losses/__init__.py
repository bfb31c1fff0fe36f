"""Losses with Keras names and semantics, plus torch's own names.

A Keras loss computes one value per sample, weights it by ``sample_weight`` and divides the sum by
the number of values ("sum_over_batch_size"). ``ks.losses`` objects keep Keras's call order,
``loss(y_true, y_pred, sample_weight=None)``, so ported code keeps working; user callables and torch
loss modules are called torch-style, ``fn(y_pred, y_true)`` (see docs/differences.md).

Element-wise losses never broadcast silently: a target whose shape differs from the output's is
an error, except the one case Keras also accepts, ``(N,)`` targets against ``(N, 1)`` outputs.

Each loss family lives in its own module (``regression``, ``probabilistic``, ``hinge``, ``focal``,
``segmentation``, ``ctc``, ``circle``, ``generalized_crossentropy``) on top of
``base``; ``adapters`` wraps torch loss modules, callables and Keras losses. This package
re-exports them and resolves ``compile``'s loss specs (``get_loss``). A new built-in loss is a
class in its family's module, re-exported here and registered below under its Keras name.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch

from kerasish._keras_interop import keras_for, keras_instance, ks_equivalent
from kerasish._naming import by_class_name, name_registry, snake_case
from kerasish.losses.adapters import KerasLoss, LossFunction, TorchStyleLoss, keras_function_loss
from kerasish.losses.base import Loss, align_targets, weighted_reduce
from kerasish.losses.circle import Circle
from kerasish.losses.ctc import CTC
from kerasish.losses.focal import BinaryFocalCrossentropy, CategoricalFocalCrossentropy
from kerasish.losses.functions import (
    KERAS_ORDER_FUNCTIONS,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    categorical_hinge,
    circle,
    cosine_similarity,
    ctc,
    dice,
    hinge,
    huber,
    kl_divergence,
    kld,
    log_cosh,
    logcosh,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
    tversky,
)
from kerasish.losses.generalized_crossentropy import CategoricalGeneralizedCrossEntropy
from kerasish.losses.hinge import CategoricalHinge, Hinge, SquaredHinge
from kerasish.losses.probabilistic import (
    NLL,
    BCEWithLogits,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CrossEntropy,
    KLDivergence,
    Poisson,
    ShapeResolvedCrossentropy,
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

__all__ = [
    "Loss", "get_loss", "KNOWN_LOSSES", "align_targets", "weighted_reduce",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "Huber", "LogCosh", "CosineSimilarity",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "KLDivergence", "Poisson", "CrossEntropy", "NLL", "BCEWithLogits",
    "Hinge", "SquaredHinge", "CategoricalHinge",
    "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "CTC", "Dice", "Tversky", "Circle",
    "CategoricalGeneralizedCrossEntropy",
    "KerasLoss",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "logcosh", "cosine_similarity",
    "hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "kld", "poisson",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "mse", "mae", "mape", "msle",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "ctc", "dice", "tversky",
    "circle", "categorical_generalized_cross_entropy",
]

_REGISTRY: dict[str, type[Loss]] = name_registry(
    (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
     Huber, LogCosh, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity,
     BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, CrossEntropy, NLL,
     BCEWithLogits, BinaryFocalCrossentropy, CategoricalFocalCrossentropy, Dice, Tversky, Circle,
     CTC),  # not CategoricalGeneralizedCrossEntropy: Keras knows it by no string either
    aliases={"huber_loss": Huber, "logcosh": LogCosh, "kld": KLDivergence,
             "kullback_leibler_divergence": KLDivergence, "crossentropy": ShapeResolvedCrossentropy,
             "ce": ShapeResolvedCrossentropy},
)

_CLASS_NAMES = by_class_name(_REGISTRY)
KNOWN_LOSSES = tuple(sorted(_REGISTRY))


def _from_keras(spec: Any, keras: Any) -> Loss:
    """A Keras loss object, class or function, run by Keras itself (torch backend only)."""
    # globals() is the package namespace: every ks.losses class under its public name.
    name, instead = ks_equivalent(spec, globals(), Loss, _REGISTRY, "loss")
    spec = keras_instance(spec, keras, keras.losses.Loss, f"loss {name}", instead)
    if isinstance(spec, keras.losses.Loss):
        return KerasLoss(spec)
    if callable(spec):  # a Keras loss function: per-sample values, Keras order and reduction
        return KerasLoss(keras_function_loss(keras, spec, getattr(spec, "__name__", name)))
    raise TypeError(f"loss {name} is a Keras object that is not a loss; use {instead}.")


def get_loss(spec: str | Loss | torch.nn.Module | Callable) -> Loss:
    """Resolve a loss name, ``ks.losses`` object, Keras loss, torch loss module or callable.

    Keras losses (``keras.losses.Loss`` objects or classes, functions such as
    ``keras.losses.categorical_crossentropy``) keep Keras's semantics: ``(y_true, y_pred,
    sample_weight)``, their reduction and name. Torch loss modules and user callables are called
    torch-style, ``fn(y_pred, y_true)`` (docs/differences.md).

    Args:
        spec: a loss name (see ``KNOWN_LOSSES``), a ``ks.losses`` object, a Keras loss, a torch
            loss module or a callable ``fn(y_pred, y_true)``.

    Returns:
        A ``ks.losses.Loss`` called as ``loss(y_true, y_pred, sample_weight)``.

    Raises:
        ValueError: an unknown name.
        TypeError: anything else, or a Keras loss on a backend other than torch.

    Example:
        loss = ks.losses.get_loss("categorical_crossentropy")
    """
    if isinstance(spec, Loss):
        return spec
    keras = keras_for(spec)
    if keras is not None:
        return _from_keras(spec, keras)
    if isinstance(spec, str) and spec in _CLASS_NAMES:  # "MeanSquaredError", as Keras's get
        return _CLASS_NAMES[spec]()
    if isinstance(spec, str):
        factory = _REGISTRY.get(spec.lower())
        if factory is None:
            raise ValueError(
                f"loss={spec!r} is not a known loss name. Use one of {', '.join(KNOWN_LOSSES)}, "
                "a ks.losses object, a torch loss module or a callable fn(y_pred, y_true)."
            )
        loss = factory()
        loss.name = spec.lower()
        return loss
    if isinstance(spec, types.FunctionType) and spec in KERAS_ORDER_FUNCTIONS:
        return LossFunction(spec, spec.__name__)  # ks.losses.<function>: Keras's argument order
    if callable(spec):
        name = getattr(spec, "__name__", None) or snake_case(type(spec).__name__)
        return TorchStyleLoss(spec, name)
    raise TypeError(
        f"loss must be a name, a ks.losses object, a torch loss module or a callable; got "
        f"{type(spec).__name__}."
    )
