"""Keras's ``Circle`` loss (Sun et al., 2020): a metric-learning loss on L2-normalised embeddings
and integer labels, pulling same-label pairs together and pushing the others apart."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kerasish.losses.base import Loss


def _label_column(labels: torch.Tensor, what: str) -> torch.Tensor:
    if labels.dim() == 1 or (labels.dim() == 2 and labels.shape[-1] == 1):
        return labels.long().reshape(-1, 1)  # Keras casts the labels to integers
    raise ValueError(
        f"circle: `{what}` must hold one integer label per embedding, shape (N,) or (N, 1); got "
        f"shape {tuple(labels.shape)}. Pass the class labels, not one-hot vectors.")


def circle_values(y_true: torch.Tensor, y_pred: torch.Tensor,
                  ref_labels: torch.Tensor | None = None,
                  ref_embeddings: torch.Tensor | None = None, remove_diagonal: bool = True,
                  gamma: float = 80.0, margin: float = 0.4) -> torch.Tensor:
    """Keras's ``circle``: one value per query embedding (0 where it has no positive pair).

    Args:
        y_true: the queries' integer labels, ``(N,)`` or ``(N, 1)``.
        y_pred: the queries' L2-normalised embeddings, ``(N, D)``.
        ref_labels: the references' labels (``None``: ``y_true``).
        ref_embeddings: the references' embeddings, ``(M, D)`` (``None``: ``y_pred``).
        remove_diagonal: whether a query is not its own positive (pair ``i, i``).
        gamma: the scale of the similarity scores.
        margin: the relaxation margin.
    """
    query = _label_column(y_true, "y_true")
    refs = y_pred if ref_embeddings is None else torch.as_tensor(
        ref_embeddings, dtype=y_pred.dtype, device=y_pred.device)
    keys = query if ref_labels is None else _label_column(
        torch.as_tensor(ref_labels, device=y_pred.device), "ref_labels")
    distances = (1 - y_pred @ refs.transpose(0, 1)).clamp_min(0.0)
    positive = query == keys.transpose(0, 1)
    negative = ~positive
    if remove_diagonal:
        eye = torch.eye(query.shape[0], keys.shape[0], dtype=torch.bool, device=y_pred.device)
        positive = positive & ~eye
    pos_weights = ((margin + distances) * positive.to(distances.dtype)).clamp_min(0.0)
    neg_weights = ((1 + margin - distances) * negative.to(distances.dtype)).clamp_min(0.0)
    pos_scores = -1 * gamma * pos_weights * (margin - distances)
    neg_scores = gamma * neg_weights * ((1 - margin) - distances)
    minus_inf = torch.tensor(float("-inf"), dtype=distances.dtype, device=distances.device)
    p_loss = torch.logsumexp(torch.where(positive, pos_scores, minus_inf), dim=1)
    n_loss = torch.logsumexp(torch.where(negative, neg_scores, minus_inf), dim=1)
    return F.softplus(p_loss + n_loss)


class Circle(Loss):
    """Circle loss between integer labels and L2-normalised embeddings (Keras's class).

    The batch is its own reference set: each embedding's similarities to the others are scored,
    same-label pairs as positives. A sample without a positive pair gets 0 and, as in Keras,
    leaves the ``"sum_over_batch_size"`` divisor (the values above 0 are the ones that count).
    The model should end in a linear layer followed by an L2 normalisation.

    Args:
        gamma: the scale of the similarity scores.
        margin: the relaxation margin.
        remove_diagonal: whether an embedding is not its own positive.
        reduction, name, dtype: as ``Loss``; the default name is ``"circle"``.

    Raises:
        ValueError: labels not of shape ``(N,)`` or ``(N, 1)``.

    Example:
        model.compile("adam", loss=ks.losses.Circle(gamma=80.0, margin=0.4))
    """

    elementwise = False

    def __init__(self, gamma: float = 80.0, margin: float = 0.4, remove_diagonal: bool = True,
                 reduction: str | None = "sum_over_batch_size", name: str | None = "circle",
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name or "circle", reduction=reduction, dtype=dtype)
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "margin": self.margin,
                "remove_diagonal": self.remove_diagonal}

    @property
    def masked(self) -> bool:
        """Always: samples whose loss is 0 (no positive pair) leave the divisor, as in Keras."""
        return True

    def call(self, y_true, y_pred):
        return self.call_masked(y_true, y_pred)[0]

    def call_masked(self, y_true, y_pred):
        values = circle_values(y_true, y_pred, remove_diagonal=self.remove_diagonal,
                               gamma=self.gamma, margin=self.margin)
        return values, values > 0
