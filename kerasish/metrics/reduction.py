"""Metrics that are a weighted mean: of the values given (``Mean``), or of a per-sample function
of ``(y_true, y_pred)`` (``MeanMetricWrapper``), the base of every function-valued Keras metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kerasish._naming import snake_case
from kerasish.metrics.base import Metric, as_tensors, check_dtype


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``.

    The running total and weight are device tensors, so updating costs no host sync. The result
    is 0 before the first update. This is the tracker a custom ``train_step`` keeps its losses in.

    Args:
        name: the log key (default ``"mean"``).

    Example:
        d_loss = ks.metrics.Mean(name="d_loss")
        d_loss.update_state(torch.tensor([1.0, 3.0]))
        d_loss.update_state(torch.tensor(5.0), sample_weight=torch.tensor(2.0))
        d_loss.result()   # tensor(3.5000): (1 + 3 + 2 * 5) / 4
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
        # _total and _count are set and cleared together; the in-place additions below update them.
        total, count = self._total, self._count
        if total is None or count is None or total.device != values.device:
            total = self._total = torch.zeros((), device=values.device)
            count = self._count = torch.zeros((), device=values.device)
        if sample_weight is None:
            total += values.sum()
            count += values.numel()
            return
        weight = sample_weight.detach().to(values.dtype)
        while weight.dim() < values.dim():
            weight = weight.unsqueeze(-1)
        weight = weight.expand_as(values)
        total += (values * weight).sum()
        count += weight.sum()

    # Keras's Mean takes the values themselves, not (y_true, y_pred) as Metric.update_state does.
    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        """Add ``values`` to the running mean: each element counts once, times its weight.

        Args:
            values: a tensor (on any device), a number or an array.
            sample_weight: ``None``, or weights for the leading axes of ``values``, broadcast
                over the others.
        """
        self._accumulate(torch.as_tensor(values), sample_weight)

    def result(self) -> torch.Tensor:
        if self._total is None or self._count is None:
            return torch.zeros(())
        return self._total / self._count.clamp_min(1e-12)

    def summed_state(self) -> list[torch.Tensor]:
        if self._total is None or self._count is None:  # this rank saw no batch: it takes part with zeros
            return [torch.zeros(()), torch.zeros(())]
        return [self._total, self._count]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        self._total, self._count = (t.reshape(()) for t in state)


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred)`` per sample (Keras's wrapper of metric functions).

    ``torch_style=True`` calls ``fn(y_pred, y_true)`` instead: the order for user callables.

    Args:
        fn: the metric function, returning one value per sample (a scalar counts as one value).
        name: the log key; by default ``fn.__name__``.
        torch_style: call ``fn(y_pred, y_true, **kwargs)``, torch's order; ``compile`` wraps a
            callable in ``metrics`` this way.
        dtype: only ``None``/``"float32"``: kerasish metrics accumulate in float32.
        **kwargs: passed to ``fn`` at every call (``threshold=0.7``, ``k=3``).

    Example:
        within_one = ks.metrics.MeanMetricWrapper(
            lambda y_true, y_pred: ((y_pred - y_true).abs() <= 1).float().mean(dim=-1),
            name="within_one")
        model.compile("adam", "mse", metrics=[within_one])
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None, torch_style: bool = False, *,
                 dtype: Any = None, **kwargs: Any) -> None:
        check_dtype(dtype)
        super().__init__(name or getattr(fn, "__name__", None) or snake_case(type(fn).__name__))
        self.fn = fn
        self.torch_style = torch_style
        self.kwargs = kwargs

    # As in Keras, the wrapper is a Mean that updates from (y_true, y_pred) rather than from values.
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:  # type: ignore[override]
        """Add the batch's ``fn`` values to the running weighted mean.

        Args:
            y_true: the batch's targets; array-likes become tensors.
            y_pred: the batch's outputs.
            sample_weight: ``None``, or one weight per sample (a scalar ``fn`` value is then
                given to every sample).
        """
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        if self.torch_style:
            values = self.fn(y_pred, y_true, **self.kwargs)
        else:
            values = self.fn(y_true, y_pred, **self.kwargs)
        values = torch.as_tensor(values)
        if sample_weight is not None and values.dim() == 0:
            values = values.expand(sample_weight.shape[0])
        self._accumulate(values, sample_weight)


class FunctionMean(MeanMetricWrapper):
    """A Keras metric class that is one function averaged over samples: ``Cls(name=None,
    dtype=None)``, named after the class as Keras names it (``"mean_squared_error"``).

    Subclasses set the class attribute ``_function`` (a ``staticmethod``), so the function and
    the class that averages it are declared together.

    Args:
        name: the log key; default: the class name in snake_case.
        dtype: only ``None``/``"float32"``.
    """

    _function: Callable[..., torch.Tensor]

    def __init__(self, name: str | None = None, dtype: Any = None):
        super().__init__(self._function, name=name or snake_case(type(self).__name__), dtype=dtype)
