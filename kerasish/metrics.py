"""Metrics that accumulate on the device and become Python floats only when read.

``ks.metrics`` objects keep Keras's API (``update_state(y_true, y_pred, sample_weight=None)``,
``result()``, ``reset_state()``). Their state lives in tensors on the batch's device so that a
training step never waits for the host: ``result()`` returns a 0-d tensor and the caller decides
when to turn it into a float.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kerasish._naming import snake_case


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``."""

    def __init__(self, name: str | None = None):
        self.name = name or snake_case(type(self).__name__)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotImplementedError

    def result(self) -> torch.Tensor:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``.

    The running total and weight are device tensors, so updating costs no host sync.
    """

    def __init__(self, name: str | None = None):
        super().__init__(name)
        self._total: torch.Tensor | None = None
        self._count: torch.Tensor | None = None

    def reset_state(self) -> None:
        # Fresh tensors rather than zero_(): state made under inference_mode (evaluate) cannot be
        # updated in place later in training, and one allocation per epoch costs nothing.
        self._total = None
        self._count = None

    def _accumulate(self, values: torch.Tensor, sample_weight: torch.Tensor | None) -> None:
        values = values.detach().float()
        if self._total is None or self._total.device != values.device:
            self._total = torch.zeros((), device=values.device)
            self._count = torch.zeros((), device=values.device)
        if sample_weight is None:
            self._total += values.sum()
            self._count += values.numel()
            return
        weight = sample_weight.detach().to(values.dtype)
        while weight.dim() < values.dim():
            weight = weight.unsqueeze(-1)
        weight = weight.expand_as(values)
        self._total += (values * weight).sum()
        self._count += weight.sum()

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        self._accumulate(torch.as_tensor(values), sample_weight)

    def result(self) -> torch.Tensor:
        if self._total is None:
            return torch.zeros(())
        return self._total / self._count.clamp_min(1e-12)


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred)`` per sample (Keras's wrapper of metric functions).

    ``torch_style=True`` calls ``fn(y_pred, y_true)`` instead: the order for user callables.
    """

    def __init__(self, fn: Callable, name: str | None = None, torch_style: bool = False, **kwargs):
        super().__init__(name or getattr(fn, "__name__", None) or snake_case(type(fn).__name__))
        self.fn = fn
        self.torch_style = torch_style
        self.kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self.torch_style:
            values = self.fn(y_pred, y_true, **self.kwargs)
        else:
            values = self.fn(y_true, y_pred, **self.kwargs)
        values = torch.as_tensor(values)
        if sample_weight is not None and values.dim() == 0:
            values = values.expand(sample_weight.shape[0])
        self._accumulate(values, sample_weight)


# Per-sample metric functions, Keras order (y_true, y_pred).

def _align(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    if y_true.dim() == y_pred.dim() - 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    return y_true


def mean_squared_error(y_true, y_pred):
    return (y_pred.float() - _align(y_true, y_pred).float()).square().mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    return (y_pred.float() - _align(y_true, y_pred).float()).abs().mean(dim=-1)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    y_true = _align(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).float().mean(dim=-1)


def categorical_accuracy(y_true, y_pred):
    return (y_pred.argmax(dim=-1) == y_true.argmax(dim=-1)).float()


def sparse_categorical_accuracy(y_true, y_pred):
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return (y_pred.argmax(dim=-1) == y_true.long()).float()


def _in_top_k(targets: torch.Tensor, y_pred: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, y_pred.shape[-1])
    top = y_pred.topk(k, dim=-1).indices
    return (top == targets.long().unsqueeze(-1)).any(dim=-1).float()


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    return _in_top_k(y_true.argmax(dim=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return _in_top_k(y_true, y_pred, k)


def resolve_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> Callable:
    """Keras 3's choice for ``"accuracy"``: binary, sparse categorical or categorical by shapes."""
    if y_pred.dim() == 0 or y_pred.shape[-1] == 1 or y_pred.dim() == 1:
        return binary_accuracy
    if y_true.dim() < y_pred.dim() or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


class Accuracy(MeanMetricWrapper):
    """Exact-match accuracy (``keras.metrics.Accuracy``)."""

    def __init__(self, name: str = "accuracy"):
        super().__init__(lambda t, p: (p == _align(t, p)).float().mean(dim=-1), name=name)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_accuracy"):
        super().__init__(categorical_accuracy, name=name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name=name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy"):
        super().__init__(top_k_categorical_accuracy, name=name, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy"):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, k=k)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_squared_error"):
        super().__init__(mean_squared_error, name=name)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_absolute_error"):
        super().__init__(mean_absolute_error, name=name)


class RootMeanSquaredError(MeanMetricWrapper):
    """The square root of the running weighted mean of squared errors."""

    def __init__(self, name: str = "root_mean_squared_error"):
        super().__init__(mean_squared_error, name=name)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


class _ShapeResolvedAccuracy(MeanMetricWrapper):
    """``"accuracy"``/``"acc"``: the concrete accuracy is chosen from the first batch's shapes."""

    def __init__(self, name: str):
        super().__init__(self._first_call, name=name)

    def _first_call(self, y_true, y_pred):
        self.fn = resolve_accuracy(y_true, y_pred)
        return self.fn(y_true, y_pred)


class TorchMetricsAdapter(Metric):
    """Wraps a torchmetrics ``Metric``: ``update(preds, target)``, ``compute()``, ``reset()``."""

    def __init__(self, metric: Any):
        super().__init__(snake_case(type(metric).__name__))
        self.metric = metric

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self.metric.device != y_pred.device:
            self.metric.to(y_pred.device)
        self.metric.update(y_pred.detach(), y_true)

    def result(self) -> torch.Tensor:
        return self.metric.compute()

    def reset_state(self) -> None:
        self.metric.reset()


_REGISTRY: dict[str, Callable[[], Metric]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "rmse": RootMeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
}

KNOWN_METRICS = tuple(sorted([*_REGISTRY, "accuracy", "acc"]))


def _is_torchmetrics(obj: Any) -> bool:
    return any(cls.__module__.startswith("torchmetrics") for cls in type(obj).__mro__) and hasattr(
        obj, "compute"
    )


def get_metric(spec: Any) -> Metric:
    """Resolve a metric name, ``ks.metrics`` object, torchmetrics object or callable."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in ("accuracy", "acc"):
            return _ShapeResolvedAccuracy(name=spec)
        factory = _REGISTRY.get(key)
        if factory is None:
            raise ValueError(
                f"metrics contains {spec!r}, which is not a known metric name. Use one of "
                f"{', '.join(KNOWN_METRICS)}, a ks.metrics object, a torchmetrics Metric or a "
                "callable fn(y_pred, y_true)."
            )
        metric = factory()
        metric.name = spec
        return metric
    if _is_torchmetrics(spec):
        return TorchMetricsAdapter(spec)
    if callable(spec):
        return MeanMetricWrapper(spec, torch_style=True)
    raise TypeError(
        f"metrics entries must be names, ks.metrics objects, torchmetrics Metrics or callables; "
        f"got {type(spec).__name__}."
    )
