"""Keras's ``CategoricalGeneralizedCrossEntropy`` (Zhang & Sabuncu, 2018): ``(1 - p ** q) / q``,
a cross-entropy that is robust to noisy labels, between cross-entropy (``q -> 0``) and MAE
(``q -> 1``)."""

from __future__ import annotations

import torch

from kerasish.losses.base import Loss


def generalized_ce_values(y_true: torch.Tensor, y_pred: torch.Tensor, q: float) -> torch.Tensor:
    """Keras's ``categorical_generalized_cross_entropy``: ``(1 - p ** q) / q`` per sample, with
    ``p`` the probability ``y_pred`` gives the labelled class (``y_pred`` is used as given).

    A negative label selects no class (``p = 0``), as Keras's ``one_hot`` does; a label past the
    last class, which fails in Keras, is refused by ``check_targets`` once before training.
    """
    classes = torch.arange(y_pred.shape[-1], device=y_pred.device)
    one_hot = (y_true.long().unsqueeze(-1) == classes).to(y_pred.dtype)
    p = (y_pred * one_hot).sum(dim=-1)
    return (1 - torch.pow(p, q)) / q


class CategoricalGeneralizedCrossEntropy(Loss):
    """Generalized cross-entropy between integer class labels and predicted probabilities.

    Targets are class indices shaped like ``y_pred`` without its last (class) axis, e.g. ``(N,)``
    for ``(N, C)`` outputs or ``(N, H, W)`` for ``(N, H, W, C)``; ``y_pred`` holds probabilities
    (a softmax output), used unclipped as in Keras.

    Args:
        q: the noise parameter, in ``(0, 1)``.
        reduction, name, dtype: as ``Loss``; the default name is
            ``"categorical_generalized_cross_entropy"``.

    Raises:
        ValueError: ``q`` outside ``(0, 1)``; before training, a label ``>= classes``.

    Example:
        model.compile("adam", loss=ks.losses.CategoricalGeneralizedCrossEntropy(q=0.7))
    """

    elementwise = False

    def __init__(self, q: float = 0.5, reduction: str | None = "sum_over_batch_size",
                 name: str | None = "categorical_generalized_cross_entropy",
                 dtype: str | torch.dtype | None = None):
        if not 0 < q < 1:
            raise ValueError(f"q must be in the interval (0, 1); got q={q!r}. Pass e.g. q=0.5.")
        super().__init__(name=name or "categorical_generalized_cross_entropy",
                         reduction=reduction, dtype=dtype)
        self.q = q

    def get_config(self):
        return {**super().get_config(), "q": self.q}

    def call(self, y_true, y_pred):
        return generalized_ce_values(y_true, y_pred, self.q)

    def check_targets(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        y_true = torch.as_tensor(y_true)
        if y_true.numel() == 0 or y_pred.dim() == 0:
            return
        classes = y_pred.shape[-1]
        high = int(y_true.max())  # one host read, before training
        if high >= classes:
            raise ValueError(
                f"loss {self.name!r} takes class indices, but the targets contain {high} and the "
                f"model outputs {classes} classes. Labels must lie in [0, {classes}); widen the "
                "output layer or remap the labels.")
