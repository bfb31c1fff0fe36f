"""RMSprop with Keras's rule (epsilon inside the square root): ``ks.optimizers.RMSprop`` and the
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


class RMSprop(Optimizer):
    """Keras's RMSprop (``rho=0.9``, epsilon inside the square root), see ``KerasRMSprop``.

    Args:
        learning_rate: a float or a schedule.
        rho: the decay of the squared-gradient average.
        momentum: the momentum.
        epsilon: added under the root.
        centered: normalise by the gradient's variance.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.RMSprop(learning_rate=1e-3, momentum=0.9), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(rho, "rho", low=0.0, high=1.0)
        check_number(momentum, "momentum", low=0.0, high=1.0)
        check_number(epsilon, "epsilon", low=0.0)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def _torch_optimizer(self, parameters, lr):
        return KerasRMSprop(parameters, lr=lr, rho=self.rho, momentum=self.momentum, eps=self.epsilon,
                            centered=self.centered), True


class KerasRMSprop(KerasRule):
    """RMSprop with Keras's rule: ``w -= lr * g / sqrt(v + eps)`` (epsilon inside the root;
    centered: ``sqrt(v - mean_g**2 + eps)``); momentum accumulates ``lr * g / sqrt(...)``.

    torch's RMSprop adds epsilon after the root, which changes the step wherever ``v`` is small
    (early steps, small gradients). Built by ``ks.optimizers.RMSprop``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        rho: the decay of the squared-gradient average.
        momentum: the momentum (0 for none).
        eps: added under the root.
        centered: normalise by the gradient's variance instead of its second moment.

    Example:
        optimizer = KerasRMSprop(module.parameters(), lr=1e-3)
    """

    # What compile("rmsprop") built before; its momentum buffer leaves out the learning rate.
    keras_name = "RMSprop"
    torch_form = TorchForm("RMSprop", {"lr": "lr", "alpha": "rho", "eps": "eps", "momentum": "momentum",
                                       "centered": "centered"},
                           {"square_avg": "velocity", "grad_avg": "average_gradient"},
                           lr_scaled={"momentum_buffer": ("momentum", 1.0)})

    def __init__(self, params: Iterable[Any], lr: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 eps: float = 1e-7, centered: bool = False):
        super().__init__(params, {"lr": lr, "rho": rho, "momentum": momentum, "eps": eps,
                                  "centered": centered})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        velocity = states(self, params, "velocity")
        torch._foreach_mul_(velocity, rho)
        torch._foreach_addcmul_(velocity, grads, grads, value=1 - rho)
        if group["centered"]:
            average = states(self, params, "average_gradient")
            torch._foreach_mul_(average, rho)
            torch._foreach_add_(average, grads, alpha=1 - rho)
            denominator = torch._foreach_addcmul(velocity, average, average, value=-1)
            torch._foreach_add_(denominator, eps)
        else:
            denominator = torch._foreach_add(velocity, eps)
        torch._foreach_sqrt_(denominator)
        if group["momentum"] > 0:
            buffers = states(self, params, "momentum")
            torch._foreach_mul_(buffers, group["momentum"])
            torch._foreach_addcdiv_(buffers, grads, denominator, value=lr)
            torch._foreach_sub_(params, buffers)
        else:
            torch._foreach_addcdiv_(params, grads, denominator, value=-lr)
