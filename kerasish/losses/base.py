"""The ``Loss`` base class and the two steps every built-in loss shares: lining the targets up
with the outputs (``align_targets``) and Keras's weighted reduction (``weighted_reduce``).

A Keras loss computes one value per sample, weights it by ``sample_weight`` and divides the sum by
the number of values ("sum_over_batch_size"); the subclasses in this package only say how a
sample's value is computed.
"""

from __future__ import annotations

from typing import Any

import torch

from kerasish._naming import snake_case

EPSILON = 1e-7  # Keras's backend.epsilon(), used to clip probabilities

# Outputs in these dtypes are computed in float32 (``Loss.__call__``) unless ``dtype`` says so.
HALF_DTYPES = (torch.float16, torch.bfloat16)

REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight", "sum", "none", None)


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """A loss's ``dtype`` argument as a torch floating dtype (``None`` stays ``None``)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        resolved = dtype
    else:
        resolved = getattr(torch, str(dtype), None)
    if dtype is not None and not (isinstance(resolved, torch.dtype) and resolved.is_floating_point):
        raise ValueError(
            f"Invalid value for argument `dtype`: dtype={dtype!r}. Use a floating dtype such as "
            "'float32', 'bfloat16' or 'float64', or None."
        )
    return resolved


def as_float_tensor(y_pred: Any, dtype: torch.dtype | None) -> torch.Tensor:
    """The outputs as a floating tensor: in ``dtype`` when given (Keras converts to the loss's
    dtype), else half precision and integers in float32 and other floats unchanged. NumPy arrays,
    lists and numbers are accepted as Keras accepts them."""
    if not isinstance(y_pred, torch.Tensor):
        y_pred = torch.as_tensor(y_pred, dtype=dtype or torch.float32)  # Keras's floatx
    if dtype is not None:
        return y_pred.to(dtype)
    if y_pred.dtype in HALF_DTYPES or not y_pred.is_floating_point():
        return y_pred.float()
    return y_pred


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
        f"loss {name!r} compares outputs and targets element by element, so they must have the "
        f"same shape; the model output has shape {tuple(y_pred.shape)} and the targets have "
        f"shape {tuple(y_true.shape)}. "
        "Reshape the targets (or the model's last layer) so the shapes match; kerasish does not "
        "broadcast them."
    )


def same_rank(values: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank``: where the ranks differ by one and the longer
    tensor ends in a 1-axis, that axis is dropped (or, against a rank-1 tensor, the rank-1 one gets
    it), so ``(N, 1)`` weights meet ``(N,)`` values as ``(N,)``, never broadcast to ``(N, N)``.

    Args:
        values: the loss values.
        weight: the sample weights (or a mask).

    Returns:
        ``values`` and ``weight``, one of them squeezed or expanded where the rule applies.
    """
    if values.dim() == weight.dim() + 1 and values.shape[-1] == 1:
        if weight.dim() == 1:
            weight = weight.unsqueeze(-1)
        else:
            values = values.squeeze(-1)
    elif weight.dim() == values.dim() + 1 and weight.shape[-1] == 1:
        if values.dim() == 1:
            values = values.unsqueeze(-1)
        else:
            weight = weight.squeeze(-1)
    return values, weight


def _divide_no_nan(total: torch.Tensor, divisor: torch.Tensor) -> torch.Tensor:
    # Keras's divide_no_nan: 0 where the divisor is 0, on the device, no host read.
    safe = torch.where(divisor == 0, torch.ones_like(divisor), divisor)
    return torch.where(divisor == 0, torch.zeros_like(total), total / safe)


def reduce_values(
    values: torch.Tensor,
    sample_weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str | None = "sum_over_batch_size",
) -> torch.Tensor:
    """Keras's ``reduce_weighted_values``: weights (and a mask) applied, then the reduction.

    Weights are brought to the values' rank by ``same_rank`` and then broadcast, as in Keras. A
    mask (from ``ignore_class``) zeroes the masked values; under "sum_over_batch_size" / "mean" the
    kept ones are scaled by ``total / kept`` so the divisor is the number of kept values.

    Args:
        values: the loss values, one per sample (or per element).
        sample_weight: ``None`` or weights, on the values' device.
        mask: ``None`` or a boolean tensor shaped like ``values`` (or one rank off).
        reduction: as ``Loss``.

    Returns:
        A 0-d tensor, or the weighted values with ``reduction`` ``None`` / ``"none"``.
    """
    if mask is not None:
        float_mask = mask.to(values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            total = torch.tensor(float(mask.numel()), dtype=values.dtype, device=values.device)
            float_mask = float_mask * _divide_no_nan(total, float_mask.sum())
        if sample_weight is None:
            sample_weight = float_mask
        else:
            float_mask, sample_weight = same_rank(float_mask, sample_weight.to(values.dtype))
            sample_weight = sample_weight * float_mask
    if sample_weight is not None:
        values, sample_weight = same_rank(values, sample_weight.to(values.dtype))
        while 0 < sample_weight.dim() < values.dim():  # per-sample weights on per-step values
            sample_weight = sample_weight.unsqueeze(-1)
        values = values * sample_weight
    if reduction in (None, "none") or values.dim() == 0 or tuple(values.shape) == (0,):
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(loss, sample_weight.sum().to(loss.dtype))
    count = torch.tensor(float(values.numel()), dtype=loss.dtype, device=loss.device)
    return _divide_no_nan(loss, count)


def weighted_reduce(values: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    """Keras's "sum_over_batch_size": sum of (weighted) values divided by their number.

    The divisor is the number of values, not the sum of the weights, so a zero weight lowers the
    mean as in Keras. Weights meet the values as in Keras (``same_rank``, then broadcasting).

    Args:
        values: the loss values, one per sample (or per element).
        sample_weight: ``None``, or weights for the leading axes of ``values``.

    Returns:
        A 0-d tensor.

    Example:
        ks.losses.weighted_reduce(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0]))   # tensor(0.5)
    """
    if sample_weight is None:
        return values.mean()
    return reduce_values(values, sample_weight)


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

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: str | torch.dtype | None = None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Invalid value for argument `reduction`: reduction={reduction!r}. Use one of "
                "'sum_over_batch_size', 'mean', 'mean_with_sample_weight', 'sum', 'none' or None."
            )
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction
        self._dtype = resolve_dtype(dtype)

    @property
    def dtype(self) -> str:
        """The dtype the loss computes in, by name (Keras's ``loss.dtype``; "float32" unless set)."""
        return str(self._dtype or torch.float32).replace("torch.", "")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as Keras's ``get_config`` (``from_config`` rebuilds it)."""
        return {"name": self.name, "reduction": self.reduction}  # Keras's keys (no dtype)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """A loss built from ``get_config``'s dictionary.

        Args:
            config: what ``get_config()`` returned.
        """
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
        y_pred = as_float_tensor(y_pred, self._dtype)
        if not isinstance(y_true, torch.Tensor) or y_true.device != y_pred.device:
            y_true = torch.as_tensor(y_true, device=y_pred.device)
        if self.elementwise:
            y_true = align_targets(y_true.to(y_pred.dtype), y_pred, self.name)
        if sample_weight is None and self.reduction in ("sum_over_batch_size", "mean") \
                and not self.masked:
            return self.mean(y_true, y_pred)
        values, mask = self.call_masked(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = torch.as_tensor(sample_weight, device=values.device)
        return reduce_values(values, sample_weight, mask, self.reduction)

    @property
    def masked(self) -> bool:
        """Whether ``call_masked`` may return a mask (``ignore_class``); then no fused mean."""
        return False

    def call_masked(
        self, y_true: torch.Tensor, y_pred: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``call``'s values and a boolean mask of the values that count (``None``: all do).

        Args:
            y_true: the targets (tensors, NumPy arrays or lists).
            y_pred: the outputs, the same shape as ``y_true`` (class scores for the sparse form).
        """
        return self.call(y_true, y_pred), None

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
        return self.call(y_true, y_pred).mean()

    def check_targets(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        """Host-side checks run once before training (never inside the step loop).

        The default checks nothing; the class-index losses check the labels' dtype, shape and
        range here. An override raises a ``ValueError`` or ``TypeError`` that names the loss.

        Args:
            y_true: the whole target array when ``fit`` knows it, else the first batch's targets.
            y_pred: the first batch's outputs.
        """
