"""The ``Loss`` base class and the steps every built-in loss shares: turning inputs into tensors
(``to_tensors``), lining the targets up with the outputs (``align_targets``), lining the weights
up with the values (``squeeze_or_expand_to_same_rank``) and Keras's weighted reduction
(``reduce_weighted_values``).

A Keras loss computes one value per sample, weights it by ``sample_weight`` and divides the sum by
the number of values ("sum_over_batch_size"); the subclasses in this package only say how a
sample's value is computed. Everything here runs in torch on the input's device (no host read).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kerasish._naming import snake_case

EPSILON = 1e-7  # Keras's backend.epsilon(), used to clip probabilities

# Outputs in these dtypes are computed in float32 (``Loss.__call__``) unless ``dtype`` says so.
HALF_DTYPES = (torch.float16, torch.bfloat16)

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


def standardize_reduction(reduction: str | None) -> str | None:
    """Return ``reduction`` if Keras knows it, else raise a ``ValueError`` naming the argument."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`: reduction={reduction!r}. Use one of "
            "'sum_over_batch_size' (the default), 'mean', 'mean_with_sample_weight', 'sum', "
            "'none' or None."
        )
    return reduction


def torch_dtype(dtype: Any) -> torch.dtype | None:
    """A torch dtype from a Keras dtype name (``"bfloat16"``), a torch or NumPy dtype, or None."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = getattr(dtype, "name", None) or str(dtype)
    found = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(found, torch.dtype) or not found.is_floating_point:
        raise ValueError(
            f"Invalid value for argument `dtype`: dtype={dtype!r}. Use a floating dtype name such "
            "as 'float32' or 'bfloat16' (or a torch floating dtype)."
        )
    return found


def as_tensor(x: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` as a tensor: tensors pass; NumPy arrays, lists and numbers are converted (floats to
    float32, Keras's floatx), on ``like``'s device when given."""
    if isinstance(x, torch.Tensor):
        return x
    device = like.device if like is not None else None
    array = np.asarray(x)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return torch.as_tensor(array, device=device)


def to_tensors(y_true: Any, y_pred: Any, dtype: torch.dtype | None,
               cast_true: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The targets and outputs as tensors in the dtype the loss computes in.

    With ``dtype`` both are cast to it (Keras's ``dtype`` argument). Without it, floating outputs
    keep their dtype (float16 / bfloat16 are computed in float32) and integer ones become
    float32; the targets take the outputs' dtype unless ``cast_true`` is off (class indices).
    """
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, like=y_pred)
    if dtype is not None:
        compute = dtype
    elif y_pred.dtype in HALF_DTYPES or not y_pred.is_floating_point():
        compute = torch.float32
    else:
        compute = y_pred.dtype
    if y_pred.dtype != compute:
        y_pred = y_pred.to(compute)
    if cast_true and y_true.dtype != compute:
        y_true = y_true.to(compute)
    return y_true, y_pred


def squeeze_or_expand_to_same_rank(
    x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's rule: when the ranks differ by one and the longer has a trailing 1-axis, squeeze it
    (or, when the other is rank 1, expand that one instead)."""
    rank1, rank2 = x1.dim(), x2.dim()
    if rank1 == rank2 + 1 and x1.shape[-1] == 1:
        if rank2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    elif rank2 == rank1 + 1 and x2.shape[-1] == 1:
        if rank1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


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


def _divide_no_nan(total: torch.Tensor, divisor: torch.Tensor) -> torch.Tensor:
    safe = torch.where(divisor == 0, torch.ones_like(divisor), divisor)
    return torch.where(divisor == 0, torch.zeros_like(total), total / safe)


def _align_weight(values: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's squeeze-or-expand, then per-sample weights of lower rank get trailing axes so that
    ``(N,)`` weights scale each sample's values rather than broadcasting along the last axis."""
    values, weight = squeeze_or_expand_to_same_rank(values, weight)
    if 0 < weight.dim() < values.dim():
        weight = weight.reshape(weight.shape + (1,) * (values.dim() - weight.dim()))
    return values, weight


def apply_mask(sample_weight: torch.Tensor | None, mask: torch.Tensor | None,
               reduction: str | None) -> torch.Tensor | None:
    """Fold a mask of valid values into the weights, as Keras does: under the mean reductions a
    valid entry weighs ``total / valid``, so the mean is over the valid entries only."""
    if mask is None:
        return sample_weight
    dtype = sample_weight.dtype if sample_weight is not None else torch.float32
    if reduction in ("mean", "sum_over_batch_size"):
        total = torch.tensor(float(mask.numel()), dtype=dtype, device=mask.device)
        valid = mask.to(dtype).sum()
        float_mask = torch.where(mask.bool(), _divide_no_nan(total, valid), torch.zeros_like(total))
    else:
        float_mask = mask.to(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def reduce_weighted_values(values: torch.Tensor, sample_weight: Any = None,
                           mask: torch.Tensor | None = None,
                           reduction: str | None = "sum_over_batch_size") -> torch.Tensor:
    """Keras's weighting and reduction of per-sample loss values.

    The weights are squeezed or expanded to the values' rank (``(N, 1)`` weights against ``(N,)``
    values scale each sample; they are never broadcast to ``(N, N)``), multiplied in, and the
    result reduced: "sum"; "sum_over_batch_size" / "mean" (sum over the number of values);
    "mean_with_sample_weight" (sum over the sum of the weights); "none" / None (the values).

    Args:
        values: the loss values, one per sample (or per step).
        sample_weight: ``None``, a number, or weights for the leading axes of ``values``.
        mask: ``None``, or which values count (e.g. ``ignore_class``).
        reduction: one of ``REDUCTIONS``.

    Returns:
        A 0-d tensor, or the weighted values for "none" / None.

    Example:
        ks.losses.reduce_weighted_values(torch.tensor([1.0, 3.0]), torch.tensor([[1.0], [0.0]]))
        # tensor(0.5)
    """
    reduction = standardize_reduction(reduction)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, like=values).to(values.dtype)
    sample_weight = apply_mask(sample_weight, mask, reduction)
    if sample_weight is not None:
        values, sample_weight = _align_weight(values, sample_weight.to(values.dtype))
        values = values * sample_weight
    if reduction in (None, "none") or values.dim() == 0 or tuple(values.shape) == (0,):
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = sample_weight.sum().to(loss.dtype)
    else:
        divisor = torch.tensor(float(values.numel()), dtype=loss.dtype, device=loss.device)
    return _divide_no_nan(loss, divisor)


def weighted_reduce(values: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    """Keras's "sum_over_batch_size": sum of (weighted) values divided by their number.

    The divisor is the number of values, not the sum of the weights, so a zero weight lowers the
    mean as in Keras. Weights are lined up with the values as ``reduce_weighted_values`` does.

    Example:
        ks.losses.weighted_reduce(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0]))   # tensor(0.5)
    """
    if sample_weight is None:
        return values.mean()
    return reduce_weighted_values(values, sample_weight)


class Loss:
    """Base class of kerasish losses: subclasses implement ``call(y_true, y_pred)`` per sample.

    A loss object is called Keras's way, ``loss(y_true, y_pred, sample_weight=None)``, and returns
    the reduced loss. Tensors, NumPy arrays and lists are accepted (integer inputs are computed
    in float). The base class lines the targets up with the outputs (``align_targets``), computes
    float16 / bfloat16 outputs in float32 (unless ``dtype`` says otherwise), weights and reduces
    ``call``'s values. A subclass may also implement ``mean`` (the unweighted loss, with a fused
    kernel), ``call_with_mask`` (values and which of them count) and ``check_targets`` (checks run
    once before training, never per step).

    ``class_targets`` marks losses whose targets are class indices; their labels are range-checked
    once before training so a bad label fails before any weight changes. ``elementwise = False``
    turns ``align_targets`` off, for losses whose targets are not shaped like the outputs.

    Args:
        name: the log key; by default the class name in snake_case.
        reduction: ``"sum_over_batch_size"`` (Keras's default; ``"mean"`` is the same): the sum
            of the weighted per-sample values divided by their number. ``"mean_with_sample_weight"``:
            divided by the sum of the weights. ``"sum"``: their sum. ``"none"`` or ``None``: the
            per-sample values, times ``sample_weight`` when given.
        dtype: the dtype the loss computes in (``"float32"``, ``"bfloat16"``, a torch dtype);
            ``None`` keeps the outputs' floating dtype (half precision in float32).

    Raises:
        ValueError: any other ``reduction`` or a non-floating ``dtype``.

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

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None):
        self.reduction = standardize_reduction(reduction)
        self.name = name or snake_case(type(self).__name__)
        self.compute_dtype = torch_dtype(dtype)

    @property
    def dtype(self) -> str:
        """The dtype's name, as Keras reports it (``"float32"`` when none was given)."""
        return str(self.compute_dtype or torch.float32).removeprefix("torch.")

    def get_config(self) -> dict[str, Any]:
        """``name`` and ``reduction``, as Keras's ``Loss.get_config``; subclasses add their own
        arguments where Keras does (the cross-entropies), and only there."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """A loss built from ``get_config``'s dictionary."""
        return cls(**config)

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

    def call_with_mask(self, y_true: torch.Tensor,
                       y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``call``'s values and a mask of those that count (``None``: all); Keras's loss mask."""
        return self.call(y_true, y_pred), None

    def prepare(self, y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs as tensors in the compute dtype, the targets lined up with the outputs."""
        y_true, y_pred = to_tensors(y_true, y_pred, self.compute_dtype)
        if self.elementwise:
            y_true = align_targets(y_true, y_pred, self.name)
        return y_true, y_pred

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        """The loss of a batch, Keras's way round.

        Args:
            y_true: the targets (a tensor, NumPy array or list).
            y_pred: the outputs.
            sample_weight: ``None``, a number, or weights per sample (``(N,)`` or ``(N, 1)``) or
                per step (``(N, T)`` against per-step values).

        Returns:
            A 0-d tensor, or the per-sample values with ``reduction="none"``.
        """
        y_true, y_pred = self.prepare(y_true, y_pred)
        if sample_weight is None and self.reduction in _MEAN_REDUCTIONS:
            mean = self.masked_mean(y_true, y_pred)
            if mean is not None:
                return mean
        values, mask = self.call_with_mask(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def masked_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        """The unweighted mean through ``mean``'s fused kernel, or ``None`` where a mask applies."""
        return self.mean(y_true, y_pred)

    def mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """The unweighted loss; subclasses use torch's fused kernels where one computes it.

        Unweighted batches are the common case, and a fused ``reduction="mean"`` kernel saves a
        separate mean and its backward on every step.
        An override must equal ``call(y_true, y_pred).mean()``, which is the default.

        Args:
            y_true: the targets, as for ``call``.
            y_pred: the outputs, as for ``call``.

        Returns:
            A 0-d tensor.
        """
        return reduce_weighted_values(self.call(y_true, y_pred), None, None, "sum_over_batch_size")

    def check_targets(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        """Host-side checks run once before training (never inside the step loop).

        The default checks nothing; the class-index losses check the labels' dtype, shape and
        range here. An override raises a ``ValueError`` or ``TypeError`` that names the loss.

        Args:
            y_true: the whole target array when ``fit`` knows it, else the first batch's targets.
            y_pred: the first batch's outputs.
        """


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` returning per-sample values, as
    Keras's ``LossFunctionWrapper``; the built-in classes are these around ``ks.losses``'s
    functions.

    Args:
        fn: the per-sample loss function, Keras's order.
        reduction, name, dtype: as ``Loss``.
        **kwargs: passed to ``fn`` on each call.

    Example:
        loss = ks.losses.LossFunctionWrapper(ks.losses.huber, delta=2.0, name="huber2")
    """

    def __init__(self, fn: Callable[..., torch.Tensor], reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)
