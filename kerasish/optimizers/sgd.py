"""SGD with Keras's momentum rule: ``ks.optimizers.SGD`` and the torch optimizer it builds."""

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


class SGD(Optimizer):
    """Keras's SGD: ``learning_rate=0.01``, ``momentum``, ``nesterov``; Keras's momentum rule.

    Args:
        learning_rate: a float or a schedule.
        momentum: in [0, 1].
        nesterov: Nesterov momentum.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.01, momentum: float = 0.0,
                 nesterov: bool = False,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(momentum, "momentum", low=0.0, high=1.0)
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def _torch_optimizer(self, parameters, lr):
        return KerasSGD(parameters, lr=lr, momentum=self.momentum, nesterov=self.nesterov), True


class KerasSGD(KerasRule):
    """SGD with Keras's momentum: ``m = momentum * m - lr * g``; ``w += m`` (Nesterov:
    ``w += momentum * m - lr * g``).

    With a constant learning rate this equals torch's SGD; with a schedule it does not, because
    Keras's momentum carries past learning rates and torch multiplies the whole buffer by the
    current one. Built by ``ks.optimizers.SGD``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        momentum: in [0, 1].
        nesterov: Nesterov momentum.

    Example:
        optimizer = KerasSGD(module.parameters(), lr=0.01, momentum=0.9)
    """

    # What compile("sgd") built before; Keras's momentum is -lr times torch's buffer.
    keras_name = "SGD"
    torch_form = TorchForm("SGD", {"lr": "lr", "momentum": "momentum", "nesterov": "nesterov"}, {},
                           lr_scaled={"momentum_buffer": ("momentum", -1.0)},
                           neutral={"weight_decay": 0, "maximize": False, "dampening": 0})

    def __init__(self, params: Iterable[Any], lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        if momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        buffers = states(self, params, "momentum")
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_add_(buffers, grads, alpha=-lr)
        if group["nesterov"]:
            torch._foreach_add_(params, buffers, alpha=momentum)
            torch._foreach_add_(params, grads, alpha=-lr)
        else:
            torch._foreach_add_(params, buffers)
