"""Metrics that accumulate on the device and become Python floats only when read.

``ks.metrics`` objects keep Keras's API (``update_state(y_true, y_pred, sample_weight=None)``,
``result()``, ``reset_state()``). Their state lives in tensors on the batch's device so that a
training step never waits for the host: ``result()`` returns a 0-d tensor (a vector where Keras
returns one, e.g. ``F1Score(average=None)`` or several ``thresholds``) and the caller decides when
to turn it into a float.

Under ``torchrun`` every metric that declares its state with ``summed_state()`` /
``load_summed_state()`` is summed across ranks once per epoch (``Engine.all_reduce_results``), so
the logs agree on every rank and equal a single process's. torchmetrics objects synchronise
themselves; Keras metric objects are summed through their variables' ``aggregation="sum"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from kerasish import losses as losses_lib
from kerasish._keras_interop import keras_for, keras_instance, ks_equivalent
from kerasish._naming import name_registry, snake_case
from kerasish.checks import check_int, is_int

_EPSILON = 1e-7  # Keras's backend.epsilon()
_NEG_INF = -1e10  # Keras's metrics_utils.NEG_INF: the threshold used with top_k


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``.

    A metric whose state is a set of sums over samples (counts, weighted totals) also implements
    ``summed_state()`` and ``load_summed_state()``; under ``torchrun`` those tensors are summed
    across ranks at each epoch end, so every rank logs the value of the whole data set.

    Args:
        name: the log key; defaults to the class name in snake_case.

    Example:
        class Total(ks.metrics.Metric):
            def __init__(self, name="total"):
                super().__init__(name)
                self.reset_state()

            def update_state(self, y_true, y_pred, sample_weight=None):
                self.total = self.total.to(y_pred.device) + y_pred.detach().sum()

            def result(self):
                return self.total

            def reset_state(self):
                self.total = torch.zeros(())

            def summed_state(self):
                return [self.total]

            def load_summed_state(self, state):
                (self.total,) = state
    """

    def __init__(self, name: str | None = None):
        self.name = name or snake_case(type(self).__name__)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add one batch to the running state, kept on the batch's device (no host read).

        Args:
            y_true: the batch's targets: tensors (the built-in metrics also take NumPy arrays
                and lists, as Keras's do).
            y_pred: the batch's outputs.
            sample_weight: ``None``, or one weight per sample.
        """
        raise NotImplementedError

    def result(self) -> torch.Tensor:
        """The metric's value over everything seen since the last reset.

        Returns:
            A tensor on the device, 0-d (a vector where Keras returns one: several thresholds,
            ``F1Score(average=None)``); ``float(metric.result())`` reads it.
        """
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget everything seen; the loop calls it at each epoch start and before ``evaluate``."""
        raise NotImplementedError

    def summed_state(self) -> list[torch.Tensor] | None:
        """The state tensors that add up across ranks, or ``None`` when the metric declares none.

        Every rank must return tensors of the same shapes, in the same order (a rank that saw no
        batch returns zeros). They are read at epoch end only, never per step.

        Returns:
            A list of tensors (any device; any shapes), or ``None``: not reduced across ranks.
        """
        return None

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        """Take back the tensors of ``summed_state()``, summed over all ranks (same order, shapes).

        Args:
            state: the summed tensors, on the training device.
        """
        raise NotImplementedError(
            f"{type(self).__name__} returns a summed_state() but does not implement "
            "load_summed_state(state); implement both or neither."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


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
        _check_dtype(dtype)
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
        y_true, y_pred, sample_weight = _as_tensors(y_true, y_pred, sample_weight)
        if self.torch_style:
            values = self.fn(y_pred, y_true, **self.kwargs)
        else:
            values = self.fn(y_true, y_pred, **self.kwargs)
        values = torch.as_tensor(values)
        if sample_weight is not None and values.dim() == 0:
            values = values.expand(sample_weight.shape[0])
        self._accumulate(values, sample_weight)


# Per-sample metric functions, Keras order (y_true, y_pred).

def _align(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank``: targets ``(N,)`` against outputs ``(N, 1)`` (or
    the other way round) meet at ``(N, 1)`` instead of broadcasting to ``(N, N)``."""
    return _squeeze_or_expand(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """``mean((y_pred - y_true) ** 2)`` over the last axis, in float32: one value per sample.

    Targets ``(N,)`` against outputs ``(N, 1)`` (or the other way round) meet at ``(N, 1)``,
    as in Keras, instead of broadcasting to ``(N, N)``; the other ``*_error`` functions do the
    same.

    Args:
        y_true: the targets.
        y_pred: the outputs, shaped like ``y_true`` up to that trailing 1-axis.

    Returns:
        A tensor of ``y_pred``'s shape without its last axis.

    Example:
        ks.metrics.mean_squared_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        # tensor([0.5000])
    """
    y_true, y_pred = _align(y_true, y_pred)
    return (y_pred.float() - y_true.float()).square().mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_pred - y_true|)`` over the last axis, in float32: one value per sample.

    Args:
        y_true: the targets, as for ``mean_squared_error``.
        y_pred: the outputs.

    Example:
        ks.metrics.mean_absolute_error(torch.tensor([0.0, 2.0]), torch.tensor([[1.0], [1.0]]))
        # tensor([1., 1.])
    """
    y_true, y_pred = _align(y_true, y_pred)
    return (y_pred.float() - y_true.float()).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis, per sample.

    Args:
        y_true: the targets; near zero, 1e-7 replaces them in the divisor.
        y_pred: the outputs, as for ``mean_squared_error``.

    Example:
        ks.metrics.mean_absolute_percentage_error(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        # tensor([50.])
    """
    y_true, y_pred = (t.float() for t in _align(y_true, y_pred))
    return 100.0 * ((y_true - y_pred).abs() / y_true.abs().clamp_min(_EPSILON)).mean(dim=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(1 + y_pred) - log(1 + y_true)) ** 2)`` over the last axis, per sample.

    Args:
        y_true: the targets; values below 1e-7 are raised to it before the logarithm.
        y_pred: the outputs, likewise.

    Example:
        model.compile("adam", "mse", metrics=[ks.metrics.mean_squared_logarithmic_error])
    """
    y_true, y_pred = (t.float() for t in _align(y_true, y_pred))
    first = torch.log(y_pred.clamp_min(_EPSILON) + 1.0)
    second = torch.log(y_true.clamp_min(_EPSILON) + 1.0)
    return (first - second).square().mean(dim=-1)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """Per sample, the share of entries where ``y_pred > threshold`` agrees with ``y_true > 0.5``.

    Args:
        y_true: 0/1 targets.
        y_pred: probabilities (or logits, with ``threshold=0``), shaped like ``y_true`` up to a
            trailing 1-axis.
        threshold: the decision threshold on ``y_pred``.

    Returns:
        The mean over the last axis, in float32: one value per sample.

    Example:
        ks.metrics.binary_accuracy(torch.tensor([1.0, 0.0]), torch.tensor([[0.7], [0.6]]))
        # tensor([1., 0.])
    """
    y_true, y_pred = _align(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).float().mean(dim=-1)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the largest output and the largest target have the same index, else 0.0.

    Args:
        y_true: one-hot (or soft) targets, classes on the last axis.
        y_pred: the outputs over the same classes: probabilities or logits alike.

    Returns:
        One float per sample.

    Example:
        y_true, y_pred = torch.tensor([[0, 1], [1, 0]]), torch.tensor([[0.3, 0.7], [0.4, 0.6]])
        ks.metrics.categorical_accuracy(y_true, y_pred)   # tensor([1., 0.])
    """
    return (y_pred.argmax(dim=-1) == y_true.argmax(dim=-1)).float()


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the index of the largest output equals the integer label, else 0.0.

    Args:
        y_true: class indices, ``(N,)`` or ``(N, 1)``.
        y_pred: the outputs over the classes, ``(N, C)``.

    Returns:
        One float per sample.

    Example:
        model.compile("adam", "cross_entropy", metrics=[ks.metrics.sparse_categorical_accuracy])
    """
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return (y_pred.argmax(dim=-1) == y_true.long()).float()


def _in_top_k(targets: torch.Tensor, y_pred: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, y_pred.shape[-1])
    top = y_pred.topk(k, dim=-1).indices
    return (top == targets.long().unsqueeze(-1)).any(dim=-1).float()


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """1.0 where the target class (the largest entry of ``y_true``) is among the ``k`` top outputs.

    Args:
        y_true: one-hot targets, classes on the last axis.
        y_pred: the outputs over the same classes.
        k: how many of the largest outputs count; a ``k`` above the class count takes them all.

    Returns:
        One float per sample.

    Example:
        y_true = torch.tensor([[0, 0, 1], [0, 1, 0]])
        ks.metrics.top_k_categorical_accuracy(y_true, torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), k=2)
        # tensor([0., 1.])
    """
    return _in_top_k(y_true.argmax(dim=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """``top_k_categorical_accuracy`` for integer labels: is the label among the ``k`` top outputs.

    Args:
        y_true: class indices, ``(N,)`` or ``(N, 1)``.
        y_pred: the outputs over the classes, ``(N, C)``.
        k: as in ``top_k_categorical_accuracy``.

    Example:
        model.compile("adam", "cross_entropy",
                      metrics=[ks.metrics.SparseTopKCategoricalAccuracy(k=3)])   # its running mean
    """
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return _in_top_k(y_true, y_pred, k)


def resolve_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> Callable[..., torch.Tensor]:
    """Keras 3's choice for ``"accuracy"``: binary, sparse categorical or categorical by shapes.

    Outputs with one unit (or no class axis) get ``binary_accuracy``; targets of lower rank than
    the outputs, or one target column against several output units,
    ``sparse_categorical_accuracy``; anything else ``categorical_accuracy``.

    Args:
        y_true: the first batch's targets.
        y_pred: the first batch's outputs.

    Returns:
        The per-sample metric function.

    Example:
        ks.metrics.resolve_accuracy(torch.tensor([2, 0]), torch.zeros(2, 3))
        # sparse_categorical_accuracy
    """
    if y_pred.dim() == 0 or y_pred.shape[-1] == 1 or y_pred.dim() == 1:
        return binary_accuracy
    if y_true.dim() < y_pred.dim() or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


def _exact_match(y_true, y_pred):
    y_true, y_pred = _align(y_true, y_pred)
    return (y_pred == y_true).float().mean(dim=-1)


class _FunctionMean(MeanMetricWrapper):
    """A Keras metric class that is one function averaged over samples: ``Cls(name=None,
    dtype=None)``, named after the class as Keras names it (``"mean_squared_error"``).
    Subclasses set ``_function``."""

    _function: Callable[..., torch.Tensor]

    def __init__(self, name: str | None = None, dtype: Any = None):
        super().__init__(type(self)._function, name=name or snake_case(type(self).__name__), dtype=dtype)


class Accuracy(_FunctionMean):
    """Exact-match accuracy (``keras.metrics.Accuracy``): how often ``y_pred`` equals ``y_true``.

    Averaged over the last axis per sample, then over samples. For class scores, use
    ``"accuracy"`` in ``compile`` (resolved from the shapes) or one of the categorical accuracies.

    Args:
        name: the log key.

    Example:
        m = ks.metrics.Accuracy()
        m.update_state([[1], [2], [3]], [[1], [2], [4]])
        m.result()   # tensor(0.6667)
    """

    _function = staticmethod(_exact_match)


class BinaryAccuracy(MeanMetricWrapper):
    """The running mean of ``binary_accuracy``: 0/1 targets against probabilities or logits.

    Args:
        name: the log key.
        threshold: outputs above it are positive predictions; 0 for logits.

    Example:
        model.compile("adam", "bce_with_logits", metrics=[ks.metrics.BinaryAccuracy(threshold=0.0)])
    """

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(_FunctionMean):
    """The running mean of ``categorical_accuracy``, for one-hot targets.

    Args:
        name: the log key.

    Example:
        model.compile("adam", "categorical_crossentropy", metrics=[ks.metrics.CategoricalAccuracy()])
    """

    _function = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(_FunctionMean):
    """The share of samples whose largest output is at the index of their integer label.

    The running mean of ``sparse_categorical_accuracy``; what ``"accuracy"`` becomes for
    integer labels against several output units.

    Args:
        name: the log key.

    Example:
        metric = ks.metrics.SparseCategoricalAccuracy(name="acc")
    """

    _function = staticmethod(sparse_categorical_accuracy)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` largest outputs (running mean).

    Args:
        k: how many of the largest outputs count.
        name: the log key.

    Example:
        model.compile("adam", "categorical_crossentropy",
                      metrics=["accuracy", ks.metrics.TopKCategoricalAccuracy(k=5)])
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """``TopKCategoricalAccuracy`` for integer labels: ``sparse_top_k_categorical_accuracy``'s mean.

    Args:
        k: how many of the largest outputs count (default 5).
        name: the log key.

    Example:
        top3 = ks.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")
    """

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class MeanSquaredError(_FunctionMean):
    """The running (sample-weighted) mean of ``mean_squared_error`` (``"mse"``).

    Args:
        name: the log key.

    Example:
        model.compile("adam", "mae", metrics=[ks.metrics.MeanSquaredError(name="mse")])
    """

    _function = staticmethod(mean_squared_error)


class MeanAbsoluteError(_FunctionMean):
    """The mean absolute error over everything seen since the last reset (``"mae"``).

    Args:
        name: the log key (default ``"mean_absolute_error"``).

    Example:
        model.compile("adam", "huber", metrics=["mae"])   # the same metric, by name
    """

    _function = staticmethod(mean_absolute_error)


class MeanAbsolutePercentageError(_FunctionMean):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` per sample, averaged (``"mape"``).

    Args:
        name: the log key.
        dtype: only ``None``/``"float32"``: kerasish metrics accumulate in float32.

    Example:
        model.compile("adam", "mse", metrics=[ks.metrics.MeanAbsolutePercentageError()])
    """

    _function = staticmethod(mean_absolute_percentage_error)


class MeanSquaredLogarithmicError(_FunctionMean):
    """``mean((log(1 + y_pred) - log(1 + y_true))**2)`` per sample, averaged (``"msle"``).

    Args:
        name: the log key.
        dtype: only ``None``/``"float32"``.

    Example:
        model.compile("adam", "mse", metrics=["msle"])
    """

    _function = staticmethod(mean_squared_logarithmic_error)


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


class RootMeanSquaredError(_FunctionMean):
    """The square root of the running weighted mean of squared errors.

    Args:
        name: the log key (``"rmse"`` when given by that name).

    Example:
        rmse = ks.metrics.RootMeanSquaredError()
        rmse.update_state(torch.tensor([[0.0], [0.0]]), torch.tensor([[3.0], [4.0]]))
        rmse.result()   # tensor(3.5355): sqrt((9 + 16) / 2)
    """

    _function = staticmethod(mean_squared_error)

    def result(self) -> torch.Tensor:
        """``sqrt`` of the mean squared error over everything seen since the last reset."""
        return super().result().sqrt()


class _ShapeResolvedAccuracy(MeanMetricWrapper):
    """``"accuracy"``/``"acc"``: the concrete accuracy is chosen from the first batch's shapes."""

    def __init__(self, name: str):
        super().__init__(self._first_call, name=name)

    def _first_call(self, y_true, y_pred):
        self.fn = resolve_accuracy(y_true, y_pred)
        return self.fn(y_true, y_pred)


# ---------------------------------------------------------------- shared input handling


def _check_dtype(dtype: Any) -> None:
    """Keras metrics take ``dtype=``; ours accumulate in float32, so only that is accepted."""
    if dtype not in (None, "float32", torch.float32):
        raise ValueError(
            f"dtype={dtype!r} is not supported: kerasish metrics accumulate in float32. Leave dtype "
            "unset (or pass 'float32')."
        )


def _check_last_axis(axis: int) -> None:
    if axis != -1:
        raise ValueError(f"axis={axis!r} is not supported; kerasish metrics take the class axis last "
                         "(axis=-1). Move the class axis of y_pred last.")


def _as_tensors(*values: Any) -> tuple[Any, ...]:
    """Tensors pass through untouched (the per-step case); array-likes become tensors, as Keras
    accepts lists and NumPy arrays in ``update_state``."""
    return tuple(v if v is None or isinstance(v, torch.Tensor) else torch.as_tensor(v) for v in values)


def _squeeze_or_expand(x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True):
    """Keras's ``squeeze_or_expand_to_same_rank``: fix a rank difference of one trailing 1-axis."""
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _divide_no_nan(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(denominator == 0, torch.zeros_like(numerator), numerator / denominator)


# ---------------------------------------------------------------- confusion-matrix metrics


def _parse_thresholds(thresholds: Any, default: float) -> list[float]:
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


def _evenly_distributed(thresholds: Sequence[float]) -> bool:
    """Keras's ``is_evenly_distributed_thresholds`` (``np.allclose`` with ``atol=1e-7``)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = [float(torch.tensor(i, dtype=torch.float32) / (n - 1)) for i in range(n)]
    return all(abs(t - e) <= _EPSILON + 1e-5 * abs(e) for t, e in zip(thresholds, even))


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
    y_pred, y_true = _squeeze_or_expand(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = sample_weight.detach().to(device=device, dtype=torch.float32).unsqueeze(-1)
        _, weights = _squeeze_or_expand(y_true, weights, expand_rank_1=False)
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
    if _evenly_distributed(thresholds) if evenly is None else evenly:
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


class _ConfusionMetric(Metric):
    """Shared state handling of the metrics built on confusion counts.

    The counts live in device tensors created at the first batch (on its device) and grow by one
    fused add per count per step; they are sums over samples, so they are what ``summed_state``
    hands to the cross-rank reduction.
    """

    _counts: tuple[str, ...] = ()

    def __init__(self, name: str | None, thresholds: list[float], *, top_k: int | None = None,
                 class_id: int | None = None):
        super().__init__(name)
        self.thresholds = thresholds
        self.top_k = check_int(top_k, "top_k", least=1, allow_none=True)
        self.class_id = check_int(class_id, "class_id", least=0, allow_none=True)
        self._evenly = _evenly_distributed(thresholds)
        self._state: dict[str, torch.Tensor] | None = None

    def _state_shape(self) -> tuple[int, ...] | None:
        return (len(self.thresholds),)

    def _count_kwargs(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "class_id": self.class_id, "evenly": self._evenly}

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, sample_weight = _as_tensors(y_true, y_pred, sample_weight)
        counts = confusion_counts(y_true, y_pred, self.thresholds, self._counts,
                                  sample_weight=sample_weight, **self._count_kwargs())
        if self._state is None or next(iter(self._state.values())).device != y_pred.device:
            self._state = counts
            return
        for name, value in counts.items():
            self._state[name] += value

    def reset_state(self) -> None:
        # Fresh tensors at the next batch rather than zero_(): state made under inference_mode
        # (evaluate) cannot be updated in place later in training.
        self._state = None

    def _count(self, name: str) -> torch.Tensor:
        if self._state is None:
            shape = self._state_shape()
            return torch.zeros(shape if shape is not None else (len(self.thresholds),))
        return self._state[name]

    def summed_state(self) -> list[torch.Tensor]:
        if self._state is None and self._state_shape() is None:
            return []  # shape known only after a batch: Engine.all_reduce_results reports it
        return [self._count(name) for name in self._counts]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        self._state = dict(zip(self._counts, state))

    def _per_threshold(self, value: torch.Tensor) -> torch.Tensor:
        return value[0] if len(self.thresholds) == 1 else value


class _ConfusionCount(_ConfusionMetric):
    def __init__(self, thresholds: float | Sequence[float] | None = None, name: str | None = None,
                 dtype: Any = None):
        _check_dtype(dtype)
        super().__init__(name, _parse_thresholds(thresholds, 0.5))

    def result(self) -> torch.Tensor:
        return self._per_threshold(self._count(self._counts[0]))


class TruePositives(_ConfusionCount):
    """The (weighted) number of true positives: ``y_true != 0`` and ``y_pred > threshold``.

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5); with a list, ``result()``
            is a vector with one count per threshold. Use 0 for logits.
        name: the log key (default ``"true_positives"``).
        dtype: only ``None``/``"float32"``.

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


class _Rate(_ConfusionMetric):
    """``tp / (tp + other)``, the other count being ``_counts[1]``: Precision and Recall."""

    def __init__(self, thresholds: float | Sequence[float] | None = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: Any = None):
        _check_dtype(dtype)
        super().__init__(name, _parse_thresholds(thresholds, 0.5 if top_k is None else _NEG_INF),
                         top_k=top_k, class_id=class_id)

    def result(self) -> torch.Tensor:
        tp = self._count("tp")
        return self._per_threshold(_divide_no_nan(tp, tp + self._count(self._counts[1])))


class Precision(_Rate):
    """``tp / (tp + fp)`` over everything seen since the last reset (``keras.metrics.Precision``).

    Args:
        thresholds: a float or list of floats in [0, 1]; default 0.5 (with ``top_k``: no
            threshold). Use 0 for logits. A list gives one value per threshold.
        top_k: only the k largest predictions per sample count as positive.
        class_id: count only this class of the last axis.
        name: the log key (default ``"precision"``).
        dtype: only ``None``/``"float32"``.

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


class AUC(_ConfusionMetric):
    """Area under the ROC, PR or PR-gain curve, approximated on thresholds (``keras.metrics.AUC``).

    The four confusion counts are kept per threshold on the device; ``result()`` integrates them
    with Keras's Riemann sums (and Davis & Goadrich's interpolation for PR).

    Args:
        num_thresholds: evenly spaced thresholds in [0, 1] (> 1; default 200).
        curve: ``"ROC"``, ``"PR"`` or ``"PRGAIN"``.
        summation_method: ``"interpolation"``, ``"minoring"`` or ``"majoring"``.
        name: the log key (default ``"auc"``).
        dtype: only ``None``/``"float32"``.
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

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None, dtype: Any = None,
                 thresholds: Sequence[float] | None = None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights: Sequence[float] | None = None,
                 from_logits: bool = False):
        _check_dtype(dtype)
        if not isinstance(curve, str) or curve.lower() not in self._CURVES:
            raise ValueError(f"curve={curve!r} is not known; use 'ROC', 'PR' or 'PRGAIN'.")
        if not isinstance(summation_method, str) or summation_method.lower() not in self._SUMMATIONS:
            raise ValueError(f"summation_method={summation_method!r} is not known; use "
                             "'interpolation', 'minoring' or 'majoring'.")
        if thresholds is not None:
            inner = sorted(_parse_thresholds(list(thresholds), 0.5))
        else:
            num_thresholds = check_int(num_thresholds, "num_thresholds", least=2)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        if num_labels is not None and not multi_label:
            raise ValueError("num_labels is only used with multi_label=True; drop num_labels or set "
                             "multi_label=True.")
        super().__init__(name, [0.0 - _EPSILON, *inner, 1.0 + _EPSILON])
        self.num_thresholds = len(self.thresholds)
        self.curve = self._CURVES[curve.lower()]
        self.summation_method = summation_method.lower()
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = (None if label_weights is None
                              else torch.as_tensor(label_weights, dtype=torch.float32))
        self.from_logits = bool(from_logits)
        # The evenly spaced test runs on [0] + inner + [1], as in Keras (the ends carry epsilon).
        self._evenly = _evenly_distributed([0.0, *inner, 1.0])

    def _state_shape(self) -> tuple[int, ...] | None:
        if not self.multi_label:
            return (self.num_thresholds,)
        return None if self.num_labels is None else (self.num_thresholds, self.num_labels)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, sample_weight = _as_tensors(y_true, y_pred, sample_weight)
        if self.multi_label and y_pred.dim() != 2:
            raise ValueError("AUC(multi_label=True) needs y_pred of shape (batch, labels); got shape "
                             f"{tuple(y_pred.shape)}.")
        if self.from_logits:
            y_pred = torch.sigmoid(y_pred)
        super().update_state(y_true, y_pred, sample_weight)

    def _count_kwargs(self) -> dict[str, Any]:
        # Keras applies label_weights while counting only when the labels are flattened.
        return {"multi_label": self.multi_label, "evenly": self._evenly,
                "label_weights": None if self.multi_label else self.label_weights}

    def result(self) -> torch.Tensor:
        tp, fp, tn, fn = (self._count(name) for name in self._counts)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._average_labels(self._interpolated_pr_auc(tp, fp, fn))
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * _divide_no_nan(fp, tp)
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
        slope = _divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        safe_ratio = torch.where((p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(p[:-1], p[1:].clamp_min(0)),
                                 torch.ones_like(p[1:]))
        return _divide_no_nan(slope * (dtp + intercept * torch.log(safe_ratio)),
                              (tp[1:] + fn[1:]).clamp_min(0))

    def _average_labels(self, terms: torch.Tensor) -> torch.Tensor:
        if not self.multi_label:
            return terms.sum()
        by_label = terms.sum(dim=0)
        if self.label_weights is None:
            return by_label.mean()
        weights = self.label_weights.to(by_label.device)
        return _divide_no_nan((by_label * weights).sum(), weights.sum())


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
        dtype: only ``None``/``"float32"``.

    Example:
        model.compile("adam", "categorical_crossentropy",
                      metrics=[ks.metrics.FBetaScore(average="macro", beta=2.0)])
    """

    _counts = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str = "fbeta_score", dtype: Any = None):
        _check_dtype(dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"average={average!r} is not known; use None, 'micro', 'macro' or "
                             "'weighted'.")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"beta must be a Python float > 0 (e.g. 1.0); got {beta!r}.")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"threshold must be None or a Python float in (0, 1]; got {threshold!r}.")
        super().__init__(name)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self._state: dict[str, torch.Tensor] | None = None
        self._classes: int | None = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, sample_weight = _as_tensors(y_true, y_pred, sample_weight)
        if y_pred.dim() != 2 or y_true.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs (batch, classes); got y_pred of shape "
                f"{tuple(y_pred.shape)} and y_true of shape {tuple(y_true.shape)}. One-hot encode "
                "integer labels (ks.utils.to_categorical) first."
            )
        y_pred = y_pred.detach().float()
        y_true = y_true.to(device=y_pred.device, dtype=torch.float32)
        if self.threshold is None:
            top = y_pred.amax(dim=-1, keepdim=True)
            predicted = ((y_pred >= top) & (y_pred.abs() > 1e-9)).float()
        else:
            predicted = (y_pred > self.threshold).float()
        weight = None
        if sample_weight is not None:
            weight = sample_weight.to(y_pred.device, torch.float32).unsqueeze(1)
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
        self._classes = y_pred.shape[-1]
        if self._state is None or self._state["true_positives"].device != y_pred.device:
            self._state = counts
            return
        for key, value in counts.items():
            self._state[key] += value

    def result(self) -> torch.Tensor:
        if self._state is None:
            return torch.zeros(())
        tp, fp, fn, support = (self._state[key] for key in self._counts)
        precision = tp / (tp + fp + _EPSILON)
        recall = tp / (tp + fn + _EPSILON)
        beta2 = self.beta ** 2
        score = (precision * recall) / (beta2 * precision + recall + _EPSILON) * (1 + beta2)
        if self.average == "weighted":
            return (score * (support / (support.sum() + _EPSILON))).sum()
        if self.average is not None:
            return score.mean()
        return score

    def reset_state(self) -> None:
        self._state = None

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
        dtype: only ``None``/``"float32"``.

    Example:
        model.compile("adam", "categorical_crossentropy", metrics=[ks.metrics.F1Score(average="macro")])
    """

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str = "f1_score", dtype: Any = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)


# ---------------------------------------------------------------- adapters


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
        if not _is_torchmetrics(metric):
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


TorchMetricsAdapter = TorchMetric  # the name model.py and earlier releases use


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
        return torch.as_tensor(self.metric.result())

    def reset_state(self) -> None:
        self.metric.reset_state()

    def _summed_variables(self) -> list[Any]:
        return [v for v in self.metric.variables if getattr(v, "aggregation", None) == "sum"]

    def summed_state(self) -> list[torch.Tensor]:
        return [torch.as_tensor(v.value) for v in self._summed_variables()]

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        for variable, value in zip(self._summed_variables(), state):
            variable.assign(value.reshape(tuple(variable.shape)))


# ---------------------------------------------------------------- names


_REGISTRY: dict[str, type[Metric]] = name_registry(
    (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
     RootMeanSquaredError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
     BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
     SparseTopKCategoricalAccuracy, Precision, Recall, AUC, TruePositives, FalsePositives,
     TrueNegatives, FalseNegatives, F1Score, FBetaScore),
    aliases={"rmse": RootMeanSquaredError, "fbeta_score": FBetaScore},
)

KNOWN_METRICS = tuple(sorted([*_REGISTRY, "accuracy", "acc"]))


def _is_torchmetrics(obj: Any) -> bool:
    return any(cls.__module__.startswith("torchmetrics") for cls in type(obj).__mro__) and hasattr(
        obj, "compute"
    )


def _from_keras(spec: Any, keras: Any) -> Metric:
    """A Keras metric object, class or function, run by Keras itself (torch backend only)."""
    name, instead = ks_equivalent(spec, globals(), Metric, _REGISTRY, "metric")
    spec = keras_instance(spec, keras, keras.metrics.Metric, f"metrics entry {name}", instead)
    if isinstance(spec, keras.metrics.Metric):
        return KerasMetric(spec)
    if callable(spec):  # keras.metrics.mean_absolute_error and friends: Keras order, per sample
        return MeanMetricWrapper(spec, name=getattr(spec, "__name__", None))
    raise TypeError(f"metrics entry {name} is a Keras object that is not a metric; pass a "
                    f"keras.metrics.Metric or use {instead}.")


def get_metric(spec: Any) -> Metric:
    """Resolve a metric name, ``ks.metrics`` object or class, Keras metric, torchmetrics object or
    callable into a ``ks.metrics.Metric``.

    Keras objects (``keras.metrics.AUC()``, ``keras.metrics.mean_absolute_error``) keep Keras's
    semantics: ``update_state(y_true, y_pred, sample_weight)`` and their own ``result()``. A user
    callable is called torch-style, ``fn(y_pred, y_true)`` (docs/differences.md).

    Args:
        spec: a name (``"accuracy"``, ``"precision"``, ``"auc"``, ``"mape"``, ...; see
            ``KNOWN_METRICS``), a ``ks.metrics.Metric`` object or class, a Keras metric object,
            class or function, a torchmetrics ``Metric``, or a callable ``fn(y_pred, y_true)``
            returning one value per sample.

    Returns:
        A ``ks.metrics.Metric``; a name becomes the metric's log key, as in Keras.

    Raises:
        ValueError: an unknown name.
        TypeError: anything else, or a Keras object on a backend other than torch.

    Example:
        ks.metrics.get_metric("auc")   # AUC(name="auc")
    """
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, type) and issubclass(spec, Metric):
        return spec()
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
    keras = keras_for(spec)
    if keras is not None:
        return _from_keras(spec, keras)
    if _is_torchmetrics(spec):
        return TorchMetric(spec)
    if callable(spec):
        return MeanMetricWrapper(spec, torch_style=True)
    raise TypeError(
        f"metrics entries must be names, ks.metrics objects, torchmetrics Metrics or callables; "
        f"got {type(spec).__name__}."
    )
