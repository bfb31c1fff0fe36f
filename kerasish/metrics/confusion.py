"""Metrics built on confusion counts per threshold: the counts themselves, Precision and Recall.

AUC (``auc``) and the metrics at a fixed sensitivity, specificity, precision or recall
(``at_thresholds``) build on the same counts.

They share one counting routine (``confusion_counts``, Keras's
``update_confusion_matrix_variables``) and one state holder, whose counts are sums over samples
and so what ``summed_state`` hands to the cross-rank reduction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kerasish.checks import check_int
from kerasish.metrics.base import EPSILON, Metric, as_tensors, divide_no_nan, squeeze_or_expand

_NEG_INF = -1e10  # Keras's metrics_utils.NEG_INF: the threshold used with top_k


def parse_thresholds(thresholds: Any, default: float) -> list[float]:
    """Keras's ``parse_init_thresholds``: one float or a list of floats in [0, 1]."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    if not values or any(isinstance(t, bool) or not isinstance(t, (int, float)) for t in values):
        raise ValueError(
            f"thresholds must be a float or a non-empty list of floats in [0, 1]; got {thresholds!r}."
        )
    if any(not 0.0 <= t <= 1.0 for t in values):
        raise ValueError(f"thresholds values must be in [0, 1]; got {thresholds!r}.")
    return [float(t) for t in values]


def evenly_distributed(thresholds: Sequence[float]) -> bool:
    """Keras's ``is_evenly_distributed_thresholds`` (``np.allclose`` with ``atol=1e-7``)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = [float(torch.tensor(i, dtype=torch.float32) / (n - 1)) for i in range(n)]
    return all(abs(t - e) <= EPSILON + 1e-5 * abs(e) for t, e in zip(thresholds, even))


def _filter_top_k(y_pred: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the top-k values of the last axis; the others become Keras's NEG_INF."""
    top = y_pred.topk(min(k, y_pred.shape[-1]), dim=-1).indices
    keep = torch.zeros_like(y_pred).scatter_(-1, top, 1.0)
    return y_pred * keep + _NEG_INF * (1.0 - keep)


def confusion_counts(
    y_true: torch.Tensor,
    y_pred: torch.Tensor,
    thresholds: Sequence[float],
    wanted: Sequence[str],
    *,
    sample_weight: torch.Tensor | None = None,
    top_k: int | None = None,
    class_id: int | None = None,
    multi_label: bool = False,
    label_weights: torch.Tensor | None = None,
    evenly: bool | None = None,
) -> dict[str, torch.Tensor]:
    """One batch's weighted counts ``"tp"``, ``"fp"``, ``"tn"``, ``"fn"`` per threshold (Keras's
    ``update_confusion_matrix_variables``), computed on the batch's device without a host read.

    A prediction is positive at threshold ``t`` when ``y_pred > t``; a label is positive when it
    is non-zero. Evenly spaced thresholds (AUC's) take Keras's bucketed O(N + T) path, which clips
    predictions to [0, 1]; other thresholds compare every prediction with every threshold.

    Args:
        y_true: targets, the shape of ``y_pred`` (up to a trailing 1-axis).
        y_pred: predictions.
        thresholds: the thresholds, ascending for the bucketed path.
        wanted: which counts to return, among ``"tp"``, ``"fp"``, ``"tn"``, ``"fn"``.
        sample_weight: per-sample weights, broadcast to ``y_pred``.
        top_k: only the k largest predictions of the last axis count as positive.
        class_id: only this class (last axis) is counted.
        multi_label: keep the last axis apart (counts of shape ``(T, labels)``).
        label_weights: per-label weights (not with ``multi_label``).
        evenly: whether the thresholds are evenly spaced (``None``: test ``thresholds``).

    Returns:
        ``{name: tensor}`` of shape ``(T,)``, or ``(T, labels)`` with ``multi_label``.
    """
    device = y_pred.device
    y_true = y_true.to(device=device, dtype=torch.float32)
    y_pred = y_pred.detach().to(torch.float32)
    y_pred, y_true = squeeze_or_expand(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = sample_weight.detach().to(device=device, dtype=torch.float32).unsqueeze(-1)
        _, weights = squeeze_or_expand(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.dim() == 1:
            raise ValueError(
                "class_id needs y_pred of shape (num_samples, num_classes); got shape "
                f"{tuple(y_pred.shape)}. Drop class_id for a single-output binary model."
            )
        y_true = y_true[..., class_id:class_id + 1]
        y_pred = y_pred[..., class_id:class_id + 1]
    if weights is not None:
        weights = weights.expand_as(y_pred)
    if label_weights is not None and not multi_label:
        label_weights = label_weights.to(device).expand_as(y_pred)
        weights = label_weights if weights is None else weights * label_weights
    if not multi_label:
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    positive = y_true != 0
    if evenly_distributed(thresholds) if evenly is None else evenly:
        return _bucketed_counts(positive, y_pred, thresholds, wanted, weights, multi_label)
    return _compared_counts(positive, y_pred, thresholds, wanted, weights, multi_label)


def _compared_counts(positive, y_pred, thresholds, wanted, weights, multi_label):
    """Every prediction against every threshold: ``(T, N)`` (or ``(T, N, labels)``) booleans."""
    shape = (-1, 1, 1) if multi_label else (-1, 1)
    thresholds = torch.tensor(thresholds, dtype=torch.float32, device=y_pred.device).reshape(shape)
    predicted = y_pred.unsqueeze(0) > thresholds
    label = positive.unsqueeze(0)
    cells = {"tp": (True, True), "fn": (True, False), "fp": (False, True), "tn": (False, False)}
    counts = {}
    for name in wanted:
        want_label, want_pred = cells[name]
        hit = (label if want_label else ~label) & (predicted if want_pred else ~predicted)
        hit = hit.float() if weights is None else hit * weights.unsqueeze(0)
        counts[name] = hit.sum(dim=1)
    return counts


def _bucketed_counts(positive, y_pred, thresholds, wanted, weights, multi_label):
    """Keras's O(N + T) path for evenly spaced thresholds: bucket each prediction, then a reversed
    cumulative sum gives the count above every threshold."""
    count = len(thresholds)
    with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
    weights = torch.ones_like(y_pred) if weights is None else weights
    true_w = positive.float() * weights
    false_w = (~positive).float() * weights
    bucket = torch.ceil(y_pred.clamp(0.0, 1.0) * float(count - 1)) - 1
    if with_epsilon:
        bucket = bucket.clamp_min(0)
    bucket = bucket.long()
    valid = (bucket >= 0) & (bucket < count)  # Keras's segment_sum drops ids outside [0, T)
    labels = y_pred.shape[-1] if multi_label else 1
    if multi_label:
        bucket = bucket + count * torch.arange(labels, device=y_pred.device)
    bucket = torch.where(valid, bucket, torch.zeros_like(bucket)).reshape(-1)

    def above(values: torch.Tensor) -> torch.Tensor:
        sums = torch.zeros(labels * count, device=y_pred.device)
        sums.index_add_(0, bucket, (values * valid).reshape(-1))
        sums = sums.reshape(labels, count).flip(-1).cumsum(-1).flip(-1)
        return sums.T if multi_label else sums[0]

    counts = {}
    tp = above(true_w) if {"tp", "fn"} & set(wanted) else None
    fp = above(false_w) if {"fp", "tn"} & set(wanted) else None
    total_axis = 0 if multi_label else None
    if "tp" in wanted:
        counts["tp"] = tp
    if "fp" in wanted:
        counts["fp"] = fp
    if "tn" in wanted:
        total = false_w.sum() if total_axis is None else false_w.sum(total_axis)
        counts["tn"] = total - fp
    if "fn" in wanted:
        total = true_w.sum() if total_axis is None else true_w.sum(total_axis)
        counts["fn"] = total - tp
    return counts


class _Count:
    """A read-only attribute giving one count tensor (Keras's ``true_positives`` variable, ...).

    It exists on the metrics that keep that count, as in Keras: ``Precision`` has
    ``true_positives`` and ``false_positives`` but no ``false_negatives``.
    """

    def __init__(self, key: str):
        self.key = key

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name

    def __get__(self, metric: Any, owner: type | None = None) -> Any:
        if metric is None:
            return self
        if self.key not in metric.counts_kept:
            raise AttributeError(f"{type(metric).__name__} keeps no {self.attribute}; it keeps "
                                 f"{', '.join(_COUNT_NAMES[k] for k in metric.counts_kept)}.")
        return metric.count(self.key)


_COUNT_NAMES = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives",
                "fn": "false_negatives"}


class ConfusionMetric(Metric):
    """Shared state handling of the metrics built on confusion counts.

    The counts live in device tensors created at the first batch (on its device) and grow by one
    fused add per count per step; they are sums over samples, so they are what ``summed_state``
    hands to the cross-rank reduction (and, as in Keras, the metric's ``variables``, in Keras's
    order). ``true_positives``, ``false_positives``, ... read them, as Keras's variables.
    """

    _counts: tuple[str, ...] = ()
    true_positives = _Count("tp")
    false_positives = _Count("fp")
    true_negatives = _Count("tn")
    false_negatives = _Count("fn")

    def __init__(self, name: str | None, thresholds: list[float], *, top_k: int | None = None,
                 class_id: int | None = None, dtype: Any = None):
        super().__init__(name, dtype)
        self.thresholds = thresholds
        self.top_k = check_int(top_k, "top_k", least=1, allow_none=True)
        self.class_id = check_int(class_id, "class_id", least=0, allow_none=True)
        self._evenly = evenly_distributed(thresholds)
        self._state: dict[str, torch.Tensor] | None = None

    @property
    def counts_kept(self) -> tuple[str, ...]:
        """The counts this metric keeps, among ``"tp"``, ``"fp"``, ``"tn"``, ``"fn"``, in Keras's
        order of its variables."""
        return self._counts

    def _state_shape(self) -> tuple[int, ...] | None:
        return (len(self.thresholds),)

    def _count_kwargs(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "class_id": self.class_id, "evenly": self._evenly}

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        counts = confusion_counts(y_true, y_pred, self.thresholds, self._counts,
                                  sample_weight=sample_weight, **self._count_kwargs())
        state = self._state
        if state is None or next(iter(state.values())).device != y_pred.device:
            self._state = {name: value.to(self.torch_dtype) for name, value in counts.items()}
            return
        for name, value in counts.items():
            state[name] += value.to(state[name].dtype)

    def reset_state(self) -> None:
        # Fresh tensors at the next batch rather than zero_(): state made under inference_mode
        # (evaluate) cannot be updated in place later in training.
        self._state = None

    def count(self, name: str) -> torch.Tensor:
        """The accumulated count ``name`` (``"tp"``, ``"fp"``, ``"tn"`` or ``"fn"``), zeros before
        the first batch.

        Args:
            name: one of ``counts_kept``.
        """
        if self._state is None:
            shape = self._state_shape()
            return torch.zeros(shape if shape is not None else (len(self.thresholds),),
                               dtype=self.torch_dtype)
        return self._state[name]

    def summed_state(self) -> list[torch.Tensor]:
        if self._state is None and self._state_shape() is None:
            return []  # shape known only after a batch: Engine.all_reduce_results reports it
        return [self.count(name) for name in self._counts]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        self._state = dict(zip(self._counts, state))

    def _per_threshold(self, value: torch.Tensor) -> torch.Tensor:
        return value[0] if len(self.thresholds) == 1 else value


class _ConfusionCount(ConfusionMetric):
    def __init__(self, thresholds: float | Sequence[float] | None = None, name: str | None = None,
                 dtype: Any = None):
        super().__init__(name, parse_thresholds(thresholds, 0.5), dtype=dtype)
        self.init_thresholds = thresholds

    @property
    def accumulator(self) -> torch.Tensor:
        """The count per threshold (Keras's ``accumulator`` variable)."""
        return self.count(self._counts[0])

    def result(self) -> torch.Tensor:
        return self._per_threshold(self.count(self._counts[0]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) number of true positives: ``y_true != 0`` and ``y_pred > threshold``.

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5); with a list, ``result()``
            is a vector with one count per threshold. Use 0 for logits.
        name: the log key (default ``"true_positives"``).
        dtype: the counts' dtype (``"float32"`` by default; see ``Metric``).

    Example:
        m = ks.metrics.TruePositives()
        m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        m.result()  # tensor(2.)
    """

    _counts = ("tp",)


class FalsePositives(_ConfusionCount):
    """The (weighted) number of false positives: ``y_true == 0`` and ``y_pred > threshold``.

    Args:
        thresholds, name, dtype: as ``TruePositives``; the default name is ``"false_positives"``.

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.FalsePositives()])
    """

    _counts = ("fp",)


class TrueNegatives(_ConfusionCount):
    """The (weighted) number of true negatives: ``y_true == 0`` and ``y_pred <= threshold``.

    Args:
        thresholds, name, dtype: as ``TruePositives``; the default name is ``"true_negatives"``.

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.TrueNegatives(0.7)])
    """

    _counts = ("tn",)


class FalseNegatives(_ConfusionCount):
    """The (weighted) number of false negatives: ``y_true != 0`` and ``y_pred <= threshold``.

    Args:
        thresholds, name, dtype: as ``TruePositives``; the default name is ``"false_negatives"``.

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.FalseNegatives(name="fn")])
    """

    _counts = ("fn",)


class _Rate(ConfusionMetric):
    """``tp / (tp + other)``, the other count being ``_counts[1]``: Precision and Recall."""

    def __init__(self, thresholds: float | Sequence[float] | None = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: Any = None):
        super().__init__(name, parse_thresholds(thresholds, 0.5 if top_k is None else _NEG_INF),
                         top_k=top_k, class_id=class_id, dtype=dtype)
        self.init_thresholds = thresholds

    def result(self) -> torch.Tensor:
        tp = self.count("tp")
        return self._per_threshold(divide_no_nan(tp, tp + self.count(self._counts[1])))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_Rate):
    """``tp / (tp + fp)`` over everything seen since the last reset (``keras.metrics.Precision``).

    Args:
        thresholds: a float or list of floats in [0, 1]; default 0.5 (with ``top_k``: no
            threshold). Use 0 for logits. A list gives one value per threshold.
        top_k: only the k largest predictions per sample count as positive.
        class_id: count only this class of the last axis.
        name: the log key (default ``"precision"``).
        dtype: the counts' dtype (``"float32"`` by default; see ``Metric``).

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.Precision(), "recall"])
    """

    _counts = ("tp", "fp")


class Recall(_Rate):
    """``tp / (tp + fn)`` over everything seen since the last reset (``keras.metrics.Recall``).

    Args:
        thresholds, top_k, class_id, dtype: as ``Precision``.
        name: the log key (default ``"recall"``).

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[ks.metrics.Recall(thresholds=0.3)])
    """

    _counts = ("tp", "fn")
