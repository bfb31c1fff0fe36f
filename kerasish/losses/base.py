"""The ``Loss`` base class and the two steps every built-in loss shares: lining the targets up
with the outputs (``align_targets``) and Keras's weighted reduction (``weighted_reduce``).

A Keras loss computes one value per sample, weights it by ``sample_weight`` and divides the sum by
the number of values ("sum_over_batch_size"); the subclasses in this package only say how a
sample's value is computed.
"""

from __future__ import annotations

import torch

from kerasish._naming import snake_case

EPSILON = 1e-7  # Keras's backend.epsilon(), used to clip probabilities

# Outputs in these dtypes are computed in float32 (``Loss.__call__``).
HALF_DTYPES = (torch.float16, torch.bfloat16)


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
        if y_pred.dtype in HALF_DTYPES:
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
