"""The F-beta and F1 scores (``keras.metrics.FBetaScore``, ``F1Score``) for ``(batch, classes)``
inputs; their per-class counts are sums over samples, reduced across ranks like the others.
"""

from __future__ import annotations

from typing import Any

import torch

from kerasish.metrics.base import EPSILON, Metric, as_tensors


class FBetaScore(Metric):
    """The F-beta score, ``(1 + b^2) * p * r / (b^2 * p + r)`` (``keras.metrics.FBetaScore``).

    Inputs are ``(batch, classes)`` (one-hot or multi-label targets). With ``threshold=None`` the
    largest prediction of each row is the predicted class; otherwise ``y_pred > threshold``.

    Args:
        average: ``None`` (a vector: one score per class, as Keras), ``"micro"``, ``"macro"`` or
            ``"weighted"``.
        beta: a positive float.
        threshold: a float in (0, 1], or ``None``.
        name: the log key (default ``"fbeta_score"``).
        dtype: the counts' dtype (``"float32"`` by default; see ``Metric``).

    Example:
        model.compile("adam", "categorical_crossentropy",
                      metrics=[ks.metrics.FBetaScore(average="macro", beta=2.0)])
    """

    _counts = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str = "fbeta_score", dtype: Any = None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"average={average!r} is not known; use None, 'micro', 'macro' or "
                             "'weighted'.")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"beta must be a Python float > 0 (e.g. 1.0); got {beta!r}.")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"threshold must be None or a Python float in (0, 1]; got {threshold!r}.")
        super().__init__(name, dtype)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self._state: dict[str, torch.Tensor] | None = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        if y_pred.dim() != 2 or y_true.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs (batch, classes); got y_pred of shape "
                f"{tuple(y_pred.shape)} and y_true of shape {tuple(y_true.shape)}. One-hot encode "
                "integer labels (ks.utils.to_categorical) first."
            )
        dtype = self.torch_dtype if self.torch_dtype.is_floating_point else torch.float32
        y_pred = y_pred.detach().to(dtype)
        y_true = y_true.to(device=y_pred.device, dtype=dtype)
        if self.threshold is None:
            top = y_pred.amax(dim=-1, keepdim=True)
            predicted = ((y_pred >= top) & (y_pred.abs() > 1e-9)).to(dtype)
        else:
            predicted = (y_pred > self.threshold).to(dtype)
        weight = None
        if sample_weight is not None:
            weight = sample_weight.to(y_pred.device, dtype).unsqueeze(1)
        axis = None if self.average == "micro" else 0

        def weighted_sum(values: torch.Tensor) -> torch.Tensor:
            if weight is not None:
                values = values * weight
            return values.sum() if axis is None else values.sum(dim=axis)

        counts = {
            "true_positives": weighted_sum(predicted * y_true),
            "false_positives": weighted_sum(predicted * (1 - y_true)),
            "false_negatives": weighted_sum((1 - predicted) * y_true),
            "intermediate_weights": weighted_sum(y_true),
        }
        if self._state is None or self._state["true_positives"].device != y_pred.device:
            self._state = counts
            return
        for key, value in counts.items():
            self._state[key] += value

    def result(self) -> torch.Tensor:
        if self._state is None:
            return torch.zeros(())
        tp, fp, fn, support = (self._state[key] for key in self._counts)
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        beta2 = self.beta ** 2
        score = (precision * recall) / (beta2 * precision + recall + EPSILON) * (1 + beta2)
        if self.average == "weighted":
            return (score * (support / (support.sum() + EPSILON))).sum()
        if self.average is not None:
            return score.mean()
        return score

    def reset_state(self) -> None:
        self._state = None

    def _count(self, key: str) -> torch.Tensor | None:
        return None if self._state is None else self._state[key]

    @property
    def true_positives(self) -> torch.Tensor | None:
        """The (weighted) true positives per class (a scalar with ``"micro"``); ``None`` before the
        first batch, whose class count sizes them (Keras's variables are built there too)."""
        return self._count("true_positives")

    @property
    def false_positives(self) -> torch.Tensor | None:
        """The false positives, as ``true_positives``."""
        return self._count("false_positives")

    @property
    def false_negatives(self) -> torch.Tensor | None:
        """The false negatives, as ``true_positives``."""
        return self._count("false_negatives")

    @property
    def intermediate_weights(self) -> torch.Tensor | None:
        """The (weighted) support per class, which ``"weighted"`` averages by."""
        return self._count("intermediate_weights")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}

    def summed_state(self) -> list[torch.Tensor]:
        if self._state is None:
            if self.average == "micro":
                return [torch.zeros(()) for _ in self._counts]
            return []  # the class count is known only after a batch: all_reduce_results reports it
        return [self._state[key] for key in self._counts]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        self._state = dict(zip(self._counts, state))


class F1Score(FBetaScore):
    """The F1 score: ``FBetaScore`` with ``beta=1`` (``keras.metrics.F1Score``).

    Args:
        average: ``None`` (one score per class, a vector), ``"micro"``, ``"macro"``, ``"weighted"``.
        threshold: a float in (0, 1], or ``None`` (the row's largest prediction is positive).
        name: the log key (default ``"f1_score"``).
        dtype: the counts' dtype (``"float32"`` by default; see ``Metric``).

    Example:
        model.compile("adam", "categorical_crossentropy", metrics=[ks.metrics.F1Score(average="macro")])
    """

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str = "f1_score", dtype: Any = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]  # F1 is beta=1 by definition; Keras leaves it out too
        return config
