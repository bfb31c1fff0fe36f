"""Accuracy metrics: per-sample functions (Keras order, ``y_true`` first) and their running means.

``"accuracy"`` in ``compile`` is ``ShapeResolvedAccuracy``, which picks one of these from the first
batch's shapes as Keras 3 does (``resolve_accuracy``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kerasish.metrics.base import align
from kerasish.metrics.reduction import FunctionMean, MeanMetricWrapper


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """Per entry, 1.0 where ``y_pred > threshold`` (as 0/1) equals ``y_true``, as in Keras.

    A soft label (0.3, say) equals neither 0 nor 1, so it never counts as a match (Keras's rule).

    Args:
        y_true: 0/1 targets.
        y_pred: probabilities (or logits, with ``threshold=0``), shaped like ``y_true`` up to a
            trailing 1-axis.
        threshold: the decision threshold on ``y_pred``.

    Returns:
        One float32 value per entry (``BinaryAccuracy`` averages them per sample).

    Example:
        ks.metrics.binary_accuracy(torch.tensor([1.0, 0.0]), torch.tensor([[0.7], [0.6]]))
        # tensor([[1.], [0.]])
    """
    y_true, y_pred = align(y_true, y_pred)
    return (y_true == (y_pred > threshold).to(y_true.dtype)).float()


def categorical_accuracy(y_true, y_pred):
    """1.0 where the largest output and the largest target have the same index, else 0.0.

    Args:
        y_true: one-hot (or soft) targets, classes on the last axis.
        y_pred: the outputs over the same classes: probabilities or logits alike.

    Returns:
        One float per sample.

    Example:
        y_true, y_pred = torch.tensor([[0, 1], [1, 0]]), torch.tensor([[0.3, 0.7], [0.4, 0.6]])
        ks.metrics.categorical_accuracy(y_true, y_pred)   # tensor([1., 0.])
    """
    return (y_pred.argmax(dim=-1) == y_true.argmax(dim=-1)).float()


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the index of the largest output equals the integer label, else 0.0.

    Args:
        y_true: class indices, ``(N,)`` or ``(N, 1)``.
        y_pred: the outputs over the classes, ``(N, C)``.

    Returns:
        One float per sample.

    Example:
        model.compile("adam", "cross_entropy", metrics=[ks.metrics.sparse_categorical_accuracy])
    """
    shape = y_true.shape
    squeezed = y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1
    if squeezed:
        y_true = y_true.squeeze(-1)
    matches = (y_pred.argmax(dim=-1) == y_true.long()).float()
    if squeezed:
        matches = matches.reshape(shape)
    return matches.squeeze(-1) if matches.dim() > 1 and matches.shape[-1] == 1 else matches


def _in_top_k(targets: torch.Tensor, y_pred: torch.Tensor, k: int) -> torch.Tensor:
    """Keras's ``in_top_k`` on torch: the target's score is at least the k-th largest (ties count)."""
    shape = targets.shape
    y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    kth = y_pred.topk(min(k, y_pred.shape[-1]), dim=-1).values[:, -1:]
    score = y_pred.gather(-1, targets.reshape(-1, 1).long())
    return (score >= kth).squeeze(-1).float().reshape(shape)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """1.0 where the target class (the largest entry of ``y_true``) is among the ``k`` top outputs.

    Args:
        y_true: one-hot targets, classes on the last axis.
        y_pred: the outputs over the same classes.
        k: how many of the largest outputs count; a ``k`` above the class count takes them all.

    Returns:
        One float per sample.

    Example:
        y_true = torch.tensor([[0, 0, 1], [0, 1, 0]])
        ks.metrics.top_k_categorical_accuracy(y_true, torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), k=2)
        # tensor([0., 1.])
    """
    return _in_top_k(y_true.argmax(dim=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5, from_sorted_ids: bool = False):
    """``top_k_categorical_accuracy`` for integer labels: is the label among the ``k`` top outputs.

    Args:
        y_true: class indices (or ids), ``(N,)`` or ``(N, 1)``.
        y_pred: the outputs over the classes, ``(N, C)``; with ``from_sorted_ids``, the ids of
            the top classes, best first, ``(N, M)`` with ``M >= k``.
        k: as in ``top_k_categorical_accuracy``.
        from_sorted_ids: ``y_pred`` holds sorted ids rather than scores (Keras's argument).

    Example:
        model.compile("adam", "cross_entropy",
                      metrics=[ks.metrics.SparseTopKCategoricalAccuracy(k=3)])   # its running mean
    """
    if from_sorted_ids:
        shape = y_true.shape
        ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
        return (ids == y_true.reshape(-1, 1).to(ids.dtype)).any(dim=-1).float().reshape(shape)
    return _in_top_k(y_true, y_pred, k)


def resolve_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> Callable[..., torch.Tensor]:
    """Keras 3's choice for ``"accuracy"``: binary, sparse categorical or categorical by shapes.

    Outputs with one unit (or no class axis) get ``binary_accuracy``; targets of lower rank than
    the outputs, or one target column against several output units,
    ``sparse_categorical_accuracy``; anything else ``categorical_accuracy``.

    Args:
        y_true: the first batch's targets.
        y_pred: the first batch's outputs.

    Returns:
        The per-sample metric function.

    Example:
        ks.metrics.resolve_accuracy(torch.tensor([2, 0]), torch.zeros(2, 3))
        # sparse_categorical_accuracy
    """
    if y_pred.dim() == 0 or y_pred.shape[-1] == 1 or y_pred.dim() == 1:
        return binary_accuracy
    if y_true.dim() < y_pred.dim() or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


def _exact_match(y_true, y_pred):
    y_true, y_pred = align(y_true, y_pred)
    return (y_pred == y_true).float()


class Accuracy(FunctionMean):
    """Exact-match accuracy (``keras.metrics.Accuracy``): how often ``y_pred`` equals ``y_true``.

    Averaged over the last axis per sample, then over samples. For class scores, use
    ``"accuracy"`` in ``compile`` (resolved from the shapes) or one of the categorical accuracies.

    Args:
        name: the log key.

    Example:
        m = ks.metrics.Accuracy()
        m.update_state([[1], [2], [3]], [[1], [2], [4]])
        m.result()   # tensor(0.6667)
    """

    _function = staticmethod(_exact_match)


class BinaryAccuracy(MeanMetricWrapper):
    """The running mean of ``binary_accuracy``: 0/1 targets against probabilities or logits.

    Args:
        name: the log key.
        threshold: outputs above it are positive predictions; 0 for logits.

    Example:
        model.compile("adam", "bce_with_logits", metrics=[ks.metrics.BinaryAccuracy(threshold=0.0)])
    """

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(FunctionMean):
    """The running mean of ``categorical_accuracy``, for one-hot targets.

    Args:
        name: the log key.

    Example:
        model.compile("adam", "categorical_crossentropy", metrics=[ks.metrics.CategoricalAccuracy()])
    """

    _function = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(FunctionMean):
    """The share of samples whose largest output is at the index of their integer label.

    The running mean of ``sparse_categorical_accuracy``; what ``"accuracy"`` becomes for
    integer labels against several output units.

    Args:
        name: the log key.

    Example:
        metric = ks.metrics.SparseCategoricalAccuracy(name="acc")
    """

    _function = staticmethod(sparse_categorical_accuracy)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` largest outputs (running mean).

    Args:
        k: how many of the largest outputs count.
        name: the log key.

    Example:
        model.compile("adam", "categorical_crossentropy",
                      metrics=["accuracy", ks.metrics.TopKCategoricalAccuracy(k=5)])
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """``TopKCategoricalAccuracy`` for integer labels: ``sparse_top_k_categorical_accuracy``'s mean.

    Args:
        k: how many of the largest outputs count (default 5).
        name: the log key.
        dtype: the state's dtype (see ``Metric``).
        from_sorted_ids: ``y_pred`` holds the ids of the top classes, best first, instead of
            scores (Keras's argument).

    Example:
        top3 = ks.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")
    """

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None,
                 from_sorted_ids: bool = False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:  # as Keras: the key only when set
            config["from_sorted_ids"] = True
        return config


class ShapeResolvedAccuracy(MeanMetricWrapper):
    """``"accuracy"``/``"acc"``: the concrete accuracy is chosen from the first batch's shapes.

    Args:
        name: the log key: the string the user gave (``"acc"`` logs as ``acc``).
    """

    def __init__(self, name: str):
        super().__init__(self._first_call, name=name)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def _first_call(self, y_true, y_pred):
        self.fn = resolve_accuracy(y_true, y_pred)
        return self.fn(y_true, y_pred)
