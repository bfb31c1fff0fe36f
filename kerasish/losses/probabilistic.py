"""Probabilistic losses: the cross-entropies (Keras's and torch's names), KL divergence, Poisson.

The class-index losses (``SparseCategoricalCrossentropy``, ``CrossEntropy``, ``NLL``) share one
base that checks the labels once before training, so a bad label fails before any weight changes,
and keeps the per-step path to metadata checks and one fused kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kerasish.losses.base import EPSILON, Loss, as_float_tensor


def _log_probabilities(y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
    """Log-probabilities over the last axis: a log-softmax of logits, or probabilities rescaled to
    sum to 1 and clipped to ``[1e-7, 1 - 1e-7]`` as in Keras."""
    if from_logits:
        return torch.log_softmax(y_pred, dim=-1)
    probs = y_pred / y_pred.sum(dim=-1, keepdim=True)
    return torch.log(probs.clamp(EPSILON, 1.0 - EPSILON))


def _class_axis_first(y_pred: torch.Tensor) -> torch.Tensor:
    """``y_pred`` with its last (class) axis moved to axis 1, where torch's kernels want it."""
    return y_pred.movedim(-1, 1) if y_pred.dim() > 2 else y_pred


class KLDivergence(Loss):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` over the last axis.

    Both are probability distributions over the last axis; they are clipped to ``[1e-7, 1]``
    first, as in Keras.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"kl_divergence"``.

    Example:
        loss = ks.losses.KLDivergence()
        loss(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.25, 0.75]]))   # tensor(0.1438)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = y_true.clamp(EPSILON, 1.0)
        y_pred = y_pred.clamp(EPSILON, 1.0)
        return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


class Poisson(Loss):
    """The Poisson loss ``mean(y_pred - y_true * log(y_pred + 1e-7))`` over the last axis.

    For count targets; ``y_pred`` is the predicted rate (positive).

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"poisson"``.

    Example:
        model.compile("adam", loss=ks.losses.Poisson())   # a module ending in softplus
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return (y_pred - y_true * torch.log(y_pred + EPSILON)).mean(dim=-1)


class BinaryCrossentropy(Loss):
    """Binary cross-entropy; ``from_logits=False`` (Keras's default) expects probabilities.

    Targets are 0/1 (or soft) and shaped like the outputs; the loss is averaged over the last
    axis. Probabilities are clipped to ``[1e-7, 1 - 1e-7]``, as in Keras.

    Args:
        from_logits: whether ``y_pred`` are logits (computed with torch's stable
            ``binary_cross_entropy_with_logits``) rather than probabilities.
        label_smoothing: moves the targets towards 0.5: ``y * (1 - s) + 0.5 * s``.
        reduction, name, dtype: as ``Loss``; the default name is ``"binary_crossentropy"``.

    Example:
        loss = ks.losses.BinaryCrossentropy(from_logits=True)
        loss(torch.tensor([[1.0], [0.0]]), torch.tensor([[2.0], [-1.0]]))   # tensor(0.2201)
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str | None = "binary_crossentropy",
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "binary_crossentropy", reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}

    def call(self, y_true, y_pred):
        y_true = y_true.to(y_pred.dtype)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        else:
            p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
            values = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
        return values.mean(dim=self.axis)


class CategoricalCrossentropy(Loss):
    """Cross-entropy against one-hot (or soft) targets over the last axis.

    Without ``from_logits`` the outputs are taken as probabilities: rescaled to sum to 1 and
    clipped to ``[1e-7, 1 - 1e-7]``, as in Keras.

    Args:
        from_logits: whether ``y_pred`` are logits (a log-softmax is applied) rather than
            probabilities.
        label_smoothing: mixes the targets with the uniform distribution over the ``C``
            classes: ``y * (1 - s) + s / C``.
        reduction, name, dtype: as ``Loss``; the default name is ``"categorical_crossentropy"``.

    Example:
        loss = ks.losses.CategoricalCrossentropy()
        loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.8]]))   # -log(0.8) = 0.2231
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str | None = "categorical_crossentropy",
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "categorical_crossentropy", reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}

    def call(self, y_true, y_pred):
        y_true = y_true.to(y_pred.dtype)
        y_true, y_pred = y_true.movedim(self.axis, -1), y_pred.movedim(self.axis, -1)
        if self.label_smoothing:
            classes = y_pred.shape[-1]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        return -(y_true * _log_probabilities(y_pred, self.from_logits)).sum(dim=-1)


class _ClassIndexLoss(Loss):
    """Losses whose targets are integer class indices over the last output axis."""

    class_targets = True
    elementwise = False
    class_axis = -1

    def __call__(self, y_true, y_pred, sample_weight=None):
        # The per-step path stays as cheap as torch's own loss: no conversion of a tensor already
        # on the device, no view (an autograd node) for the usual last class axis.
        y_pred = as_float_tensor(y_pred, self._dtype)
        if not isinstance(y_true, torch.Tensor) or y_true.device != y_pred.device:
            y_true = torch.as_tensor(y_true, device=y_pred.device)
        if self.class_axis != -1:
            y_pred = y_pred.movedim(self.class_axis, -1)
            if y_true.dim() == y_pred.dim():
                y_true = y_true.movedim(self.class_axis, -1)
        if y_true.dtype != torch.int64 or y_true.dim() != y_pred.dim() - 1:
            y_true = _class_indices(y_true, y_pred, self.name)
        if (sample_weight is None and self.reduction == "sum_over_batch_size"
                and not self.masked):
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
            are left out of the ``sum_over_batch_size`` divisor, as in Keras.
        axis: the class axis of ``y_pred``.
        reduction, name, dtype: as ``Loss``; the default name is ``"sparse_categorical_crossentropy"``.

    Example:
        loss = ks.losses.SparseCategoricalCrossentropy(from_logits=True)
        loss(torch.tensor([1, 0]), torch.tensor([[0.0, 2.0], [1.0, 1.0]]))   # tensor(0.4100)
    """

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", axis: int = -1,
                 name: str | None = "sparse_categorical_crossentropy",
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "sparse_categorical_crossentropy", reduction=reduction,
                         dtype=dtype)
        self.from_logits = from_logits
        self.ignore_index = ignore_class
        self.class_axis = axis

    @property
    def ignore_class(self) -> int | None:
        """The label whose rows are left out (Keras's name for it)."""
        return self.ignore_index

    @property
    def axis(self) -> int:
        """The class axis of ``y_pred`` (Keras's ``axis``)."""
        return self.class_axis

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "ignore_class": self.ignore_index}  # Keras's keys: no axis

    @property
    def masked(self) -> bool:
        """Whether samples of ``ignore_class`` are masked out (they leave the divisor too)."""
        return self.ignore_index is not None

    def call(self, y_true, y_pred):
        return self.call_masked(y_true, y_pred)[0]

    def call_masked(self, y_true, y_pred):
        log_p = _log_probabilities(y_pred, self.from_logits)
        keep = None
        if self.ignore_index is not None:
            keep = y_true != self.ignore_index
            y_true = torch.where(keep, y_true, torch.zeros_like(y_true))
        values = -log_p.gather(-1, y_true.unsqueeze(-1)).squeeze(-1)
        return (values, None) if keep is None else (values * keep, keep)


class CrossEntropy(_ClassIndexLoss):
    """torch's ``cross_entropy``: logits and integer class indices (``"cross_entropy"``).

    The class axis is the last one, as everywhere in kerasish (it is moved to where torch
    wants it). Labels are checked as for ``SparseCategoricalCrossentropy``; torch's
    ``ignore_index=-100`` is not supported, so a label -100 is refused before training.

    Args:
        label_smoothing: torch's ``label_smoothing``, in [0, 1].
        reduction, name, dtype: as ``Loss``; the default name is ``"cross_entropy"``.

    Example:
        model.compile("adam", loss=ks.losses.CrossEntropy(label_smoothing=0.1))
    """

    def __init__(self, label_smoothing: float = 0.0, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name or "cross_entropy", reduction=reduction)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        logits = _class_axis_first(y_pred)
        return F.cross_entropy(logits, y_true, reduction="none", label_smoothing=self.label_smoothing)

    def mean(self, y_true, y_pred):
        logits = _class_axis_first(y_pred)
        return F.cross_entropy(logits, y_true, label_smoothing=self.label_smoothing)


class NLL(_ClassIndexLoss):
    """torch's ``nll_loss``: log-probabilities and integer class indices (``"nll"``).

    For a module ending in ``log_softmax``; the class axis is the last one.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"nll"``.

    Example:
        ks.losses.NLL()(torch.tensor([1]), torch.log(torch.tensor([[0.2, 0.8]])))   # 0.2231
    """

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name or "nll", reduction=reduction)

    def call(self, y_true, y_pred):
        log_p = _class_axis_first(y_pred)
        return F.nll_loss(log_p, y_true, reduction="none")

    def mean(self, y_true, y_pred):
        log_p = _class_axis_first(y_pred)
        return F.nll_loss(log_p, y_true)


class BCEWithLogits(BinaryCrossentropy):
    """torch's ``binary_cross_entropy_with_logits`` (``"bce_with_logits"``).

    ``BinaryCrossentropy(from_logits=True)`` under torch's name.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"bce_with_logits"``.

    Example:
        model.compile("adam", loss="bce_with_logits")   # a module ending in Linear(..., 1)
    """

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        super().__init__(from_logits=True, name=name or "bce_with_logits", reduction=reduction)


class ShapeResolvedCrossentropy(Loss):
    """Keras's ``"crossentropy"`` / ``"ce"``: the variant is picked from the shapes, as in Keras 3.

    An output with one unit gets binary cross-entropy; targets of lower rank than the output, or
    with one column against several output units, get sparse categorical cross-entropy; anything
    else categorical cross-entropy (all on probabilities, Keras's default). ``compile`` resolves
    it once per output from the first batch (``resolve``); called directly, it resolves each call.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"crossentropy"``. The variant it
            resolves to keeps them.

    Example:
        model.compile("adam", loss="crossentropy", metrics=["accuracy"])
    """

    elementwise = False

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size"):
        super().__init__(name=name or "crossentropy", reduction=reduction)

    def resolve(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> Loss:
        """The concrete cross-entropy for targets and outputs of these shapes (Keras's rule).

        Args:
            y_true: the targets.
            y_pred: the outputs.

        Returns:
            A ``BinaryCrossentropy``, ``SparseCategoricalCrossentropy`` or
            ``CategoricalCrossentropy`` with this loss's name and reduction, the same object each
            time for the same variant.
        """
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
        y_pred = as_float_tensor(y_pred, self._dtype)
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        return self.resolve(y_true, y_pred)(y_true, y_pred, sample_weight)

    def check_targets(self, y_true, y_pred) -> None:
        self.resolve(y_true, y_pred).check_targets(y_true, y_pred)
