"""Cross-entropy metrics: ``ks.losses``' per-sample cross-entropies, averaged as Keras's metrics.

The loss objects compute the values (``reduction="none"``), so a metric and the loss of the same
name agree by construction.
"""

from __future__ import annotations

from typing import Any

from kerasish import losses as losses_lib
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


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Keras's sparse categorical cross-entropy metric (integer targets), averaged per sample.

    Args:
        name, dtype, from_logits, axis: as ``CategoricalCrossentropy``.

    Example:
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["sparse_categorical_crossentropy"])
    """

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, axis: int = -1):
        _check_last_axis(axis)
        loss = losses_lib.SparseCategoricalCrossentropy(from_logits=from_logits, reduction="none")
        super().__init__(loss, name=name, dtype=dtype)
