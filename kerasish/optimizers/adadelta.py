"""Keras's Adadelta, on torch's Adadelta (the same rule, with Keras's defaults)."""

from __future__ import annotations

from typing_extensions import Unpack

from kerasish.checks import check_number
from kerasish.optimizers import attributes
from kerasish.optimizers.base import KerasArguments, Optimizer
from kerasish.optimizers.schedules import LearningRateSchedule


class Adadelta(Optimizer):
    """Keras's Adadelta (``learning_rate=0.001``, ``rho=0.95``): torch's Adadelta is the same rule.

    Args:
        learning_rate: a float or a schedule.
        rho: the decay rate.
        epsilon: added under the roots.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Adadelta(learning_rate=1.0), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, rho: float = 0.95,
                 epsilon: float = 1e-7,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(rho, "rho", low=0.0, high=1.0)
        check_number(epsilon, "epsilon", low=0.0)
        self.rho, self.epsilon = rho, epsilon

    def _torch_optimizer(self, parameters, lr):
        return attributes.Adadelta(parameters, lr=lr, rho=self.rho, eps=self.epsilon), True
