"""One rate at the best threshold where another reaches a floor: ``SensitivityAtSpecificity``,
``SpecificityAtSensitivity``, ``PrecisionAtRecall``, ``RecallAtPrecision`` (Keras's
``SensitivitySpecificityBase`` family).

They keep the four confusion counts on ``num_thresholds`` evenly spaced thresholds in [0, 1]
(``confusion.confusion_counts``; sums over samples, reduced across ranks like the others) and
search them only in ``result()``, so an update costs no host read.
"""

from __future__ import annotations

from typing import Any

import torch

from kerasish.checks import check_int
from kerasish.metrics.base import divide_no_nan
from kerasish.metrics.confusion import ConfusionMetric


class _AtThreshold(ConfusionMetric):
    """The best ``dependent`` rate among the thresholds whose ``constrained`` rate is >= ``value``
    (0 where none is), as Keras's ``_find_max_under_constraint``."""

    _counts = ("tp", "fp", "tn", "fn")
    _value_name = "value"  # the constructor argument that holds the floor

    def __init__(self, value: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{self._value_name} must be a number in the range [0, 1]; got {value!r}.")
        num_thresholds = check_int(num_thresholds, "num_thresholds", least=1)
        if num_thresholds == 1:
            thresholds = [0.5]
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            thresholds = [0.0, *inner, 1.0]
        super().__init__(name, thresholds, class_id=class_id, dtype=dtype)
        self._evenly = num_thresholds > 1  # Keras buckets [0, 1] even with two thresholds
        self.value = value
        self.num_thresholds = num_thresholds
        setattr(self, self._value_name, value)

    def _rates(self) -> dict[str, torch.Tensor]:
        tp, fp, tn, fn = (self.count(name) for name in self._counts)
        recall = divide_no_nan(tp, tp + fn)
        return {"sensitivity": recall, "recall": recall, "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp)}

    _dependent = ""  # the rate result() maximises

    def result(self) -> torch.Tensor:
        rates = self._rates()
        feasible = rates[self._value_name] >= self.value
        dependent = rates[self._dependent]
        return torch.where(feasible, dependent, torch.zeros_like(dependent)).amax().clamp_min(0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_id": self.class_id,
                "num_thresholds": self.num_thresholds, self._value_name: self.value}


class SensitivityAtSpecificity(_AtThreshold):
    """The best sensitivity (recall) at a threshold whose specificity is >= ``specificity``
    (``keras.metrics.SensitivityAtSpecificity``).

    Args:
        specificity: the floor, in [0, 1].
        num_thresholds: evenly spaced thresholds searched in [0, 1] (>= 1; 1 means 0.5).
        class_id: count only this class of the last axis.
        name: the log key (default ``"sensitivity_at_specificity"``).
        dtype: the counts' dtype (see ``Metric``).

    Example:
        model.compile("adam", "binary_crossentropy",
                      metrics=[ks.metrics.SensitivityAtSpecificity(0.9)])
    """

    _value_name = "specificity"
    _dependent = "sensitivity"

    def __init__(self, specificity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtThreshold):
    """The best specificity at a threshold whose sensitivity is >= ``sensitivity``
    (``keras.metrics.SpecificityAtSensitivity``).

    Args:
        sensitivity: the floor, in [0, 1].
        num_thresholds, class_id, dtype: as ``SensitivityAtSpecificity``.
        name: the log key (default ``"specificity_at_sensitivity"``).

    Example:
        model.compile("adam", "binary_crossentropy",
                      metrics=[ks.metrics.SpecificityAtSensitivity(0.5, name="sas")])
    """

    _value_name = "sensitivity"
    _dependent = "specificity"

    def __init__(self, sensitivity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_AtThreshold):
    """The best precision at a threshold whose recall is >= ``recall``
    (``keras.metrics.PrecisionAtRecall``).

    Args:
        recall: the floor, in [0, 1].
        num_thresholds, class_id, dtype: as ``SensitivityAtSpecificity``.
        name: the log key (default ``"precision_at_recall"``).

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.PrecisionAtRecall(0.8)])
    """

    _value_name = "recall"
    _dependent = "precision"

    def __init__(self, recall: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtThreshold):
    """The best recall at a threshold whose precision is >= ``precision``
    (``keras.metrics.RecallAtPrecision``).

    Args:
        precision: the floor, in [0, 1].
        num_thresholds, class_id, dtype: as ``SensitivityAtSpecificity``.
        name: the log key (default ``"recall_at_precision"``).

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.RecallAtPrecision(0.75)])
    """

    _value_name = "precision"
    _dependent = "recall"

    def __init__(self, precision: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)
