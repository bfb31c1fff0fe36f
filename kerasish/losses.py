"""Losses with Keras names and semantics, plus torch's own names.

A Keras loss computes one value per sample, weights it by ``sample_weight`` and divides the sum by
the number of values ("sum_over_batch_size"). ``ks.losses`` objects keep Keras's call order,
``loss(y_true, y_pred, sample_weight=None)``, so ported code keeps working; user callables and torch
loss modules are called torch-style, ``fn(y_pred, y_true)`` (see docs/differences.md).

Element-wise losses never broadcast silently: a target whose shape differs from the output's is
an error, except the one case Keras also accepts, ``(N,)`` targets against ``(N, 1)`` outputs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any, TypeGuard

import torch
import torch.nn.functional as F

from kerasish._keras_interop import keras_for, keras_instance, ks_equivalent
from kerasish._naming import name_registry, snake_case

_EPSILON = 1e-7  # Keras's backend.epsilon(), used to clip probabilities


def align_targets(y_true: torch.Tensor, y_pred: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``y_true`` shaped like ``y_pred`` or raise; never broadcast silently.

    Equal shapes pass. Targets that lack the outputs' trailing 1-axis (``(N,)`` against
    ``(N, 1)``) get it, and targets with an extra trailing 1-axis lose it, as Keras accepts;
    any other difference is an error rather than a broadcast to ``(N, N)``.

    Args:
        y_true: the targets.
        y_pred: the outputs.
        name: the loss's name, for the error message.

    Returns:
        ``y_true``, with a trailing 1-axis added or removed where needed.

    Raises:
        ValueError: the shapes differ in any other way.

    Example:
        ks.losses.align_targets(torch.zeros(8), torch.zeros(8, 1), "mse").shape   # (8, 1)
    """
    if y_true.shape == y_pred.shape:
        return y_true
    if y_true.dim() == y_pred.dim() - 1 and y_pred.shape[-1] == 1 and y_true.shape == y_pred.shape[:-1]:
        return y_true.unsqueeze(-1)
    if y_pred.dim() == y_true.dim() - 1 and y_true.shape[-1] == 1 and y_pred.shape == y_true.shape[:-1]:
        return y_true.squeeze(-1)
    raise ValueError(
        f"loss {name!r} compares outputs and targets element by element, but the model output "
        f"has shape {tuple(y_pred.shape)} and the targets have shape {tuple(y_true.shape)}. "
        "Reshape the targets (or the model's last layer) so the shapes match; kerasish does not "
        "broadcast them."
    )


def weighted_reduce(values: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    """Keras's "sum_over_batch_size": sum of (weighted) values divided by their number.

    The divisor is the number of values, not the sum of the weights, so a zero weight lowers the
    mean as in Keras.

    Args:
        values: the loss values, one per sample (or per element).
        sample_weight: ``None``, or weights for the leading axes of ``values``; they are
            broadcast over its trailing axes.

    Returns:
        A 0-d tensor.

    Example:
        ks.losses.weighted_reduce(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0]))   # tensor(0.5)
    """
    if sample_weight is None:
        return values.mean()
    weight = sample_weight.to(values.dtype)
    while weight.dim() < values.dim():
        weight = weight.unsqueeze(-1)
    return (values * weight).sum() / values.numel()


class Loss:
    """Base class of kerasish losses: subclasses implement ``call(y_true, y_pred)`` per sample.

    A loss object is called Keras's way, ``loss(y_true, y_pred, sample_weight=None)``, and returns
    the reduced loss. The base class lines the targets up with the outputs (``align_targets``),
    computes float16 / bfloat16 outputs in float32, weights and reduces ``call``'s values. A
    subclass may also implement ``mean`` (the unweighted loss, with a fused kernel) and
    ``check_targets`` (checks run once before training, never per step).

    ``class_targets`` marks losses whose targets are class indices; their labels are range-checked
    once before training so a bad label fails before any weight changes. ``elementwise = False``
    turns ``align_targets`` off, for losses whose targets are not shaped like the outputs.

    Args:
        name: the log key; by default the class name in snake_case.
        reduction: ``"sum_over_batch_size"`` (Keras's default; ``"mean"`` is the same): the sum
            of the weighted per-sample values divided by their number. ``"sum"``: their sum.
            ``"none"`` or ``None``: the per-sample values, times ``sample_weight`` when given.

    Raises:
        ValueError: any other ``reduction``.

    Example:
        class ScaledMSE(ks.losses.Loss):
            def __init__(self, scale=2.0, name="scaled_mse"):
                super().__init__(name=name)
                self.scale = scale

            def call(self, y_true, y_pred):
                return self.scale * (y_pred - y_true).square().mean(dim=-1)

        model.compile("adam", loss=ScaledMSE())
    """

    class_targets = False
    elementwise = True

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "mean", "sum", "none", None):
            raise ValueError(
                f"reduction={reduction!r} is not supported; use 'sum_over_batch_size', 'sum' "
                "or 'none'."
            )
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """The loss of each sample, before weighting and reduction; what a subclass implements.

        Args:
            y_true: the targets: shaped like ``y_pred`` for element-wise losses, integer class
                indices (``y_pred``'s shape without the class axis) for the sparse ones.
            y_pred: the outputs, in float32 when the model computed them in half precision.

        Returns:
            One value per sample: for most losses ``y_pred``'s shape without its last axis.
        """
        raise NotImplementedError

    def __call__(
        self,
        y_true: torch.Tensor,
        y_pred: torch.Tensor,
        sample_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The loss of a batch, Keras's way round.

        Args:
            y_true: the targets.
            y_pred: the outputs.
            sample_weight: ``None``, or one weight per sample.

        Returns:
            A 0-d tensor, or the per-sample values with ``reduction="none"``.
        """
        if self.elementwise:
            y_true = align_targets(y_true, y_pred, self.name)
        if y_pred.dtype in _HALF:
            y_pred = y_pred.float()
        if sample_weight is None and self.reduction in ("sum_over_batch_size", "mean"):
            return self.mean(y_true, y_pred)
        values = self.call(y_true, y_pred)
        if self.reduction in (None, "none"):
            return values if sample_weight is None else values * sample_weight
        if self.reduction == "sum":
            return weighted_reduce(values, sample_weight) * values.numel()
        return weighted_reduce(values, sample_weight)

    def mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """The unweighted loss; subclasses use torch's fused kernels where one computes it.

        Unweighted batches are the common case, and a fused ``reduction="mean"`` kernel saves a
        separate mean and its backward on every step (about 4% of a small model's step on CPU).
        An override must equal ``call(y_true, y_pred).mean()``, which is the default.

        Args:
            y_true: the targets, as for ``call``.
            y_pred: the outputs, as for ``call``.

        Returns:
            A 0-d tensor.
        """
        return self.call(y_true, y_pred).mean()

    def check_targets(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        """Host-side checks run once before training (never inside the step loop).

        The default checks nothing; the class-index losses check the labels' dtype, shape and
        range here. An override raises a ``ValueError`` or ``TypeError`` that names the loss.

        Args:
            y_true: the whole target array when ``fit`` knows it, else the first batch's targets.
            y_pred: the first batch's outputs.
        """


_HALF = (torch.float16, torch.bfloat16)


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true) ** 2)`` over the last axis, per sample (``"mse"``).

    Args:
        name, reduction: as ``Loss``; the default name is ``"mean_squared_error"``.

    Example:
        ks.losses.MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))  # 0.5
    """

    def call(self, y_true, y_pred):
        return (y_pred - y_true).square().mean(dim=-1)

    def mean(self, y_true, y_pred):
        return F.mse_loss(y_pred, y_true.to(y_pred.dtype))


class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|)`` over the last axis, per sample (``"mae"``).

    Args:
        name, reduction: as ``Loss``; the default name is ``"mean_absolute_error"``.

    Example:
        model.compile("adam", loss=ks.losses.MeanAbsoluteError())
    """

    def call(self, y_true, y_pred):
        return (y_pred - y_true).abs().mean(dim=-1)

    def mean(self, y_true, y_pred):
        return F.l1_loss(y_pred, y_true.to(y_pred.dtype))


class MeanAbsolutePercentageError(Loss):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis (``"mape"``).

    Args:
        name, reduction: as ``Loss``; the default name is ``"mean_absolute_percentage_error"``.

    Example:
        mape = ks.losses.MeanAbsolutePercentageError()(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        # tensor(50.): the output misses the target by half of it
    """

    def call(self, y_true, y_pred):
        diff = (y_true - y_pred).abs() / y_true.abs().clamp_min(_EPSILON)
        return 100.0 * diff.mean(dim=-1)


class MeanSquaredLogarithmicError(Loss):
    """``mean((log(1 + y_pred) - log(1 + y_true)) ** 2)`` over the last axis (``"msle"``).

    Values below 1e-7 are raised to 1e-7 before the logarithm, as in Keras.

    Args:
        name, reduction: as ``Loss``; the default name is ``"mean_squared_logarithmic_error"``.

    Example:
        model.compile("adam", loss="msle")   # the same loss by name
    """

    def call(self, y_true, y_pred):
        first = torch.log(y_pred.clamp_min(_EPSILON) + 1.0)
        second = torch.log(y_true.clamp_min(_EPSILON) + 1.0)
        return (first - second).square().mean(dim=-1)


class Huber(Loss):
    """The Huber loss: quadratic for small errors, linear for large ones, averaged over the last axis.

    For an error ``e = y_pred - y_true``: ``0.5 * e**2`` where ``|e| <= delta``, else
    ``delta * (|e| - 0.5 * delta)``.

    Args:
        delta: where the loss turns from quadratic to linear.
        name, reduction: as ``Loss``; the default name is ``"huber_loss"``.

    Example:
        loss = ks.losses.Huber(delta=1.0)
        loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))   # (0.125 + 2.5) / 2
    """

    def __init__(self, delta: float = 1.0, name: str | None = None, reduction="sum_over_batch_size"):
        super().__init__(name=name or "huber_loss", reduction=reduction)
        self.delta = delta

    def call(self, y_true, y_pred):
        return F.huber_loss(y_pred, y_true.to(y_pred.dtype), reduction="none", delta=self.delta).mean(dim=-1)


class LogCosh(Loss):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed without overflow.

    About ``e**2 / 2`` for small errors and ``|e| - log(2)`` for large ones.

    Args:
        name, reduction: as ``Loss``; the default name is ``"log_cosh"``.

    Example:
        model.compile("adam", loss=ks.losses.LogCosh())
    """

    def call(self, y_true, y_pred):
        x = y_pred - y_true
        return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


class KLDivergence(Loss):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` over the last axis.

    Both are probability distributions over the last axis; they are clipped to ``[1e-7, 1]``
    first, as in Keras.

    Args:
        name, reduction: as ``Loss``; the default name is ``"kl_divergence"``.

    Example:
        loss = ks.losses.KLDivergence()
        loss(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.25, 0.75]]))   # tensor(0.1438)
    """

    def call(self, y_true, y_pred):
        y_true = y_true.clamp(_EPSILON, 1.0)
        y_pred = y_pred.clamp(_EPSILON, 1.0)
        return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


class Poisson(Loss):
    """The Poisson loss ``mean(y_pred - y_true * log(y_pred + 1e-7))`` over the last axis.

    For count targets; ``y_pred`` is the predicted rate (positive).

    Args:
        name, reduction: as ``Loss``; the default name is ``"poisson"``.

    Example:
        model.compile("adam", loss=ks.losses.Poisson())   # a module ending in softplus
    """

    def call(self, y_true, y_pred):
        return (y_pred - y_true * torch.log(y_pred + _EPSILON)).mean(dim=-1)


class Hinge(Loss):
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis, for -1/1 or 0/1 labels.

    A label 0 counts as -1, as Keras converts binary labels.

    Args:
        name, reduction: as ``Loss``; the default name is ``"hinge"``.

    Example:
        ks.losses.Hinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[-0.5, 0.5]]))   # tensor(0.5)
    """

    def call(self, y_true, y_pred):
        y_true = _to_plus_minus_one(y_true)
        return (1.0 - y_true * y_pred).clamp_min(0.0).mean(dim=-1)


class SquaredHinge(Loss):
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis; labels as for ``Hinge``.

    Args:
        name, reduction: as ``Loss``; the default name is ``"squared_hinge"``.

    Example:
        model.compile("adam", loss="squared_hinge")
    """

    def call(self, y_true, y_pred):
        y_true = _to_plus_minus_one(y_true)
        return (1.0 - y_true * y_pred).clamp_min(0.0).square().mean(dim=-1)


class CosineSimilarity(Loss):
    """The negative cosine similarity of ``y_true`` and ``y_pred`` along the last axis.

    -1 for vectors pointing the same way, 0 for orthogonal ones, so minimising it aligns the
    outputs with the targets (Keras's sign convention).

    Args:
        name, reduction: as ``Loss``; the default name is ``"cosine_similarity"``.

    Example:
        ks.losses.CosineSimilarity()(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))  # -1.
    """

    def call(self, y_true, y_pred):
        return -F.cosine_similarity(y_true.to(y_pred.dtype), y_pred, dim=-1, eps=1e-12)


def _to_plus_minus_one(y_true: torch.Tensor) -> torch.Tensor:
    # Keras converts {0, 1} labels to {-1, 1}; labels already in {-1, 1} are kept.
    return torch.where(y_true == 0, -torch.ones_like(y_true), y_true)


class BinaryCrossentropy(Loss):
    """Binary cross-entropy; ``from_logits=False`` (Keras's default) expects probabilities.

    Targets are 0/1 (or soft) and shaped like the outputs; the loss is averaged over the last
    axis. Probabilities are clipped to ``[1e-7, 1 - 1e-7]``, as in Keras.

    Args:
        from_logits: whether ``y_pred`` are logits (computed with torch's stable
            ``binary_cross_entropy_with_logits``) rather than probabilities.
        label_smoothing: moves the targets towards 0.5: ``y * (1 - s) + 0.5 * s``.
        name, reduction: as ``Loss``; the default name is ``"binary_crossentropy"``.

    Example:
        loss = ks.losses.BinaryCrossentropy(from_logits=True)
        loss(torch.tensor([[1.0], [0.0]]), torch.tensor([[2.0], [-1.0]]))   # tensor(0.2201)
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(name=name or "binary_crossentropy", reduction=reduction)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        y_true = y_true.to(y_pred.dtype)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        else:
            p = y_pred.clamp(_EPSILON, 1.0 - _EPSILON)
            values = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
        return values.mean(dim=-1)


class CategoricalCrossentropy(Loss):
    """Cross-entropy against one-hot (or soft) targets over the last axis.

    Without ``from_logits`` the outputs are taken as probabilities: rescaled to sum to 1 and
    clipped to ``[1e-7, 1 - 1e-7]``, as in Keras.

    Args:
        from_logits: whether ``y_pred`` are logits (a log-softmax is applied) rather than
            probabilities.
        label_smoothing: mixes the targets with the uniform distribution over the ``C``
            classes: ``y * (1 - s) + s / C``.
        name, reduction: as ``Loss``; the default name is ``"categorical_crossentropy"``.

    Example:
        loss = ks.losses.CategoricalCrossentropy()
        loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.8]]))   # -log(0.8) = 0.2231
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(name=name or "categorical_crossentropy", reduction=reduction)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        y_true = y_true.to(y_pred.dtype)
        if self.label_smoothing:
            classes = y_pred.shape[-1]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        if self.from_logits:
            log_p = torch.log_softmax(y_pred, dim=-1)
        else:
            probs = y_pred / y_pred.sum(dim=-1, keepdim=True)
            log_p = torch.log(probs.clamp(_EPSILON, 1.0 - _EPSILON))
        return -(y_true * log_p).sum(dim=-1)


class _ClassIndexLoss(Loss):
    """Losses whose targets are integer class indices over the last output axis."""

    class_targets = True
    elementwise = False

    def __call__(self, y_true, y_pred, sample_weight=None):
        if y_true.dtype != torch.int64 or y_true.dim() != y_pred.dim() - 1:
            y_true = _class_indices(y_true, y_pred, self.name)
        if sample_weight is None and self.reduction == "sum_over_batch_size" and y_pred.dtype not in _HALF:
            return self.mean(y_true, y_pred)  # the per-step path: one check, one fused kernel
        return super().__call__(y_true, y_pred, sample_weight)

    def check_targets(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        y_true = _class_indices(y_true, y_pred, self.name)
        _check_class_index_shape(y_true, y_pred, self.name)
        if y_true.numel() == 0:
            return
        classes = y_pred.shape[-1] if y_pred.dim() > 1 else None
        low, high = int(y_true.min()), int(y_true.max())  # one host read, before training
        ignore = getattr(self, "ignore_index", None)
        if low < 0 and not (ignore is not None and low == ignore):
            raise ValueError(
                f"loss {self.name!r} takes class indices, but the targets contain {low}. Labels "
                f"must lie in [0, {classes}); remap them (e.g. with np.unique(y, return_inverse=True))."
            )
        if classes is not None and high >= classes:
            raise ValueError(
                f"loss {self.name!r} takes class indices, but the targets contain {high} and the "
                f"model outputs {classes} classes (last axis of shape {tuple(y_pred.shape)}). "
                f"Labels must lie in [0, {classes}); widen the output layer or remap the labels."
            )


def _class_indices(y_true: torch.Tensor, y_pred: torch.Tensor, name: str) -> torch.Tensor:
    """Per-step preparation of integer targets: cheap metadata checks only (no host read)."""
    if y_true.is_floating_point() or y_true.dtype == torch.bool:
        raise TypeError(
            f"loss {name!r} takes integer class indices, but the targets have dtype "
            f"{y_true.dtype}. Pass integer labels (y.astype('int64')), or use "
            "'categorical_crossentropy' for one-hot / soft targets."
        )
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)  # Keras accepts (N, 1) integer labels
    return y_true if y_true.dtype == torch.int64 else y_true.long()


def _check_class_index_shape(y_true: torch.Tensor, y_pred: torch.Tensor, name: str) -> None:
    # Compare all but the batch axis: the check runs once, possibly on the whole target array.
    if y_true.dim() != y_pred.dim() - 1 or y_true.shape[1:] != y_pred.shape[1:-1]:
        raise ValueError(
            f"loss {name!r} expects one class index per output row: targets of shape "
            f"{tuple(y_pred.shape[:-1])} for outputs of shape {tuple(y_pred.shape)}, got "
            f"{tuple(y_true.shape)}. For one-hot targets use 'categorical_crossentropy'."
        )


class SparseCategoricalCrossentropy(_ClassIndexLoss):
    """Keras's sparse cross-entropy: probabilities by default, logits with ``from_logits=True``.

    Targets are integer class indices, one per output row: shaped like ``y_pred`` without its
    class axis (an extra trailing 1-axis is accepted). Float targets are a ``TypeError``, and
    labels outside ``[0, classes)`` a ``ValueError`` raised once before training.

    Args:
        from_logits: whether ``y_pred`` are logits rather than probabilities (which are
            rescaled to sum to 1 and clipped, as in Keras).
        ignore_class: a label whose rows get a zero loss (padding, say). Those rows still
            count in the ``sum_over_batch_size`` divisor; Keras leaves them out of it.
        name, reduction: as ``Loss``; the default name is ``"sparse_categorical_crossentropy"``.

    Example:
        loss = ks.losses.SparseCategoricalCrossentropy(from_logits=True)
        loss(torch.tensor([1, 0]), torch.tensor([[0.0, 2.0], [1.0, 1.0]]))   # tensor(0.4100)
    """

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(name=name or "sparse_categorical_crossentropy", reduction=reduction)
        self.from_logits = from_logits
        self.ignore_index = ignore_class

    def call(self, y_true, y_pred):
        if self.from_logits:
            log_p = torch.log_softmax(y_pred, dim=-1)
        else:
            probs = y_pred / y_pred.sum(dim=-1, keepdim=True)
            log_p = torch.log(probs.clamp(_EPSILON, 1.0 - _EPSILON))
        keep = None
        if self.ignore_index is not None:
            keep = y_true != self.ignore_index
            y_true = torch.where(keep, y_true, torch.zeros_like(y_true))
        values = -log_p.gather(-1, y_true.unsqueeze(-1)).squeeze(-1)
        return values if keep is None else values * keep


class CrossEntropy(_ClassIndexLoss):
    """torch's ``cross_entropy``: logits and integer class indices (``"cross_entropy"``).

    The class axis is the last one, as everywhere in kerasish (it is moved to where torch
    wants it). Labels are checked as for ``SparseCategoricalCrossentropy``; torch's
    ``ignore_index=-100`` is not supported, so a label -100 is refused before training.

    Args:
        label_smoothing: torch's ``label_smoothing``, in [0, 1].
        name, reduction: as ``Loss``; the default name is ``"cross_entropy"``.

    Example:
        model.compile("adam", loss=ks.losses.CrossEntropy(label_smoothing=0.1))
    """

    def __init__(self, label_smoothing: float = 0.0, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name or "cross_entropy", reduction=reduction)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        logits = y_pred.movedim(-1, 1) if y_pred.dim() > 2 else y_pred
        return F.cross_entropy(logits, y_true, reduction="none", label_smoothing=self.label_smoothing)

    def mean(self, y_true, y_pred):
        logits = y_pred.movedim(-1, 1) if y_pred.dim() > 2 else y_pred
        return F.cross_entropy(logits, y_true, label_smoothing=self.label_smoothing)


class NLL(_ClassIndexLoss):
    """torch's ``nll_loss``: log-probabilities and integer class indices (``"nll"``).

    For a module ending in ``log_softmax``; the class axis is the last one.

    Args:
        name, reduction: as ``Loss``; the default name is ``"nll"``.

    Example:
        ks.losses.NLL()(torch.tensor([1]), torch.log(torch.tensor([[0.2, 0.8]])))   # 0.2231
    """

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name or "nll", reduction=reduction)

    def call(self, y_true, y_pred):
        log_p = y_pred.movedim(-1, 1) if y_pred.dim() > 2 else y_pred
        return F.nll_loss(log_p, y_true, reduction="none")

    def mean(self, y_true, y_pred):
        log_p = y_pred.movedim(-1, 1) if y_pred.dim() > 2 else y_pred
        return F.nll_loss(log_p, y_true)


class BCEWithLogits(BinaryCrossentropy):
    """torch's ``binary_cross_entropy_with_logits`` (``"bce_with_logits"``).

    ``BinaryCrossentropy(from_logits=True)`` under torch's name.

    Args:
        name, reduction: as ``Loss``; the default name is ``"bce_with_logits"``.

    Example:
        model.compile("adam", loss="bce_with_logits")   # a module ending in Linear(..., 1)
    """

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        super().__init__(from_logits=True, name=name or "bce_with_logits", reduction=reduction)


class _Crossentropy(Loss):
    """Keras's ``"crossentropy"`` / ``"ce"``: the variant is picked from the shapes, as in Keras 3.

    An output with one unit gets binary cross-entropy; targets of lower rank than the output, or
    with one column against several output units, get sparse categorical cross-entropy; anything
    else categorical cross-entropy (all on probabilities, Keras's default). ``compile`` resolves
    it once per output from the first batch (``resolve``); called directly, it resolves each call.

    Example:
        model.compile("adam", loss="crossentropy", metrics=["accuracy"])
    """

    elementwise = False

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size"):
        super().__init__(name=name or "crossentropy", reduction=reduction)

    def resolve(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> Loss:
        """The concrete cross-entropy for targets and outputs of these shapes (Keras's rule)."""
        true_rank, pred_rank = y_true.dim(), y_pred.dim()
        true_last = y_true.shape[-1] if true_rank else 1
        pred_last = y_pred.shape[-1] if pred_rank else 1
        if pred_last == 1:
            variant: type[Loss] = BinaryCrossentropy
        elif true_rank < pred_rank or (true_last == 1 and pred_last > 1):
            variant = SparseCategoricalCrossentropy
        else:
            variant = CategoricalCrossentropy
        # The same object for the same variant: a compiled step is not traced again at each fit.
        made = self.__dict__.setdefault("_variants", {})
        if variant not in made:
            made[variant] = variant(name=self.name, reduction=self.reduction)
        return made[variant]

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.resolve(y_true, y_pred)(y_true, y_pred, sample_weight)

    def check_targets(self, y_true, y_pred) -> None:
        self.resolve(y_true, y_pred).check_targets(y_true, y_pred)


_REGISTRY: dict[str, type[Loss]] = name_registry(
    (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
     Huber, LogCosh, KLDivergence, Poisson, Hinge, SquaredHinge, CosineSimilarity, BinaryCrossentropy,
     CategoricalCrossentropy, SparseCategoricalCrossentropy, CrossEntropy, NLL, BCEWithLogits),
    aliases={"huber_loss": Huber, "logcosh": LogCosh, "kld": KLDivergence,
             "kullback_leibler_divergence": KLDivergence, "crossentropy": _Crossentropy,
             "ce": _Crossentropy},
)

KNOWN_LOSSES = tuple(sorted(_REGISTRY))


def _is_torch_loss_module(fn: Any) -> TypeGuard[torch.nn.modules.loss._Loss]:
    """Whether ``fn`` is one of torch's loss modules (or a subclass), whose ``reduction`` means what
    torch documents: a copy with ``reduction="none"`` gives per-element values to weight.

    torch has no public base class for its losses; this is the one place kerasish reads the private
    ``torch.nn.modules.loss._Loss`` (tests/test_private_apis.py fails if a torch release moves it).
    """
    return isinstance(fn, torch.nn.modules.loss._Loss) and hasattr(fn, "reduction")


class _TorchStyleLoss(Loss):
    """Adapts a torch loss module or a ``fn(y_pred, y_true)`` callable to the Keras reduction.

    Without sample weights the callable is used exactly as the user wrote it. With sample weights
    a torch loss module is re-run with ``reduction="none"`` and a callable must return one value
    per sample, because a scalar cannot be re-weighted.
    """

    elementwise = False

    def __init__(self, fn: Callable[..., torch.Tensor], name: str):
        super().__init__(name=name)
        self.fn = fn
        self._unreduced = None
        if _is_torch_loss_module(fn):
            self._unreduced = copy.copy(fn)
            self._unreduced.reduction = "none"

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            out = self.fn(y_pred, y_true)
            return out if out.dim() == 0 else out.mean()
        if self._unreduced is not None:
            values = self._unreduced(y_pred, y_true)
        else:
            values = self.fn(y_pred, y_true)
        if values.dim() == 0:
            raise ValueError(
                f"loss {self.name!r} returned a scalar, so sample_weight/class_weight cannot be "
                "applied. Return one loss value per sample (no reduction) from the loss function."
            )
        if values.dim() > 1:
            values = values.flatten(1).mean(dim=1)
        return weighted_reduce(values, sample_weight)


class KerasLoss(Loss):
    """A ``keras.losses.Loss`` object (Keras 3, torch backend) used with Keras's semantics.

    kerasish calls it exactly as Keras's trainer does, ``loss(y_true, y_pred, sample_weight)``:
    its own reduction, mask handling and name apply, and the arguments are never swapped.
    ``get_loss`` builds this wrapper for Keras loss objects, classes and functions
    (``keras.losses.categorical_crossentropy`` is wrapped in ``keras.losses.LossFunctionWrapper``
    as Keras's ``compile`` does). Keras computes on its own device (``cuda`` when there is one),
    so keep the model on that device.

    Args:
        loss: the ``keras.losses.Loss`` object.

    Example:
        model.compile("adam", keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
    """

    elementwise = False

    def __init__(self, loss: Any):
        super().__init__(name=loss.name, reduction=None)
        self.reduction = loss.reduction
        self.loss = loss

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.loss(y_true, y_pred, sample_weight=sample_weight)


def _keras_function_loss(keras: Any, fn: Callable, name: str) -> Any:
    """A ``keras.losses.Loss`` around a Keras loss function, as Keras's ``compile`` wraps one (its
    ``LossFunctionWrapper`` is not public): Keras's ``Loss.__call__`` then applies the reduction,
    the sample weights and the masks."""

    class FunctionLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return fn(y_true, y_pred)

    return FunctionLoss(name=name)


def _from_keras(spec: Any, keras: Any) -> Loss:
    name, instead = ks_equivalent(spec, globals(), Loss, _REGISTRY, "loss")
    spec = keras_instance(spec, keras, keras.losses.Loss, f"loss {name}", instead)
    if isinstance(spec, keras.losses.Loss):
        return KerasLoss(spec)
    if callable(spec):  # a Keras loss function: per-sample values, Keras order and reduction
        return KerasLoss(_keras_function_loss(keras, spec, getattr(spec, "__name__", name)))
    raise TypeError(f"loss {name} is a Keras object that is not a loss; use {instead}.")


def get_loss(spec: str | Loss | torch.nn.Module | Callable) -> Loss:
    """Resolve a loss name, ``ks.losses`` object, Keras loss, torch loss module or callable.

    Keras losses (``keras.losses.Loss`` objects or classes, functions such as
    ``keras.losses.categorical_crossentropy``) keep Keras's semantics: ``(y_true, y_pred,
    sample_weight)``, their reduction and name. Torch loss modules and user callables are called
    torch-style, ``fn(y_pred, y_true)`` (docs/differences.md).

    Args:
        spec: a loss name (see ``KNOWN_LOSSES``), a ``ks.losses`` object, a Keras loss, a torch
            loss module or a callable ``fn(y_pred, y_true)``.

    Returns:
        A ``ks.losses.Loss`` called as ``loss(y_true, y_pred, sample_weight)``.

    Raises:
        ValueError: an unknown name.
        TypeError: anything else, or a Keras loss on a backend other than torch.

    Example:
        loss = ks.losses.get_loss("categorical_crossentropy")
    """
    if isinstance(spec, Loss):
        return spec
    keras = keras_for(spec)
    if keras is not None:
        return _from_keras(spec, keras)
    if isinstance(spec, str):
        factory = _REGISTRY.get(spec.lower())
        if factory is None:
            raise ValueError(
                f"loss={spec!r} is not a known loss name. Use one of {', '.join(KNOWN_LOSSES)}, "
                "a ks.losses object, a torch loss module or a callable fn(y_pred, y_true)."
            )
        loss = factory()
        loss.name = spec.lower()
        return loss
    if callable(spec):
        name = getattr(spec, "__name__", None) or snake_case(type(spec).__name__)
        return _TorchStyleLoss(spec, name)
    raise TypeError(
        f"loss must be a name, a ks.losses object, a torch loss module or a callable; got "
        f"{type(spec).__name__}."
    )
