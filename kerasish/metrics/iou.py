"""Intersection-over-union metrics: ``IoU``, ``BinaryIoU``, ``MeanIoU``, ``OneHotIoU``,
``OneHotMeanIoU`` (Keras's ``iou_metrics``).

Each keeps one ``(num_classes, num_classes)`` confusion matrix, ``total_cm`` (rows: true class,
columns: predicted class), on the batch's device; it is a sum over samples, so it is what
``summed_state`` hands to the cross-rank reduction. As in Keras the matrix is int32 unless a
``dtype`` is given, so float ``sample_weight`` values are truncated (with Keras's warning).

One deliberate difference: Keras's ``result()`` sums the per-class IoUs over ``axis``, so an
``axis`` other than -1 or 0 (channels-first data, ``axis=1``) raises an IndexError there; here the
class axis only picks the argmax axis of dense inputs, and ``result()`` works for any ``axis``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from kerasish.checks import check_int, is_int
from kerasish.metrics.base import EPSILON, Metric, as_tensors


class _IoUBase(Metric):
    """The confusion matrix every IoU metric accumulates (Keras's ``_IoUBase``)."""

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1):
        super().__init__(name, "int32" if dtype is None else dtype)  # Keras's default: "int"
        self.num_classes = check_int(num_classes, "num_classes", least=1)
        self.ignore_class = check_int(ignore_class, "ignore_class", allow_none=True)
        self.sparse_y_true = bool(sparse_y_true)
        self.sparse_y_pred = bool(sparse_y_pred)
        self.axis = check_int(axis, "axis")
        self.total_cm = torch.zeros((self.num_classes, self.num_classes), dtype=self.torch_dtype)

    def _as_classes(self, values: torch.Tensor, sparse: bool) -> torch.Tensor:
        """Class ids, flattened: the argmax of dense inputs, else the values cast to the state's
        dtype (Keras truncates a float class id), then to integers."""
        if not sparse:
            values = values.argmax(dim=self.axis)
        return values.to(self.torch_dtype).reshape(-1).long()

    def _weights(self, sample_weight: Any, like: torch.Tensor) -> torch.Tensor:
        if sample_weight is None:
            return torch.ones((), dtype=self.torch_dtype, device=like.device).expand(like.shape)
        if (hasattr(sample_weight, "dtype") and "float" in str(sample_weight.dtype)
                and not self.torch_dtype.is_floating_point):
            warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result "
                          "in an incorrect weight due to type casting. Consider using integer "
                          "weights, or a float dtype (dtype='float32').", stacklevel=3)
        (weights,) = as_tensors(sample_weight)
        weights = weights.detach().to(device=like.device, dtype=self.torch_dtype)
        if weights.dim() > 1:
            weights = weights.reshape(-1)
        if weights.dim() == 1 and weights.shape[0] not in (1, like.shape[0]):
            raise ValueError(
                f"{type(self).__name__}: sample_weight has {weights.shape[0]} values but the batch "
                f"has {like.shape[0]} class ids (after flattening): pass one weight per id (the "
                "shape of y_true's class ids), or a scalar.")
        return weights.broadcast_to(like.shape)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add the batch's (weighted) pairs of true and predicted class to ``total_cm``.

        Pairs with a class outside ``[0, num_classes)``, or a true class equal to
        ``ignore_class``, are left out, as in Keras.
        """
        y_true, y_pred = as_tensors(y_true, y_pred)
        device = y_pred.device
        true = self._as_classes(y_true.to(device), self.sparse_y_true)
        pred = self._as_classes(y_pred, self.sparse_y_pred)
        if true.shape != pred.shape:
            raise ValueError(
                f"{type(self).__name__}: y_true gives {true.numel()} class ids and y_pred "
                f"{pred.numel()} (sparse_y_true={self.sparse_y_true}, "
                f"sparse_y_pred={self.sparse_y_pred}, axis={self.axis}); they must match: set "
                "sparse_y_true/sparse_y_pred=False for one-hot or score inputs, and axis to their "
                "class axis.")
        weights = self._weights(sample_weight, true)
        keep = (true >= 0) & (true < self.num_classes) & (pred >= 0) & (pred < self.num_classes)
        if self.ignore_class is not None:
            keep &= true != self.ignore_class
        cells = torch.where(keep, true * self.num_classes + pred, torch.zeros_like(true))
        weights = torch.where(keep, weights, torch.zeros_like(weights))
        batch = torch.zeros(self.num_classes ** 2, dtype=self.torch_dtype, device=device)
        batch.index_add_(0, cells, weights)
        total = self.total_cm
        self.total_cm = (total.to(device) if total.device != device else total) \
            + batch.reshape(self.num_classes, self.num_classes)

    def reset_state(self) -> None:
        self.total_cm = torch.zeros_like(self.total_cm)

    def summed_state(self) -> list[torch.Tensor]:
        return [self.total_cm]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        # The cross-rank sum may come back in another dtype (float32): the matrix keeps its own.
        (summed,) = state
        self.total_cm = summed.reshape(self.total_cm.shape).to(self.torch_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class IoU(_IoUBase):
    """The mean intersection-over-union, ``tp / (tp + fp + fn)``, of the ``target_class_ids``
    (``keras.metrics.IoU``); classes absent from both targets and predictions are left out of
    the mean.

    Args:
        num_classes: the number of classes (the confusion matrix is ``num_classes`` square).
        target_class_ids: the classes averaged (one id: that class's IoU).
        name: the log key (default ``"io_u"``, Keras's).
        dtype: the matrix's dtype (default ``"int32"``, as Keras; ``"float32"`` for fractional
            ``sample_weight``).
        ignore_class: a true class left out (a "void" class such as -1 or 255).
        sparse_y_true: targets are class ids; ``False``: their argmax over ``axis``.
        sparse_y_pred: predictions are class ids; ``False``: their argmax over ``axis``.
        axis: the class axis of dense inputs.

    Example:
        m = ks.metrics.IoU(num_classes=2, target_class_ids=[0])
        m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        m.result()  # tensor(0.3333)
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: Any = None, ignore_class: int | None = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)
        self.target_class_ids = _class_ids(target_class_ids, self.num_classes)
        self._ids_on: dict[torch.device, torch.Tensor] = {}  # the ids as an index, per device

    def result(self) -> torch.Tensor:
        cm = self.total_cm
        true_positives = cm.diagonal()
        denominator = cm.sum(dim=0) + cm.sum(dim=1) - true_positives
        ids = self._ids_on.get(cm.device)
        if ids is None:  # copied to the device once, not at every read
            ids = self._ids_on[cm.device] = torch.tensor(self.target_class_ids, device=cm.device)
        true_positives = true_positives[ids].float()
        denominator = denominator[ids].float()
        valid = denominator > 1e-9  # a class absent from targets and predictions is left out
        iou = torch.where(valid, true_positives / (denominator + EPSILON), torch.zeros_like(denominator))
        return iou.sum() / (valid.sum() + EPSILON)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_class_ids": self.target_class_ids}


class BinaryIoU(IoU):
    """``IoU`` of a binary task: predictions ``>= threshold`` are class 1, the others class 0
    (``keras.metrics.BinaryIoU``).

    Args:
        target_class_ids: ``[0]``, ``[1]`` or ``[0, 1]`` (their mean).
        threshold: the cut between class 0 and class 1.
        name: the log key (default ``"binary_io_u"``).
        dtype: as ``IoU``.

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.BinaryIoU(threshold=0.3)])
    """

    def __init__(self, target_class_ids: Sequence[int] = (0, 1), threshold: float = 0.5,
                 name: str | None = None, dtype: Any = None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
            raise ValueError(f"BinaryIoU: threshold must be a number (predictions >= threshold "
                             f"are class 1); got {threshold!r}.")
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = as_tensors(y_true, y_pred)
        super().update_state(y_true, (y_pred.float() >= self.threshold).to(self.torch_dtype),
                             sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """``IoU`` averaged over every class (``keras.metrics.MeanIoU``).

    Args:
        num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis: as ``IoU``
            (the default name is ``"mean_io_u"``).

    Example:
        model.compile("adam", "sparse_categorical_crossentropy",
                      metrics=[ks.metrics.MeanIoU(num_classes=3, sparse_y_pred=False)])
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1):
        super().__init__(num_classes, list(range(check_int(num_classes, "num_classes", least=1))),
                         name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """``IoU`` of one-hot targets and dense predictions: both become their argmax over ``axis``
    (``keras.metrics.OneHotIoU``).

    Args:
        num_classes, target_class_ids, name, dtype, ignore_class, axis: as ``IoU``.
        sparse_y_pred: predictions are already class ids (default ``False``).

    Example:
        model.compile("adam", "categorical_crossentropy",
                      metrics=[ks.metrics.OneHotIoU(num_classes=3, target_class_ids=[1])])
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: Any = None, ignore_class: int | None = None, sparse_y_pred: bool = False,
                 axis: int = -1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """``MeanIoU`` of one-hot targets and dense predictions (``keras.metrics.OneHotMeanIoU``).

    Args:
        num_classes, name, dtype, ignore_class, sparse_y_pred, axis: as ``OneHotIoU``.

    Example:
        model.compile("adam", "categorical_crossentropy",
                      metrics=[ks.metrics.OneHotMeanIoU(num_classes=3)])
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_pred: bool = False, axis: int = -1):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


def _class_ids(target_class_ids: Sequence[int], num_classes: int) -> list[int]:
    """``target_class_ids`` as a list of Python ints, or a ``ValueError`` naming the bad id.

    As in Keras, a negative id counts from the end (``-1``: the last class); an id outside
    ``[-num_classes, num_classes)`` is refused here rather than failing at the first ``result()``.
    """
    if isinstance(target_class_ids, (str, bytes)) or not hasattr(target_class_ids, "__iter__"):
        raise ValueError(f"target_class_ids must be a list or tuple of class ids; got "
                         f"{target_class_ids!r}.")
    ids = list(target_class_ids)
    if not ids or not all(is_int(i) for i in ids):
        raise ValueError(f"target_class_ids must be a non-empty list of integer class ids; got "
                         f"{target_class_ids!r}.")
    wrong = [int(i) for i in ids if not -num_classes <= i < num_classes]
    if wrong:
        raise ValueError(f"target_class_ids {wrong} out of range: with num_classes={num_classes} "
                         f"each id must be in [0, {num_classes}) (or a negative id from the end).")
    return [int(i) for i in ids]
