"""Keras's Lion (sign of an interpolated momentum), written in torch as ``KerasLion``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from typing_extensions import Unpack

from kerasish.checks import check_number
from kerasish.optimizers.base import KerasArguments, Optimizer
from kerasish.optimizers.rules import KerasRule, states
from kerasish.optimizers.schedules import LearningRateSchedule


class Lion(Optimizer):
    """Keras's Lion: ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.99``; see ``KerasLion``.

    Args:
        learning_rate: a float or a schedule.
        beta_1: the interpolation between momentum and gradient whose sign is the update; in
            ``(0, 1]`` (at 0 Lion is SignSGD, refused as in Keras).
        beta_2: the momentum's decay.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Lion(learning_rate=1e-4, weight_decay=0.01), "cross_entropy")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.99, **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(beta_1, "beta_1")
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
                             f"degenerates to SignSGD. Received: beta_1={beta_1}.")
        check_number(beta_2, "beta_2", low=0.0, high=1.0)
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _torch_optimizer(self, parameters, lr):
        return KerasLion(parameters, lr=lr, betas=(self.beta_1, self.beta_2)), True


class KerasLion(KerasRule):
    """Lion with Keras's rule: ``w -= lr * sign(beta_1 * m + (1 - beta_1) * g)``, then
    ``m = beta_2 * m + (1 - beta_2) * g``. Built by ``ks.optimizers.Lion``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        betas: ``(beta_1, beta_2)``.

    Example:
        optimizer = KerasLion(module.parameters(), lr=1e-4)
    """

    keras_name = "Lion"

    def __init__(self, params: Iterable[Any], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.99)):
        super().__init__(params, {"lr": lr, "betas": betas})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        beta_1, beta_2 = group["betas"]
        momentum = states(self, params, "momentum")
        direction = torch._foreach_lerp(momentum, grads, 1 - beta_1)
        torch._foreach_sign_(direction)
        torch._foreach_add_(params, direction, alpha=-group["lr"])
        torch._foreach_lerp_(momentum, grads, 1 - beta_2)
