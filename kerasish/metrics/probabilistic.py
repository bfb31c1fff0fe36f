"""Cross-entropy metrics: ``ks.losses``' per-sample cross-entropies, averaged as Keras's metrics.

The loss objects compute the values (``reduction="none"``), so a metric and the loss of the same
name agree by construction.
"""

from __future__ import annotations

from typing import Any

import torch

from kerasish import losses as losses_lib
from kerasish.metrics.base import as_tensors
from kerasish.metrics.reduction import MeanMetricWrapper


def _check_last_axis(axis: int) -> None:
    if axis != -1:
        raise ValueError(f"axis={axis!r} is not supported; kerasish metrics take the class axis last "
                         "(axis=-1). Move the class axis of y_pred last.")


class BinaryCrossentropy(MeanMetricWrapper):
    """Keras's binary cross-entropy metric: the loss per sample, averaged (``"bce"``).

    Args:
        name: the log key.
        dtype: only ``None``/``"float32"``.
        from_logits: whether ``y_pred`` are logits rather than probabilities.
        label_smoothing: smoothing of the 0/1 targets towards 0.5.

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.BinaryCrossentropy()])
    """

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0.0):
        loss = losses_lib.BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing,
                                             reduction="none")
        super().__init__(loss, name=name, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(MeanMetricWrapper):
    """Keras's categorical cross-entropy metric (one-hot targets), averaged per sample.

    Args:
        name, dtype, from_logits: as ``BinaryCrossentropy``.
        label_smoothing: smoothing of the one-hot targets towards ``1 / classes``.
        axis: the class axis; only ``-1``.

    Example:
        model.compile("adam", "categorical_crossentropy", metrics=["categorical_crossentropy"])
    """

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1):
        _check_last_axis(axis)
        loss = losses_lib.CategoricalCrossentropy(from_logits=from_logits,
                                                  label_smoothing=label_smoothing, reduction="none")
        super().__init__(loss, name=name, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Keras's sparse categorical cross-entropy metric (integer targets), averaged per sample.

    With ``ignore_class``, rows of that label get a zero value; as in Keras 3.15.1 they still
    count in the divisor when no ``sample_weight`` is given, and get weight 0 when one is.

    Args:
        name, dtype, from_logits, axis: as ``CategoricalCrossentropy``.
        ignore_class: a label whose rows are left out (padding, say), or ``None``.

    Example:
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["sparse_categorical_crossentropy"])
    """

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, ignore_class: int | None = None, axis: int = -1):
        _check_last_axis(axis)
        loss = losses_lib.SparseCategoricalCrossentropy(from_logits=from_logits, reduction="none")
        super().__init__(loss, name=name, dtype=dtype)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:  # type: ignore[override]
        if self.ignore_class is None:
            super().update_state(y_true, y_pred, sample_weight)
            return
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
            y_true = y_true.squeeze(-1)
        valid = y_true != self.ignore_class
        values = self.fn(torch.where(valid, y_true, torch.zeros_like(y_true)), y_pred)
        values = torch.where(valid, values, torch.zeros_like(values))
        if sample_weight is not None:  # Keras applies the ignore mask to given weights only
            sample_weight = sample_weight * valid.to(sample_weight.device)
        self._accumulate(values, sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}


class KLDivergence(MeanMetricWrapper):
    """The running mean of the Kullback-Leibler divergence per sample (Keras's ``KLDivergence``).

    The values are ``ks.losses.KLDivergence``'s (targets and outputs clipped to ``[1e-7, 1]``).

    Args:
        name: the log key.
        dtype: the state's dtype (see ``Metric``).

    Example:
        model.compile("adam", "kl_divergence", metrics=[ks.metrics.KLDivergence()])
    """

    def __init__(self, name: str = "kl_divergence", dtype: Any = None):
        super().__init__(losses_lib.KLDivergence(reduction="none"), name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}


class Poisson(MeanMetricWrapper):
    """The running mean of the Poisson loss per sample (Keras's ``Poisson`` metric).

    Args:
        name: the log key.
        dtype: the state's dtype (see ``Metric``).

    Example:
        model.compile("adam", "poisson", metrics=[ks.metrics.Poisson()])
    """

    def __init__(self, name: str = "poisson", dtype: Any = None):
        super().__init__(losses_lib.Poisson(reduction="none"), name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}
