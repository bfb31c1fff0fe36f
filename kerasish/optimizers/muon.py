"""Keras's Muon (orthogonalised momentum for matrices, AdamW for the rest), written in torch as
``KerasMuon``.

Keras decides per variable: one that is not 2-D, one whose path contains ``"embedding"`` (with
``exclude_embeddings``) and one whose path matches a regex of ``exclude_layers`` take the AdamW
step; every other one the Muon step. A torch parameter has no path: the names are those ``build``
is given with the parameters (``module.named_parameters()`` pairs, as ``apply`` takes them too).
``build`` marks the parameters the names exclude with a param group of their own
(``"adamw": True``, kept in the optimizer's ``state_dict``); the shape rule is read at each step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from kerasish.checks import check_number
from kerasish.optimizers.base import Optimizer
from kerasish.optimizers.rules import KerasRule, states
from kerasish.optimizers.schedules import LearningRateSchedule


def zeropower_via_newtonschulz5(x: torch.Tensor, steps: int, a: float = 3.4445, b: float = -4.7750,
                                c: float = 2.0315) -> torch.Tensor:
    """Keras's quintic Newton-Schulz iteration: an approximate ``U V^T`` of ``x``'s SVD over its
    last two dimensions (computed on the transpose when it has more rows than columns).

    Args:
        x: a tensor of at least 2 dimensions.
        steps: the number of iterations.
        a, b, c: the quintic's coefficients (Keras's ``muon_a``, ``muon_b``, ``muon_c``).

    Returns:
        The orthogonalised tensor, of ``x``'s shape.
    """
    if x.dim() < 2:
        raise ValueError(f"Expected gradient or momentum to have at least 2 dimensions. Received: "
                         f"shape={tuple(x.shape)}")
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = x.transpose(-2, -1)
    x = x / (torch.linalg.matrix_norm(x, keepdim=True) + 1e-7)
    for _ in range(steps):
        gram = x @ x.transpose(-2, -1)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.transpose(-2, -1) if tall else x


class Muon(Optimizer):
    """Keras's Muon, with Keras's arguments in Keras's order; see ``KerasMuon`` and the module's
    docstring for which parameters take the AdamW step.

    Args:
        learning_rate: a float or a schedule.
        adam_beta_1: the AdamW step's first-moment decay.
        adam_beta_2: the AdamW step's second-moment decay.
        adam_weight_decay: the decoupled weight decay of the AdamW-stepped weights (``None``: none).
        epsilon: the AdamW step's epsilon (Keras's placement, as ``ks.optimizers.Adam``).
        weight_decay: the decoupled weight decay of the Muon-stepped weights (``None``: none).
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            loss_scale_factor, gradient_accumulation_steps, name: as ``ks.optimizers.Optimizer``.
        exclude_layers: regexes; a parameter whose name matches one takes the AdamW step (the
            names come from ``compile``, or ``build(module.named_parameters())``).
        exclude_embeddings: a parameter whose name contains ``"embedding"`` takes the AdamW step.
        muon_a, muon_b, muon_c: the Newton-Schulz coefficients.
        adam_lr_ratio: the AdamW step's learning rate is ``learning_rate * adam_lr_ratio``.
        momentum: the Muon step's momentum.
        ns_steps: the Newton-Schulz iterations.
        nesterov: Nesterov momentum for the Muon step.
        rms_rate: the Muon update is scaled by ``sqrt(max(rows, columns)) * rms_rate`` (``None``:
            not scaled).

    Example:
        muon = ks.optimizers.Muon(learning_rate=1e-3, exclude_layers=["head"])
        model.compile(optimizer=muon, loss="cross_entropy")  # compile gives the parameters' names
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, adam_beta_1: float = 0.9,
                 adam_beta_2: float = 0.999, adam_weight_decay: float | None = 0.004, epsilon: float = 1e-7,
                 weight_decay: float | None = 0.004, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = None, exclude_layers: Sequence[str] | None = None,
                 exclude_embeddings: bool = True, muon_a: float = 3.4445, muon_b: float = -4.7750,
                 muon_c: float = 2.0315, adam_lr_ratio: float = 1, momentum: float = 0.95, ns_steps: int = 5,
                 nesterov: bool = True, rms_rate: float | None = 0.2, **kwargs: Any):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        check_number(adam_weight_decay, "adam_weight_decay", low=0.0, allow_none=True)
        for argument, value in (("adam_beta_1", adam_beta_1), ("adam_beta_2", adam_beta_2)):
            check_number(value, argument, low=0.0, high=1.0)
        for argument, value in (("epsilon", epsilon), ("muon_a", muon_a), ("muon_b", muon_b),
                                ("muon_c", muon_c), ("adam_lr_ratio", adam_lr_ratio), ("momentum", momentum)):
            check_number(value, argument)
        check_number(rms_rate, "rms_rate", allow_none=True)
        if not isinstance(ns_steps, int) or isinstance(ns_steps, bool) or ns_steps < 0:
            raise ValueError(f"ns_steps must be an integer >= 0; got {ns_steps!r}.")
        if isinstance(exclude_layers, str):
            raise TypeError("exclude_layers must be a list of regexes, not a string: use "
                            f"[{exclude_layers!r}].")
        self.adam_beta_1, self.adam_beta_2, self.epsilon = adam_beta_1, adam_beta_2, epsilon
        self.exclude_layers = list(exclude_layers or [])
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio, self.momentum, self.ns_steps = adam_lr_ratio, momentum, ns_steps
        self.nesterov = bool(nesterov)
        self.exclude_embeddings = bool(exclude_embeddings)
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate

    def uses_adamw(self, parameter: torch.Tensor, name: str | None = None) -> bool:
        """Whether this parameter takes the AdamW step (Keras's ``_should_use_adamw``).

        Args:
            parameter: the parameter (its shape decides first: not 2-D is AdamW).
            name: its name (Keras's variable path), for ``exclude_embeddings``/``exclude_layers``.
        """
        if parameter.dim() != 2:
            return True
        if name is None:
            return False
        if self.exclude_embeddings and "embedding" in name.lower():
            return True
        return any(re.search(keyword, name) for keyword in self.exclude_layers)

    def zeropower_via_newtonschulz5(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Keras's method: ``zeropower_via_newtonschulz5`` with this optimizer's coefficients.

        Args:
            x: a tensor of at least 2 dimensions.
            steps: the number of Newton-Schulz iterations.
        """
        return zeropower_via_newtonschulz5(x, steps, self.muon_a, self.muon_b, self.muon_c)

    def lr_adjust(self, x: torch.Tensor) -> torch.Tensor:
        """Keras's method: ``x * sqrt(max(rows, columns)) * rms_rate`` (``x`` if ``rms_rate`` is None).

        Args:
            x: an update of a 2-D weight.
        """
        return _lr_adjust(x, self.rms_rate)

    def _split_excluded(self, parameters: list[Any]) -> list[Any]:
        """The parameters as param groups, those the names send to AdamW marked ``"adamw": True``,
        then split for ``exclude_from_weight_decay`` as every optimizer's (names dropped)."""
        groups = [item for item in parameters if isinstance(item, dict)]
        loose = [item for item in parameters if not isinstance(item, dict)]
        if loose:
            groups.insert(0, {"params": loose})
        named = False
        split = []
        for group in groups:
            pairs = [p if isinstance(p, tuple) else (None, p) for p in group["params"]]
            named = named or any(n is not None for n, _ in pairs)
            muon = [pair for pair in pairs if not self.uses_adamw(pair[1], pair[0])]
            adamw = [pair for pair in pairs if self.uses_adamw(pair[1], pair[0])]
            split += [{**group, "params": muon}] if muon else []
            split += [{**group, "params": adamw, "adamw": True}] if adamw else []
        if self.exclude_layers and not named and any(p.dim() == 2 for g in split for _, p in g["params"]):
            raise ValueError(
                f"Muon(exclude_layers={self.exclude_layers!r}) needs the parameters' names, and these came "
                "without: build it on module.named_parameters() (compile(optimizer=muon) does), or pass "
                "(name, parameter) pairs to apply().")
        split = super()._split_excluded(split)  # private: the base class's own method, extended
        return [{**g, "params": [p[1] if isinstance(p, tuple) else p for p in g["params"]]} for g in split]

    def _torch_optimizer(self, parameters, lr):
        return KerasMuon(parameters, lr=lr, adam_betas=(self.adam_beta_1, self.adam_beta_2),
                         eps=self.epsilon, weight_decay=self.weight_decay,
                         adam_weight_decay=self.adam_weight_decay,
                         ns_coefficients=(self.muon_a, self.muon_b, self.muon_c),
                         adam_lr_ratio=self.adam_lr_ratio, momentum=self.momentum, ns_steps=self.ns_steps,
                         nesterov=self.nesterov, rms_rate=self.rms_rate), False


def _lr_adjust(x: torch.Tensor, rms_rate: float | None) -> torch.Tensor:
    if rms_rate is None:
        return x
    return x * (max(x.shape[0], x.shape[1]) ** 0.5) * rms_rate


class KerasMuon(KerasRule):
    """Muon with Keras's rule. A parameter of a group marked ``"adamw"``, or one not 2-D, takes
    Keras's AdamW step at ``lr * adam_lr_ratio`` (``m``, ``v`` and
    ``w -= lr_t * m / (sqrt(v) + eps)``, ``lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)``); every other
    one the Muon step: ``m = momentum * m + g``, ``u = NS5(g + momentum * m)`` (``NS5(m)`` without
    Nesterov), ``w -= lr * u * sqrt(max(rows, columns)) * rms_rate``. First, as Keras, decoupled
    weight decay ``w -= w * wd * lr`` with ``adam_weight_decay`` or ``weight_decay`` by that split
    (``lr`` the base rate), except in a group marked ``exclude_from_weight_decay``. Built by
    ``ks.optimizers.Muon``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        adam_betas: ``(adam_beta_1, adam_beta_2)``.
        eps: the AdamW step's epsilon.
        weight_decay: the Muon-stepped weights' decay (``None``: none).
        adam_weight_decay: the AdamW-stepped weights' decay (``None``: none).
        ns_coefficients: ``(muon_a, muon_b, muon_c)``.
        adam_lr_ratio, momentum, ns_steps, nesterov, rms_rate: Keras's arguments of those names.

    Example:
        optimizer = KerasMuon(module.parameters(), lr=1e-3)
    """

    keras_name = "Muon"

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 adam_betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-7,
                 weight_decay: float | None = 0.004, adam_weight_decay: float | None = 0.004,
                 ns_coefficients: tuple[float, float, float] = (3.4445, -4.7750, 2.0315),
                 adam_lr_ratio: float = 1, momentum: float = 0.95, ns_steps: int = 5, nesterov: bool = True,
                 rms_rate: float | None = 0.2):
        super().__init__(params, {"lr": lr, "adam_betas": adam_betas, "eps": eps,
                                  "weight_decay": weight_decay, "adam_weight_decay": adam_weight_decay,
                                  "ns_coefficients": ns_coefficients,
                                  "adam_lr_ratio": adam_lr_ratio, "momentum": momentum, "ns_steps": ns_steps,
                                  "nesterov": nesterov, "rms_rate": rms_rate, "adamw": False})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        adamw = [group["adamw"] or w.dim() != 2 for w in params]
        lr = group["lr"]
        if not group.get("exclude_from_weight_decay"):
            for w, is_adamw in zip(params, adamw):
                decay = group["adam_weight_decay"] if is_adamw else group["weight_decay"]
                if decay is not None:
                    w.sub_(w * decay * lr)
        momentums = states(self, params, "momentum")
        for w, g, m, is_adamw in zip(params, grads, momentums, adamw):
            if is_adamw:
                self._adamw_step(group, w, g, m)
            else:
                self._muon_step(group, w, g, m)

    def _adamw_step(self, group: dict[str, Any], w: torch.Tensor, g: torch.Tensor, m: torch.Tensor) -> None:
        state = self.state[w]
        if "velocity" not in state:
            state["velocity"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        v = state["velocity"]
        step = group.get("iterations", 0) + 1  # Keras's iterations + 1
        beta_1, beta_2 = group["adam_betas"]
        alpha = group["lr"] * group["adam_lr_ratio"] * (1 - beta_2 ** step) ** 0.5 / (1 - beta_1 ** step)
        m.add_((g - m) * (1 - beta_1))
        v.add_((g.square() - v) * (1 - beta_2))
        w.sub_(m * alpha / (v.sqrt() + group["eps"]))

    def _muon_step(self, group: dict[str, Any], w: torch.Tensor, g: torch.Tensor, m: torch.Tensor) -> None:
        momentum = group["momentum"]
        m.add_(g + m * (momentum - 1))
        direction = g + momentum * m if group["nesterov"] else m
        update = zeropower_via_newtonschulz5(direction, group["ns_steps"], *group["ns_coefficients"])
        w.sub_(_lr_adjust(group["lr"] * update, group["rms_rate"]))
