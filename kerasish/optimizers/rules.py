"""The step shared by Keras's update rules written as torch optimizers (``KerasSGD``,
``KerasRMSprop``, ``KerasAdagrad``, ``KerasAdamax``, each in its family's module).

Each rule gets a param group's parameters that have a gradient together, for foreach ops over the
whole group, and keeps its per-parameter state as Keras keeps slot variables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from kerasish.optimizers.attributes import KerasAttributes
from kerasish.optimizers.saved_state import TorchForm


def with_grads(group: dict[str, Any]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """A param group's parameters that have a gradient, and those gradients.

    Args:
        group: a torch param group (a dict with ``"params"``).

    Returns:
        ``(params, grads)``, in the group's order.
    """
    params = [p for p in group["params"] if p.grad is not None]
    return params, [p.grad for p in params]


def states(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], key: str,
           fill: float = 0.0) -> list[torch.Tensor]:
    """One state tensor per parameter (created at the first step, like Keras's slot variables).

    Args:
        optimizer: the optimizer whose ``state`` holds them.
        params: the parameters.
        key: the state's name, e.g. ``"momentum"``.
        fill: the value a new state starts at.

    Returns:
        The state tensors, in the order of ``params``.
    """
    out = []
    for p in params:
        state = optimizer.state[p]
        if key not in state:
            state[key] = torch.full_like(p, fill, memory_format=torch.preserve_format)
        out.append(state[key])
    return out


class KerasRule(KerasAttributes, torch.optim.Optimizer):
    """The step shared by the Keras rules: each param group's parameters that have a
    gradient go to ``_update`` together, for foreach ops over the whole group.

    With ``KerasAttributes`` (``optimizer.learning_rate``, ...); ``torch_form`` names the torch
    optimizer the rule replaced in ``compile(name)`` and how its saved state maps onto the rule's.
    """

    torch_form: ClassVar[TorchForm | None] = None
    # Keras's class of the rule ("SGD" for KerasSGD): the name logs and run configs report.
    keras_name: ClassVar[str | None] = None

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient, as torch's ``Optimizer.step``.

        Args:
            closure: re-evaluates the model and returns the loss (optional, as in torch).

        Returns:
            The closure's loss, or ``None``.
        """
        loss = None if closure is None else torch.enable_grad()(closure)()
        for group in self.param_groups:
            params, grads = with_grads(group)
            if params:
                self._update(group, params, grads)
        return loss

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        raise NotImplementedError
