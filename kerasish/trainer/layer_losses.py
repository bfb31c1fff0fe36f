"""A Keras model's own losses (``add_loss``, regularizers), added to the loss as Keras 3 adds them."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import torch


class LayerLosses:
    """A Keras model's own losses, ``model.losses``, added to the compiled loss as Keras 3 adds them.

    ``model.losses`` holds what its layers' ``call`` gave ``add_loss`` in the model's last call
    (``activity_regularizer=`` among them) and the weight penalties (``kernel_regularizer=``...),
    computed when read. Keras's ``compute_loss`` sums each to a scalar (cast to ``floatx`` when it
    is not a float) and then sums them with the compiled loss; its ``train_step`` and
    ``test_step`` track that total, so ``loss`` and ``val_loss`` include them. Built only for a
    Keras model: a torch module's step never looks.
    """

    def __init__(self, model: torch.nn.Module):
        self.model: Any = model  # a keras.Model: its ``losses`` is a list of tensors
        keras = sys.modules["keras"]  # a Keras model was given, so Keras is imported
        self.floatx = getattr(torch, keras.config.floatx())

    def add_to(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` plus the model's losses from its last call, summed in Keras's order."""
        extra = self.model.losses
        if not extra:
            return loss
        scalars = [(t if t.is_floating_point() else t.to(self.floatx)).sum() for t in extra]
        return torch.stack([loss, *scalars]).sum()


def no_compiled_loss(y_true: Any, y_pred: Any, sample_weight: Any) -> torch.Tensor:
    """``compile(loss=None)`` on a Keras model: the loss is its own losses alone (``LayerLosses``)."""
    return torch.zeros((), device=_first_tensor(y_pred).device)


def _first_tensor(struct: Any) -> torch.Tensor:
    while not isinstance(struct, torch.Tensor):
        struct = next(iter(struct.values())) if isinstance(struct, Mapping) else struct[0]
    return struct
