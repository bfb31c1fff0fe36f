"""Adagrad with Keras's rule (epsilon inside the square root): ``ks.optimizers.Adagrad`` and the
torch optimizer it builds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from typing_extensions import Unpack

from kerasish.checks import check_number
from kerasish.optimizers.base import KerasArguments, Optimizer
from kerasish.optimizers.rules import KerasRule, states
from kerasish.optimizers.saved_state import TorchForm
from kerasish.optimizers.schedules import LearningRateSchedule


class Adagrad(Optimizer):
    """Keras's Adagrad (``initial_accumulator_value=0.1``, epsilon inside the root).

    Args:
        learning_rate: a float or a schedule.
        initial_accumulator_value: the accumulator's starting value.
        epsilon: added under the root.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Adagrad(learning_rate=0.01), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(initial_accumulator_value, "initial_accumulator_value", low=0.0)
        check_number(epsilon, "epsilon", low=0.0)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _torch_optimizer(self, parameters, lr):
        return KerasAdagrad(parameters, lr=lr, initial_accumulator_value=self.initial_accumulator_value,
                            eps=self.epsilon), True


class KerasAdagrad(KerasRule):
    """Adagrad with Keras's rule: ``acc += g**2``; ``w -= lr * g / sqrt(acc + eps)``.

    Built by ``ks.optimizers.Adagrad``; torch's Adagrad adds epsilon after the root.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        initial_accumulator_value: the accumulator's starting value.
        eps: added under the root.

    Example:
        optimizer = KerasAdagrad(module.parameters(), lr=1e-3)
    """

    # What compile("adagrad") built before: the same accumulator.
    keras_name = "Adagrad"
    torch_form = TorchForm("Adagrad", {"lr": "lr", "initial_accumulator_value": "initial_accumulator_value",
                                       "eps": "eps"}, {"sum": "accumulator"},
                           neutral={"weight_decay": 0, "maximize": False, "lr_decay": 0})

    def __init__(self, params: Iterable[Any], lr: float = 0.001, initial_accumulator_value: float = 0.1,
                 eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        accumulators = states(self, params, "accumulator", group["initial_accumulator_value"])
        torch._foreach_addcmul_(accumulators, grads, grads)
        denominator = torch._foreach_add(accumulators, group["eps"])
        torch._foreach_sqrt_(denominator)
        torch._foreach_addcdiv_(params, grads, denominator, value=-group["lr"])
