"""Keras's ``use_ema``: a moving average of the weights kept in the optimizer's state.

``MovingAverage`` runs from the step hooks of a ``ks.optimizers`` optimizer built with
``use_ema=True``. After each step each weight's average becomes ``momentum * average +
(1 - momentum) * weight`` (the weight itself at the first step, as Keras's momentum is 0 there);
every ``overwrite_frequency`` steps the weights are set to their averages. The averages live in
``optimizer.state[p]["average"]``, so they travel with ``optimizer.state_dict()`` and an exact
resume continues them. The step count is the param groups' Python ``"iterations"``: no host read.
``finalize_variable_values`` puts the averages into the weights (``fit`` calls it before
``on_train_end``, as Keras's does).
"""

from __future__ import annotations

from typing import Any

import torch

# The per-parameter state key of a weight's moving average (Keras's optimizer variable "average").
AVERAGE = "average"


def _iterations(optimizer: torch.optim.Optimizer) -> int:
    groups = optimizer.param_groups
    return int(groups[0].get("iterations", 0)) if groups else 0


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class MovingAverage:
    """Keras's moving average of the weights, updated by the step hooks.

    Args:
        momentum: ``ema_momentum``, in [0, 1].
        overwrite_frequency: ``ema_overwrite_frequency``: overwrite the weights with their
            averages every this many steps (``None``: never).
    """

    def __init__(self, momentum: float, overwrite_frequency: int | None):
        self.momentum = momentum
        self.overwrite_frequency = overwrite_frequency
        # Weights that get their first gradient after step 0: their value before that step
        # (Keras's average of a weight the optimizer has not changed yet is the weight itself).
        self._late: dict[int, torch.Tensor] = {}

    def before_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Remember the value of a weight about to take its first step after step 0."""
        if _iterations(optimizer) == 0:
            return
        for p in _params(optimizer):
            if p.grad is not None and AVERAGE not in optimizer.state.get(p, ()):
                self._late[id(p)] = p.detach().clone()

    @torch.no_grad()
    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Average the weights just updated (before the step is counted), overwrite when due."""
        iterations = _iterations(optimizer)
        weight = 1.0 - self.momentum if iterations else 1.0
        averages, weights = [], []
        for p in _params(optimizer):
            state = optimizer.state.get(p)
            if state is not None and AVERAGE in state:
                averages.append(state[AVERAGE])
                weights.append(p)
            elif p.grad is not None or state:  # torch's lazy state (Adam's) must start empty
                start = self._late.pop(id(p), None)
                optimizer.state[p][AVERAGE] = p.detach().clone() if start is None else start.lerp_(p, weight)
        if averages:
            torch._foreach_lerp_(averages, weights, weight)
        frequency = self.overwrite_frequency
        if frequency and (iterations + 1) % frequency == 0:
            finalize_variable_values(optimizer)


def finalize_variable_values(optimizer: Any) -> None:
    """Overwrite each weight with its moving average, when the optimizer keeps one (Keras's
    ``finalize_variable_values``); any other optimizer is left alone.

    Args:
        optimizer: a torch optimizer (what ``compile`` built, or any other); a
            ``TorchMultiOptimizer`` has each of its parts finalised.
    """
    parts = getattr(optimizer, "parts", None)
    if isinstance(parts, list):  # a MultiOptimizer's: each part keeps its own averages
        for part in parts:
            finalize_variable_values(part)
        return
    if getattr(optimizer, "moving_average", None) is None:
        return
    with torch.no_grad():
        for p in _params(optimizer):
            average = optimizer.state.get(p, {}).get(AVERAGE)
            if average is not None:
                p.copy_(average)


def moving_averages(optimizer: torch.optim.Optimizer | None,
                    variables: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """Each variable's moving average (``None`` before its first step, or without ``use_ema``).

    Args:
        optimizer: the torch optimizer holding the averages (``None``: not built).
        variables: the weights, in the order wanted.
    """
    if optimizer is None:
        return [None for _ in variables]
    return [optimizer.state.get(p, {}).get(AVERAGE) for p in variables]
