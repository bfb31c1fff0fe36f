"""Keras's FTRL-proximal optimizer, written in torch as ``KerasFtrl``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from typing_extensions import Unpack

from kerasish.checks import check_number
from kerasish.optimizers.base import KerasArguments, Optimizer
from kerasish.optimizers.rules import KerasRule, states
from kerasish.optimizers.schedules import LearningRateSchedule

# Keras's arguments that must be >= 0, with Keras's wording of the refusal.
_NON_NEGATIVE = ("initial_accumulator_value", "l1_regularization_strength", "l2_regularization_strength",
                 "l2_shrinkage_regularization_strength")


class Ftrl(Optimizer):
    """Keras's Ftrl (``learning_rate=0.001``, ``learning_rate_power=-0.5``, ...); see ``KerasFtrl``.

    Args:
        learning_rate: a float or a schedule.
        learning_rate_power: <= 0; how the per-weight rate falls as squared gradients add up.
        initial_accumulator_value: >= 0; the squared-gradient sum's start.
        l1_regularization_strength: >= 0.
        l2_regularization_strength: >= 0.
        l2_shrinkage_regularization_strength: >= 0; an L2 penalty on the gradient (shrinkage).
        beta: added to the L2 term as ``beta / (2 * lr)``.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Ftrl(learning_rate=0.05, l1_regularization_strength=0.01), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        given = dict(initial_accumulator_value=initial_accumulator_value,
                     l1_regularization_strength=l1_regularization_strength,
                     l2_regularization_strength=l2_regularization_strength,
                     l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength)
        for argument in _NON_NEGATIVE:
            check_number(given[argument], argument)
            if given[argument] < 0.0:
                raise ValueError(f"`{argument}` needs to be positive or zero. Received: "
                                 f"{argument}={given[argument]}.")
        check_number(learning_rate_power, "learning_rate_power")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        check_number(beta, "beta")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _torch_optimizer(self, parameters, lr):
        return KerasFtrl(parameters, lr=lr, lr_power=self.learning_rate_power,
                         initial_accumulator_value=self.initial_accumulator_value,
                         l1=self.l1_regularization_strength, l2=self.l2_regularization_strength,
                         l2_shrinkage=self.l2_shrinkage_regularization_strength, beta=self.beta), True


class KerasFtrl(KerasRule):
    """FTRL-proximal with Keras's rule. Per weight, with ``n`` the squared-gradient sum and ``z``
    the linear term: ``n' = n + g**2``; ``z += g + 2 * l2_shrinkage * w - (n'**-p - n**-p) / lr * w``;
    ``w = (clip(z, -l1, l1) - z) / (n'**-p / lr + 2 * (l2 + beta / (2 * lr)))``. Built by
    ``ks.optimizers.Ftrl``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        lr_power: Keras's ``learning_rate_power``.
        initial_accumulator_value: the start of ``n``.
        l1, l2, l2_shrinkage: the regularization strengths.
        beta: Keras's ``beta``.

    Example:
        optimizer = KerasFtrl(module.parameters(), lr=0.05)
    """

    keras_name = "Ftrl"

    def __init__(self, params: Iterable[Any], lr: float = 0.001, lr_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1: float = 0.0, l2: float = 0.0,
                 l2_shrinkage: float = 0.0, beta: float = 0.0):
        super().__init__(params, {"lr": lr, "lr_power": lr_power,
                                  "initial_accumulator_value": initial_accumulator_value, "l1": l1, "l2": l2,
                                  "l2_shrinkage": l2_shrinkage, "beta": beta})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        lr, power, l1 = group["lr"], -group["lr_power"], group["l1"]
        l2 = group["l2"] + group["beta"] / (2.0 * lr)
        accumulators = states(self, params, "accumulator", fill=group["initial_accumulator_value"])
        linears = states(self, params, "linear")
        for w, g, n, z in zip(params, grads, accumulators, linears):
            new_n = n + g * g
            new_n_power = new_n.pow(power)
            z.add_(g + 2 * group["l2_shrinkage"] * w - (new_n_power - n.pow(power)) / lr * w)
            quadratic = new_n_power / lr + 2 * l2
            w.copy_((z.clamp(-l1, l1) - z) / quadratic)
            n.copy_(new_n)
