"""Metrics that are a sum or a weighted mean: of the values given (``Sum``, ``Mean``), or of a
per-sample function of ``(y_true, y_pred)`` (``MeanMetricWrapper``), the base of every
function-valued Keras metric.

``reduce_to_samplewise`` is Keras's ``reduce_to_samplewise_values``: how values and
``sample_weight`` of any ranks become one value and one weight per sample, so the weighting
rules are Keras's everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kerasish._naming import snake_case
from kerasish.metrics.base import Metric, as_tensors, divide_no_nan, squeeze_or_expand


def _mean(values: torch.Tensor, dim: tuple[int, ...]) -> torch.Tensor:
    # torch.mean refuses integer tensors; Keras's ops.mean returns their float mean.
    return values.mean(dim=dim) if values.is_floating_point() else values.double().mean(dim=dim)


def _sum(values: torch.Tensor, dim: tuple[int, ...]) -> torch.Tensor:
    return values.sum(dim=dim)


def reduce_to_samplewise(values: torch.Tensor, sample_weight: torch.Tensor | None,
                         reduce_fn: Callable[[torch.Tensor, tuple[int, ...]], torch.Tensor]
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Keras's ``reduce_to_samplewise_values``: weighted values and weights, one per sample.

    ``sample_weight`` meets ``values`` at the same rank (a trailing 1-axis added or dropped);
    values of higher rank are first reduced over the axes the weights lack; the weights are
    broadcast to the values and multiply them; then both are reduced to one entry per sample
    (the leading axis). Values of rank 0 stay a scalar.

    Args:
        values: the values, already in the metric's dtype.
        sample_weight: ``None``, or weights broadcastable to ``values`` after that alignment.
        reduce_fn: ``fn(tensor, dims)``: the mean for ``Mean``, the sum for ``Sum``.

    Returns:
        ``(weighted values, weights)``: each of rank 0 or 1; the weights ``None`` when none
        were given.
    """
    if sample_weight is not None:
        sample_weight = sample_weight.detach().to(device=values.device, dtype=values.dtype)
        values, sample_weight = squeeze_or_expand(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.dim(), values.dim()
        if values_ndim > weight_ndim:
            values = reduce_fn(values, tuple(range(weight_ndim, values_ndim))).to(sample_weight.dtype)
        sample_weight = sample_weight.broadcast_to(values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, tuple(range(1, weight_ndim)))
    if values.dim() > 1:
        values = reduce_fn(values, tuple(range(1, values.dim())))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values passed to ``update_state(values, sample_weight=None)``.

    Keras's ``Sum``: one state tensor, ``total``, on the values' device.

    Args:
        name: the log key (default ``"sum"``).
        dtype: the state's dtype (see ``Metric``).

    Example:
        seen = ks.metrics.Sum(name="seen")
        seen.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        seen.result()   # tensor(4.)
    """

    def __init__(self, name: str | None = "sum", dtype: Any = None):
        super().__init__(name, dtype)
        self._total: torch.Tensor | None = None

    def reset_state(self) -> None:
        self._total = None  # a fresh tensor at the next update (see Mean.reset_state)

    # Keras's Sum takes the values themselves, not (y_true, y_pred) as Metric.update_state does.
    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        """Add ``values`` (times their weights) to the total.

        Args:
            values: a tensor (on any device), a number or an array.
            sample_weight: ``None``, or weights as Keras broadcasts them (``reduce_to_samplewise``).
        """
        values, sample_weight = as_tensors(values, sample_weight)
        values, _ = reduce_to_samplewise(values.detach().to(self.torch_dtype), sample_weight, _sum)
        total = self._total
        if total is None or total.device != values.device:
            total = self._total = torch.zeros((), dtype=self.torch_dtype, device=values.device)
        total += values.sum().to(total.dtype)

    def result(self) -> torch.Tensor:
        return torch.zeros((), dtype=self.torch_dtype) if self._total is None else self._total.clone()

    def summed_state(self) -> list[torch.Tensor]:
        return [torch.zeros((), dtype=self.torch_dtype) if self._total is None else self._total]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        (total,) = state
        self._total = total.reshape(())


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``.

    The running total and weight are device tensors, so updating costs no host sync. The result
    is 0 while the total weight is 0 (before the first update, or with weights summing to 0),
    and a negative total weight divides as it is, as Keras's ``divide_no_nan``. This is the
    tracker a custom ``train_step`` keeps its losses in.

    Args:
        name: the log key (default ``"mean"``).
        dtype: the state's dtype (see ``Metric``).

    Example:
        d_loss = ks.metrics.Mean(name="d_loss")
        d_loss.update_state(torch.tensor([1.0, 3.0]))
        d_loss.update_state(torch.tensor(5.0), sample_weight=torch.tensor(2.0))
        d_loss.result()   # tensor(3.5000): (1 + 3 + 2 * 5) / 4
    """

    def __init__(self, name: str | None = None, dtype: Any = None):
        super().__init__(name, dtype)
        self._total: torch.Tensor | None = None
        self._count: torch.Tensor | None = None

    def reset_state(self) -> None:
        # Fresh tensors rather than zero_(): state made under inference_mode (evaluate) cannot be
        # updated in place later in training, and one allocation per epoch costs nothing.
        self._total = None
        self._count = None

    def _accumulate(self, values: torch.Tensor, sample_weight: torch.Tensor | None) -> None:
        values, weight = reduce_to_samplewise(values.detach().to(self.torch_dtype), sample_weight, _mean)
        # _total and _count are set and cleared together; the in-place additions below update them.
        total, count = self._total, self._count
        if total is None or count is None or total.device != values.device:
            total = self._total = torch.zeros((), dtype=self.torch_dtype, device=values.device)
            count = self._count = torch.zeros((), dtype=self.torch_dtype, device=values.device)
        total += values.sum().to(total.dtype)
        if weight is not None:
            count += weight.sum().to(count.dtype)
        else:
            count += values.shape[0] if values.dim() else 1

    # Keras's Mean takes the values themselves, not (y_true, y_pred) as Metric.update_state does.
    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        """Add ``values`` to the running mean, weighted as Keras weights them.

        Args:
            values: a tensor (on any device), a number or an array.
            sample_weight: ``None``, or weights for the leading axes of ``values`` (or of its
                shape, broadcast as Keras broadcasts them: ``reduce_to_samplewise``).
        """
        values, sample_weight = as_tensors(values, sample_weight)
        self._accumulate(values, sample_weight)

    def result(self) -> torch.Tensor:
        if self._total is None or self._count is None:
            return torch.zeros((), dtype=self.torch_dtype if self.torch_dtype.is_floating_point
                               else torch.float32)
        return divide_no_nan(self._total, self._count)

    def summed_state(self) -> list[torch.Tensor]:
        if self._total is None or self._count is None:  # this rank saw no batch: it takes part with zeros
            return [torch.zeros((), dtype=self.torch_dtype), torch.zeros((), dtype=self.torch_dtype)]
        return [self._total, self._count]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        self._total, self._count = (t.reshape(()) for t in state)


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred)`` per sample (Keras's wrapper of metric functions).

    ``torch_style=True`` calls ``fn(y_pred, y_true)`` instead: the order for user callables.
    ``fn``'s values are weighted as ``Mean`` weights them: values of higher rank than the
    weights are averaged over the extra axes first (Keras's rule).

    Args:
        fn: the metric function, returning one value per sample (or per element; a scalar counts
            as the value of every sample).
        name: the log key; by default ``fn.__name__``.
        torch_style: call ``fn(y_pred, y_true, **kwargs)``, torch's order; ``compile`` wraps a
            callable in ``metrics`` this way.
        dtype: the state's dtype (see ``Metric``); ``fn``'s values are cast to it.
        **kwargs: passed to ``fn`` at every call (``threshold=0.7``, ``k=3``).

    Example:
        within_one = ks.metrics.MeanMetricWrapper(
            lambda y_true, y_pred: ((y_pred - y_true).abs() <= 1).float().mean(dim=-1),
            name="within_one")
        model.compile("adam", "mse", metrics=[within_one])
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None, torch_style: bool = False, *,
                 dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name or getattr(fn, "__name__", None) or snake_case(type(fn).__name__), dtype)
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
                given to every sample), or weights shaped like the values.
        """
        y_true, y_pred, sample_weight = as_tensors(y_true, y_pred, sample_weight)
        if self.torch_style:
            values = self.fn(y_pred, y_true, **self.kwargs)
        else:
            values = self.fn(y_true, y_pred, **self.kwargs)
        values = torch.as_tensor(values)
        if sample_weight is not None and values.dim() == 0 and sample_weight.dim() > 0:
            values = values.expand(sample_weight.shape[0])
        self._accumulate(values, sample_weight)

    def get_config(self) -> dict[str, Any]:
        """Keras's config of the wrapper: name, dtype, ``fn`` and ``fn``'s keyword arguments."""
        config = {**super().get_config(), "fn": self.fn, **self.kwargs}
        if self.torch_style:
            config["torch_style"] = True
        return config


class FunctionMean(MeanMetricWrapper):
    """A Keras metric class that is one function averaged over samples: ``Cls(name=None,
    dtype=None)``, named after the class as Keras names it (``"mean_squared_error"``).

    Subclasses set the class attribute ``_function`` (a ``staticmethod``), so the function and
    the class that averages it are declared together.

    Args:
        name: the log key; default: the class name in snake_case.
        dtype: the state's dtype (see ``Metric``).
    """

    _function: Callable[..., torch.Tensor]

    def __init__(self, name: str | None = None, dtype: Any = None):
        super().__init__(self._function, name=name or snake_case(type(self).__name__), dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}
