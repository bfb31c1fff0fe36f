"""Keras's Adafactor (factored second moments, relative step size), written in torch as
``KerasAdafactor``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from typing_extensions import Unpack

from kerasish.checks import check_number
from kerasish.optimizers.base import KerasArguments, Optimizer
from kerasish.optimizers.rules import KerasRule
from kerasish.optimizers.schedules import LearningRateSchedule


class Adafactor(Optimizer):
    """Keras's Adafactor (``learning_rate=0.001``, ``beta_2_decay=-0.8``, ``epsilon_1=1e-30``,
    ``epsilon_2=1e-3``, ``clip_threshold=1.0``, ``relative_step=True``); see ``KerasAdafactor``.

    Args:
        learning_rate: a float or a schedule; the step is ``min(learning_rate, 1 / sqrt(t))``.
        beta_2_decay: the second moment's decay is ``1 - t**beta_2_decay`` at step t.
        epsilon_1: added to the squared gradient.
        epsilon_2: the least weight RMS the step is scaled by.
        clip_threshold: the update's RMS is clipped to this (Adafactor's own clipping,
            independent of ``clipnorm``/``clipvalue``/``global_clipnorm``).
        relative_step: Keras's flag; Keras's rule takes ``min(lr, 1 / sqrt(t))`` whatever it is
            (it applies the minimum twice when it is set), so it changes nothing, here as in Keras.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Adafactor(learning_rate=1e-2), "cross_entropy")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_2_decay: float = -0.8,
                 epsilon_1: float = 1e-30, epsilon_2: float = 1e-3, clip_threshold: float = 1.0,
                 relative_step: bool = True, **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        for argument, value in (("beta_2_decay", beta_2_decay), ("epsilon_1", epsilon_1),
                                ("epsilon_2", epsilon_2), ("clip_threshold", clip_threshold)):
            check_number(value, argument)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = bool(relative_step)

    def _torch_optimizer(self, parameters, lr):
        return KerasAdafactor(parameters, lr=lr, beta_2_decay=self.beta_2_decay,
                              eps=(self.epsilon_1, self.epsilon_2), clip_threshold=self.clip_threshold), True


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.square().mean().sqrt()


class KerasAdafactor(KerasRule):
    """Adafactor with Keras's rule, per weight at step t (the group's ``"iterations"`` + 1):
    ``rho = min(lr, 1 / sqrt(t))``, ``alpha = max(eps_2, rms(w)) * rho``, ``beta = 1 - t**decay``
    and ``s = g**2 + eps_1``. A weight of 2 or more dimensions keeps the row and column means of
    ``s`` (``r``, ``c``, over its last two dimensions) as moving averages and
    ``v = (r / mean(r))[..., None] * c[..., None, :]``; a smaller one keeps ``v`` itself. Then
    ``u = g / sqrt(v)``, ``w -= alpha * u / max(1, rms(u) / clip_threshold)``. Everything stays
    on the device. Built by ``ks.optimizers.Adafactor``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        beta_2_decay: Keras's ``beta_2_decay``.
        eps: ``(epsilon_1, epsilon_2)``.
        clip_threshold: the update RMS's limit.

    Example:
        optimizer = KerasAdafactor(module.parameters(), lr=1e-2)
    """

    keras_name = "Adafactor"

    def __init__(self, params: Iterable[Any], lr: float = 0.001, beta_2_decay: float = -0.8,
                 eps: tuple[float, float] = (1e-30, 1e-3), clip_threshold: float = 1.0):
        super().__init__(params, {"lr": lr, "beta_2_decay": beta_2_decay, "eps": eps,
                                  "clip_threshold": clip_threshold})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        step = group.get("iterations", 0) + 1  # Keras's iterations + 1 (updates, not calls)
        epsilon_1, epsilon_2 = group["eps"]
        rho = min(group["lr"], 1.0 / step ** 0.5)
        beta = 1.0 - step ** group["beta_2_decay"]
        for w, g in zip(params, grads):
            state = self.state[w]
            if "velocity" not in state:
                state["velocity"] = torch.zeros_like(w, memory_format=torch.preserve_format)
                if w.dim() >= 2:
                    state["row"] = torch.zeros(w.shape[:-1], dtype=w.dtype, device=w.device)
                    state["column"] = torch.zeros(w.shape[:-2] + w.shape[-1:], dtype=w.dtype, device=w.device)
            alpha = _rms(w).clamp_min(epsilon_2) * rho
            square = g.square() + epsilon_1
            v = state["velocity"]
            if w.dim() >= 2:
                r, c = state["row"], state["column"]
                r.mul_(beta).add_(square.mean(dim=-1), alpha=1.0 - beta)
                c.mul_(beta).add_(square.mean(dim=-2), alpha=1.0 - beta)
                v.copy_((r / r.mean(dim=-1, keepdim=True)).unsqueeze(-1) * c.unsqueeze(-2))
            else:
                v.mul_(beta).add_(square, alpha=1.0 - beta)
            u = g / v.sqrt()
            u.div_((_rms(u) / group["clip_threshold"]).clamp_min(1.0))
            w.sub_(alpha * u)
