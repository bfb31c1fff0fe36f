"""Metric objects from other libraries in kerasish's metric list: torchmetrics (``TorchMetric``) and
Keras 3 on the torch backend (``KerasMetric``), each run with its own library's semantics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kerasish._naming import snake_case
from kerasish.checks import is_int
from kerasish.metrics.base import Metric


class TorchMetric(Metric):
    """A torchmetrics ``Metric`` in kerasish's metric list, under a name you choose.

    torchmetrics objects keep their own state and synchronise it across ranks in ``compute()``,
    so they are not part of kerasish's reduction. kerasish logs one number per metric key:
    ``compute()`` must return a single value, or ``select`` picks one (an index into the output,
    or a function of it). A metric returning several values without ``select`` raises a
    ``ValueError`` at the first read that says so, instead of a shape error deep in the loop.
    To log several of its values, pass several ``TorchMetric`` objects with different ``select``.

    Args:
        metric: a ``torchmetrics.Metric`` (called ``update(preds, target)``).
        name: the log key; default: the class name in snake_case
            (``MulticlassAccuracy`` -> ``"multiclass_accuracy"``).
        select: ``None``, an int index into a vector output, or a callable ``output -> scalar``.

    Example:
        stats = torchmetrics.classification.BinaryStatScores()   # [tp, fp, tn, fn, support]
        model.compile("adam", "binary_crossentropy", metrics=[
            ks.metrics.TorchMetric(torchmetrics.classification.BinaryF1Score(), name="f1"),
            ks.metrics.TorchMetric(stats, name="tp", select=0),
        ])
    """

    def __init__(self, metric: Any, name: str | None = None,
                 select: int | Callable[[torch.Tensor], torch.Tensor] | None = None):
        if not is_torchmetrics(metric):
            raise TypeError(f"TorchMetric takes a torchmetrics Metric object; got {type(metric).__name__}. "
                            "Use ks.metrics.get_metric for names, ks.metrics objects or callables.")
        if select is not None and not callable(select) and not is_int(select):
            raise TypeError(f"select must be None, an int index or a callable; got {select!r}.")
        super().__init__(name or snake_case(type(metric).__name__))
        self.metric = metric
        self.select = select

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Call the torchmetrics object's ``update(y_pred, y_true)``, torch's order.

        Args:
            y_true: the batch's targets.
            y_pred: the batch's outputs (detached; the metric follows them to their device).
            sample_weight: ignored: torchmetrics takes no weights (``compile`` refuses a
                ``TorchMetric`` in ``weighted_metrics``).
        """
        if self.metric.device != y_pred.device:
            self.metric.to(y_pred.device)
        self.metric.update(y_pred.detach(), y_true)

    def result(self) -> torch.Tensor:
        value = torch.as_tensor(self.metric.compute())
        if self.select is not None:
            value = self.select(value) if callable(self.select) else value.reshape(-1)[self.select]
            value = torch.as_tensor(value)
        if value.numel() != 1:
            raise ValueError(
                f"the torchmetrics object {type(self.metric).__name__} (log key {self.name!r}) "
                f"returned {value.numel()} values of shape {tuple(value.shape)}, but kerasish logs one "
                f"number per metric. Wrap it as ks.metrics.TorchMetric(metric, name=..., select=i) to "
                "log element i (one wrapper per element you want), or configure the metric to reduce "
                "its output (e.g. average='micro')."
            )
        return value.reshape(())

    def reset_state(self) -> None:
        self.metric.reset()


# TorchMetric's earlier name, still exported for users' code (docs/reference.md).
TorchMetricsAdapter = TorchMetric


class KerasMetric(Metric):
    """A ``keras.metrics.Metric`` object (Keras 3, torch backend) used with Keras's semantics.

    kerasish calls its ``update_state(y_true, y_pred, sample_weight)`` and logs its own
    ``result()`` under its ``name``: nothing is re-averaged. Its state lives in Keras variables
    on Keras's device; under ``torchrun`` the variables Keras declares with
    ``aggregation="sum"`` (all of Keras's built-in metrics' counters) are summed across ranks.
    ``get_metric`` builds this wrapper for you; a Keras metric on another backend is refused.

    Args:
        metric: the ``keras.metrics.Metric`` object.

    Example:
        model.compile("adam", "binary_crossentropy", metrics=[keras.metrics.AUC()])
    """

    def __init__(self, metric: Any):
        super().__init__(metric.name)
        self.metric = metric

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self.metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self) -> torch.Tensor:
        value = self.metric.result()
        # A metric may return one of its Keras Variables itself (Keras reads it as a tensor): its
        # current value, copied, so a later reset or update does not change what was logged.
        value = getattr(value, "value", value)
        return torch.as_tensor(value).detach().clone()

    def reset_state(self) -> None:
        self.metric.reset_state()

    def _summed_variables(self) -> list[Any]:
        return [v for v in self.metric.variables if getattr(v, "aggregation", None) == "sum"]

    def summed_state(self) -> list[torch.Tensor]:
        return [torch.as_tensor(v.value) for v in self._summed_variables()]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        for variable, value in zip(self._summed_variables(), state):
            variable.assign(value.reshape(tuple(variable.shape)))


def is_torchmetrics(obj: Any) -> bool:
    """Whether ``obj`` is a torchmetrics ``Metric`` object, told without importing torchmetrics.

    Args:
        obj: any object.
    """
    return any(cls.__module__.startswith("torchmetrics") for cls in type(obj).__mro__) and hasattr(
        obj, "compute"
    )
