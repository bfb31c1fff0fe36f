"""Keras's ``CTC`` loss (Connectionist Temporal Classification) on torch's ``ctc_loss``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kerasish.losses.base import Loss


def ctc_values(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Keras's ``ctc``: one loss per sequence, computed in float32 (at least) as Keras does.

    ``y_true`` is ``(batch, max_length)`` integer labels with 0 the blank/padding; each row's
    label length is its count of non-zero labels (Keras's rule: the first that many entries are
    used). ``y_pred`` is ``(batch, time, classes)`` logits; every sequence uses all time steps.
    """
    if y_true.dim() != 2:
        raise ValueError(
            "Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in "
            f"integer format. Received: y_true.shape={tuple(y_true.shape)}")
    if y_pred.dim() != 3:
        raise ValueError(
            "Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
            f"num_classes)`. Received: y_pred.shape={tuple(y_pred.shape)}")
    labels = y_true.long()
    batch, steps = y_pred.shape[0], y_pred.shape[1]
    input_lengths = torch.full((batch,), steps, dtype=torch.long, device=y_pred.device)
    label_lengths = (labels != 0).sum(dim=-1)
    compute = torch.promote_types(y_pred.dtype, torch.float32)
    log_probs = torch.log_softmax(y_pred.to(compute).transpose(0, 1), dim=-1)
    values = F.ctc_loss(log_probs, labels, input_lengths, label_lengths, blank=0, reduction="none")
    return values.to(y_pred.dtype)


class CTC(Loss):
    """Keras's CTC loss: integer label sequences against per-step logits.

    Targets are ``(batch, max_length)`` integer labels padded with 0, which is also the blank
    class (so 0 is never a real label); outputs are ``(batch, time, classes)`` logits, not
    softmaxed. One value per sequence, then ``sample_weight`` and the reduction.

    Args:
        reduction, name, dtype: as ``Loss``; the default name is ``"ctc"``. A half-precision
            ``dtype`` computes in float32 and returns in ``dtype``, as in Keras.

    Raises:
        ValueError: targets not of rank 2 or outputs not of rank 3.

    Example:
        model.compile("adam", loss=ks.losses.CTC())   # a module returning (N, T, C) logits
    """

    elementwise = False

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = "ctc",
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "ctc", reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return ctc_values(y_true, y_pred)
