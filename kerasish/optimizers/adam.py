"""The optimizers with two moment decays and an epsilon: Adam, AdamW, Adamax and Nadam.

Adam and AdamW run on torch's Adam/AdamW (fused where the parameters allow it) with Keras's
epsilon; Nadam on torch's NAdam, whose rule is Keras's with ``momentum_decay=1``; Adamax on
``KerasAdamax``, Keras's rule written in torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from typing_extensions import Unpack

from kerasish.checks import check_number
from kerasish.optimizers import attributes
from kerasish.optimizers.base import ArgumentsBesidesDecay, KerasArguments, Optimizer
from kerasish.optimizers.rules import KerasRule, states
from kerasish.optimizers.saved_state import TorchForm
from kerasish.optimizers.schedules import LearningRateSchedule

# Devices on which torch's fused Adam kernel runs for floating-point parameters.
_FUSED_DEVICES = frozenset({"cpu", "cuda"})


def fusable(parameters: list[Any]) -> bool:
    """Whether torch's fused Adam kernel takes these parameters (it would fail at the first step).

    Args:
        parameters: the parameters to optimise, or param groups (dicts whose ``"params"`` are lists).

    Returns:
        ``True`` if there are any and all are dense floating-point tensors on a device the kernel
        runs on.
    """
    tensors = [p for item in parameters for p in (item["params"] if isinstance(item, dict) else [item])]
    return bool(tensors) and all(
        p.is_floating_point() and p.device.type in _FUSED_DEVICES and not p.is_sparse
        for p in tensors
    )


class _Moments(Optimizer):
    """Keras's constructor for the optimizers with two moment decays and an epsilon (Adam, Adamax,
    Nadam): the arguments, defaults and checks are the same in all three; the rule is each one's.
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(beta_1, "beta_1", low=0.0, high=1.0)
        check_number(beta_2, "beta_2", low=0.0, high=1.0)
        check_number(epsilon, "epsilon", low=0.0)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon


class Adam(_Moments):
    """Keras's Adam (``epsilon=1e-7``, Keras's epsilon placement), on torch's fused kernel when the
    parameters allow it (clipping included: the hooks clip at a GradScaler's scaled limit).

    Keras adds epsilon to ``sqrt(v)`` before the bias correction, torch after it; kerasish passes
    torch ``epsilon / sqrt(1 - beta_2**t)`` at step t, which is Keras's update exactly. With
    ``weight_decay`` it is torch's AdamW (decoupled decay, as Keras).

    Args:
        learning_rate: a float or a schedule.
        beta_1: the first-moment decay.
        beta_2: the second-moment decay.
        epsilon: Keras's epsilon.
        amsgrad: use the maximum of past second moments.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Adam(learning_rate=3e-4), "cross_entropy")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **common)
        self.amsgrad = bool(amsgrad)

    def _torch_optimizer(self, parameters, lr):
        kwargs: dict[str, Any] = {"lr": lr, "betas": (self.beta_1, self.beta_2), "eps": self.epsilon,
                                  "amsgrad": self.amsgrad}
        if fusable(parameters):  # the fused kernel, as for the name "adam" (clipping is scale-aware)
            kwargs["fused"] = True
        if self.weight_decay:
            return attributes.AdamW(parameters, weight_decay=self.weight_decay, **kwargs), False
        return attributes.Adam(parameters, **kwargs), False

    def _adam_epsilon(self) -> tuple[float, float] | None:
        return (self.epsilon, self.beta_2)


class AdamW(Adam):
    """Keras's AdamW: Adam with decoupled weight decay, ``weight_decay=0.004`` by default.

    Args:
        learning_rate: a float or a schedule.
        weight_decay: the decoupled decay (required, as in Keras).
        beta_1, beta_2, epsilon, amsgrad: as ``ks.optimizers.Adam``.
        **common: Keras's other shared arguments (``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.05), "cross_entropy")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 **common: Unpack[ArgumentsBesidesDecay]):
        if weight_decay is None:
            raise ValueError("AdamW needs weight_decay as a float (Keras refuses None too); use "
                             "ks.optimizers.Adam for no weight decay.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **common)


class Adamax(_Moments):
    """Keras's Adamax (epsilon added to the norm at each step), see ``KerasAdamax``.

    Args:
        learning_rate: a float or a schedule.
        beta_1: the first-moment decay.
        beta_2: the norm's decay.
        epsilon: added to the norm.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Adamax(learning_rate=2e-3), "mse")
    """

    def _torch_optimizer(self, parameters, lr):
        return KerasAdamax(parameters, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon), True


class Nadam(_Moments):
    """Keras's Nadam: torch's NAdam with ``momentum_decay=1.0`` is Keras's rule (``0.96 ** t``).

    Args:
        learning_rate: a float or a schedule.
        beta_1: the first-moment decay.
        beta_2: the second-moment decay.
        epsilon: added to the root.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Nadam(learning_rate=2e-3), "mse")
    """

    def _torch_optimizer(self, parameters, lr):
        return attributes.NAdam(parameters, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                                momentum_decay=1.0), True


class KerasAdamax(KerasRule):
    """Adamax with Keras's rule: ``u = max(beta_2 * u, |g|)``;
    ``w -= lr * m / ((1 - beta_1**t) * (u + eps))``.

    Built by ``ks.optimizers.Adamax``; torch's Adamax folds epsilon into ``u`` itself.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        betas: ``(beta_1, beta_2)``.
        eps: added to the norm.

    Example:
        optimizer = KerasAdamax(module.parameters(), lr=1e-3)
    """

    # What compile("adamax") built before (torch folds eps into its norm: the norms carry over).
    keras_name = "Adamax"
    torch_form = TorchForm("Adamax", {"lr": "lr", "betas": "betas", "eps": "eps"},
                           {"exp_avg": "momentum", "exp_inf": "norm"}, step_setting="step")

    def __init__(self, params: Iterable[Any], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "step": 0})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        group["step"] += 1  # a Python count: no device read for the bias correction
        beta_1, beta_2 = group["betas"]
        momentum, norm = states(self, params, "momentum"), states(self, params, "norm")
        torch._foreach_lerp_(momentum, grads, 1 - beta_1)
        torch._foreach_mul_(norm, beta_2)
        torch._foreach_maximum_(norm, torch._foreach_abs(grads))
        denominator = torch._foreach_add(norm, group["eps"])
        torch._foreach_addcdiv_(params, momentum, denominator,
                                value=-group["lr"] / (1 - beta_1 ** group["step"]))


class Lamb(_Moments):
    """Keras's Lamb: Adam's bias-corrected step scaled per weight by ``||w|| / ||step||`` (1 where
    either norm is 0); see ``KerasLamb``.

    Args:
        learning_rate: a float or a schedule.
        beta_1: the first-moment decay.
        beta_2: the second-moment decay.
        epsilon: added to the corrected root.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Lamb(learning_rate=1e-3, weight_decay=0.01), "cross_entropy")
    """

    def _torch_optimizer(self, parameters, lr):
        return KerasLamb(parameters, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon), True


class KerasLamb(KerasRule):
    """Lamb with Keras's rule: Adam's moments, ``u = m_hat / (sqrt(v_hat) + eps)`` and
    ``w -= r * lr * u`` with the trust ratio ``r = ||w|| / ||u||`` (1 if a norm is 0), each norm
    over one weight. The ratio stays on the device. Built by ``ks.optimizers.Lamb``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        betas: ``(beta_1, beta_2)``.
        eps: added to the corrected root.

    Example:
        optimizer = KerasLamb(module.parameters(), lr=1e-3)
    """

    keras_name = "Lamb"

    def __init__(self, params: Iterable[Any], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "step": 0})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        group["step"] += 1  # a Python count: no device read for the bias correction
        beta_1, beta_2 = group["betas"]
        momentum, velocity = states(self, params, "momentum"), states(self, params, "velocity")
        torch._foreach_lerp_(momentum, grads, 1 - beta_1)
        torch._foreach_lerp_(velocity, torch._foreach_mul(grads, grads), 1 - beta_2)
        root = torch._foreach_sqrt(torch._foreach_div(velocity, 1 - beta_2 ** group["step"]))
        torch._foreach_add_(root, group["eps"])
        updates = torch._foreach_div(torch._foreach_div(momentum, 1 - beta_1 ** group["step"]), root)
        ratios = [torch.where((w > 0) & (u > 0), w / u, torch.ones_like(w))
                  for w, u in zip(torch._foreach_norm(params), torch._foreach_norm(updates))]
        torch._foreach_mul_(updates, ratios)
        torch._foreach_add_(params, updates, alpha=-group["lr"])
