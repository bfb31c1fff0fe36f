"""``AUC``: the area under the ROC, PR or PR-gain curve, from confusion counts per threshold.

It keeps the four counts of ``confusion.confusion_counts`` (sums over samples, reduced across
ranks like the other confusion metrics) and integrates them only in ``result()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kerasish.checks import check_int
from kerasish.metrics.base import EPSILON, as_tensors, divide_no_nan
from kerasish.metrics.confusion import ConfusionMetric, evenly_distributed, parse_thresholds


class AUC(ConfusionMetric):
    """Area under the ROC, PR or PR-gain curve, approximated on thresholds (``keras.metrics.AUC``).

    The four confusion counts are kept per threshold on the device; ``result()`` integrates them
    with Keras's Riemann sums (and Davis & Goadrich's interpolation for PR).

    Args:
        num_thresholds: evenly spaced thresholds in [0, 1] (> 1; default 200).
        curve: ``"ROC"``, ``"PR"`` or ``"PRGAIN"``.
        summation_method: ``"interpolation"``, ``"minoring"`` or ``"majoring"``.
        name: the log key (default ``"auc"``).
        dtype: the counts' dtype (``"float32"`` by default; see ``Metric``).
        thresholds: explicit thresholds in [0, 1] (then ``num_thresholds`` is ignored).
        multi_label: one curve per label (last axis), averaged, instead of flattening the labels.
        num_labels: the number of labels with ``multi_label`` (else taken from the first batch).
        label_weights: per-label weights (averaging with ``multi_label``, counting otherwise).
        from_logits: apply a sigmoid to ``y_pred`` first.

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.AUC(curve="PR")])
    """

    _counts = ("tp", "fp", "tn", "fn")
    _CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
    _SUMMATIONS = ("interpolation", "minoring", "majoring")

    def __init__(self, num_thresholds: int | None = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None, dtype: Any = None,
                 thresholds: Sequence[float] | None = None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights: Sequence[float] | None = None,
                 from_logits: bool = False):
        if not isinstance(curve, str) or curve.lower() not in self._CURVES:
            raise ValueError(f"curve={curve!r} is not known; use 'ROC', 'PR' or 'PRGAIN'.")
        if not isinstance(summation_method, str) or summation_method.lower() not in self._SUMMATIONS:
            raise ValueError(f"summation_method={summation_method!r} is not known; use "
                             "'interpolation', 'minoring' or 'majoring'.")
        self._init_thresholds = None if thresholds is None else list(thresholds)
        if thresholds is not None:
            inner = sorted(parse_thresholds(list(thresholds), 0.5))
        else:
            num_thresholds = check_int(num_thresholds, "num_thresholds", least=2)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        if num_labels is not None and not multi_label:
            raise ValueError("num_labels is only used with multi_label=True; drop num_labels or set "
                             "multi_label=True.")
        super().__init__(name, [0.0 - EPSILON, *inner, 1.0 + EPSILON], dtype=dtype)
        self.num_thresholds = len(self.thresholds)
        self.curve = self._CURVES[curve.lower()]
        self.summation_method = summation_method.lower()
        self.multi_label = bool(multi_label)
        self.num_labels = check_int(num_labels, "num_labels", least=1, allow_none=True)
        self._labels_seen = self.num_labels  # the label count, learned at the first batch if None
        self.label_weights = (None if label_weights is None
                              else torch.as_tensor(label_weights, dtype=torch.float32))
        self.from_logits = bool(from_logits)
        # The evenly spaced test runs on [0] + inner + [1], as in Keras (the ends carry epsilon).
        self._evenly = evenly_distributed([0.0, *inner, 1.0])

    def _state_shape(self) -> tuple[int, ...] | None:
        if not self.multi_label:
            return (self.num_thresholds,)
        return None if self._labels_seen is None else (self.num_thresholds, self._labels_seen)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        if self.multi_label and y_pred.dim() != 2:
            raise ValueError("AUC(multi_label=True) needs y_pred of shape (batch, labels); got shape "
                             f"{tuple(y_pred.shape)}.")
        if self.multi_label and self._labels_seen is None:
            self._labels_seen = int(y_pred.shape[1])  # a shape, not a value: no host read
        if self.from_logits:
            y_pred = torch.sigmoid(y_pred)
        super().update_state(y_true, y_pred, sample_weight)

    def _count_kwargs(self) -> dict[str, Any]:
        # Keras applies label_weights while counting only when the labels are flattened.
        return {"multi_label": self.multi_label, "evenly": self._evenly,
                "label_weights": None if self.multi_label else self.label_weights}

    def result(self) -> torch.Tensor:
        tp, fp, tn, fn = (self.count(name) for name in self._counts)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._average_labels(self._interpolated_pr_auc(tp, fp, fn))
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            recall_gain = torch.where(tp == 0, torch.zeros_like(tp), recall_gain).clamp_min(0.0)
            precision_gain = torch.where(tp == 0, torch.ones_like(tp), precision_gain)
            x, y = recall_gain, precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return self._average_labels((x[:-1] - x[1:]) * heights)

    def _interpolated_pr_auc(self, tp, fp, fn):
        """Keras's ``interpolate_pr_auc`` (Davis & Goadrich 2006, section 4, in closed form)."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        safe_ratio = torch.where((p[:-1] > 0) & (p[1:] > 0), divide_no_nan(p[:-1], p[1:].clamp_min(0)),
                                 torch.ones_like(p[1:]))
        return divide_no_nan(slope * (dtp + intercept * torch.log(safe_ratio)),
                              (tp[1:] + fn[1:]).clamp_min(0))

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "from_logits": self.from_logits,
                  "label_weights": (None if self.label_weights is None
                                    else self.label_weights.tolist())}
        if self._init_thresholds is not None:  # as Keras: only thresholds given are written
            config["thresholds"] = self._init_thresholds
        return config

    def _average_labels(self, terms: torch.Tensor) -> torch.Tensor:
        if not self.multi_label:
            return terms.sum()
        by_label = terms.sum(dim=0)
        if self.label_weights is None:
            return by_label.mean()
        weights = self.label_weights.to(by_label.device)
        return divide_no_nan((by_label * weights).sum(), weights.sum())
