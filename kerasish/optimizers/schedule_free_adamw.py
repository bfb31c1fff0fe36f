"""Keras's ScheduleFreeAdamW, written in torch as ``KerasScheduleFreeAdamW``.

Schedule-free training keeps two sequences besides the weights: ``z`` (Keras's ``momentum``
slot, where the gradient steps go, starting at the weights) and the average ``x``. Keras keeps
only ``z`` and the weights ``y = (1 - beta_1) * z + beta_1 * x`` (``x`` is recovered from them at
each step) and trains, evaluates and predicts with ``y``: Keras 3.15.1 swaps no weights in
``fit``, ``evaluate`` or ``predict`` on any backend. kerasish does the same, so ``evaluate`` gives
Keras's numbers; ``KerasScheduleFreeAdamW.averaged_weights()`` (the paper's evaluation point
``x``) is there for whoever wants to evaluate at the average, and ``swapped_to_average()`` puts
it in the parameters for a ``with`` block (and ``y`` back after it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from typing_extensions import Unpack

from kerasish.checks import check_number
from kerasish.optimizers.base import KerasArguments, Optimizer
from kerasish.optimizers.rules import KerasRule
from kerasish.optimizers.schedules import LearningRateSchedule


class ScheduleFreeAdamW(Optimizer):
    """Keras's ScheduleFreeAdamW (``learning_rate=0.0025``, ``beta_1=0.9``, ``beta_2=0.999``,
    ``epsilon=1e-8``, ``warmup_steps=0``); see ``KerasScheduleFreeAdamW`` and the module's
    docstring (which weights ``fit`` and ``evaluate`` use).

    Args:
        learning_rate: a float or a schedule.
        beta_1: the interpolation between ``z`` and the average ``x`` that gives the weights.
        beta_2: the second moment's decay.
        epsilon: added to the bias-corrected root.
        warmup_steps: the learning rate rises linearly over these many steps
            (``lr * min(t / warmup_steps, 1)``).
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.ScheduleFreeAdamW(learning_rate=2.5e-3, warmup_steps=100), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.0025, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, warmup_steps: int = 0,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(beta_1, "beta_1", low=0.0, high=1.0)
        check_number(beta_2, "beta_2", low=0.0, high=1.0)
        check_number(epsilon, "epsilon")
        if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0; got {warmup_steps!r}.")
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.warmup_steps = warmup_steps

    def _torch_optimizer(self, parameters, lr):
        # The decay happens inside the step: z starts at the weights before the first decay, as
        # Keras builds its slots before applying any.
        return KerasScheduleFreeAdamW(parameters, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                                      warmup_steps=self.warmup_steps, weight_decay=self.weight_decay), False


class KerasScheduleFreeAdamW(KerasRule):
    """Schedule-free AdamW with Keras's rule, per weight ``y`` at step t: decoupled decay
    ``y *= 1 - lr * wd`` (not in a group marked ``exclude_from_weight_decay``); ``lr_t = lr *
    min(t / warmup_steps, 1)``; ``v = beta_2 * v + (1 - beta_2) * g**2``; ``z -= lr_t * g /
    (sqrt(v / (1 - beta_2**t)) + eps)``; ``x = (y - (1 - beta_1) * z) / beta_1`` with the new
    ``z`` (as Keras 3.15.1 on torch computes it: the "old" momentum it reads is the slot, updated
    in place by then; the paper and Keras on JAX take the old ``z``) moved ``1 / t`` of the way to
    ``z``; ``y = (1 - beta_1) * z + beta_1 * x``. ``z`` (state
    ``"momentum"``) starts at the weights. Built by ``ks.optimizers.ScheduleFreeAdamW``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        betas: ``(beta_1, beta_2)``.
        eps: added to the root.
        warmup_steps: the linear warmup's length (0: none).
        weight_decay: the decoupled decay (``None`` or 0: none).

    Example:
        optimizer = KerasScheduleFreeAdamW(module.parameters(), lr=2.5e-3)
    """

    keras_name = "ScheduleFreeAdamW"

    def __init__(self, params: Iterable[Any], lr: float = 0.0025, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, warmup_steps: int = 0, weight_decay: float | None = None):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "warmup_steps": warmup_steps,
                                  "weight_decay": weight_decay})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        for w in params:  # Keras's build: z is a copy of the weights, before any decay
            if "momentum" not in self.state[w]:
                self.state[w]["momentum"] = w.detach().clone(memory_format=torch.preserve_format)
                self.state[w]["velocity"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        lr, decay = group["lr"], group["weight_decay"]
        if decay and not group.get("exclude_from_weight_decay"):
            torch._foreach_mul_(params, 1 - decay * lr)
        step = group.get("iterations", 0) + 1  # Keras's iterations + 1
        if group["warmup_steps"] > 0:
            lr = lr * min(step / group["warmup_steps"], 1.0)
        beta_1, beta_2 = group["betas"]
        weight = 1.0 / step
        for y, g in zip(params, grads):
            z, v = self.state[y]["momentum"], self.state[y]["velocity"]
            v.add_((g.square() - v) * (1 - beta_2))
            z.sub_(lr * g / ((v / (1 - beta_2 ** step)).sqrt() + group["eps"]))
            # Keras on torch: its "momentum_old" is the slot's tensor, updated in place just
            # before, so x comes from the new z (on JAX it would be the old one).
            x = (y - (1 - beta_1) * z) / beta_1
            x.mul_(1 - weight).add_(z, alpha=weight)
            y.copy_((1 - beta_1) * z + beta_1 * x)

    @torch.no_grad()
    def averaged_weights(self) -> list[torch.Tensor]:
        """The average ``x = (y - (1 - beta_1) * z) / beta_1`` of each parameter that has taken a
        step, in param-group order (new tensors; the parameters themselves hold ``y``)."""
        out = []
        for group in self.param_groups:
            beta_1 = group["betas"][0]
            for y in group["params"]:
                if "momentum" in self.state[y]:
                    out.append((y - (1 - beta_1) * self.state[y]["momentum"]) / beta_1)
        return out

    @contextmanager
    def swapped_to_average(self) -> Iterator[None]:
        """Inside the block the parameters hold the averages ``x`` (``averaged_weights``); after it,
        the training weights ``y`` again.

        Example:
            with model.optimizer.swapped_to_average():
                model.evaluate(x_val, y_val)
        """
        stepped = [y for group in self.param_groups for y in group["params"] if "momentum" in self.state[y]]
        saved = [y.detach().clone() for y in stepped]
        with torch.no_grad():
            for y, x in zip(stepped, self.averaged_weights()):
                y.copy_(x)
        try:
            yield
        finally:
            with torch.no_grad():
                for y, kept in zip(stepped, saved):
                    y.copy_(kept)
