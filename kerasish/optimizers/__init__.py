"""Optimizer names with Keras 3's default hyper-parameters, resolved to torch optimizers.

Keras and torch disagree on several defaults (Adam's epsilon is 1e-7 in Keras and 1e-8 in torch,
Adadelta's learning rate is 0.001 in Keras and 1.0 in torch, ...). Code ported from Keras must
train the same way, so a Keras name gets Keras's numbers.

A named Adam or AdamW also gets torch's fused kernel where the parameters allow it: the same
update in one kernel instead of a loop over parameters, equal to the looped update up to float
rounding. On CPU it made the whole step of the benchmark's tiny MLP 1.28x faster
(``benchmarks/step_variants.py``, ``eager_fused``), where torch's default Adam loops over the
parameters. A user's own optimizer instance, class or factory is used exactly as given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

# name -> (torch class, Keras 3 defaults expressed as torch keyword arguments)
_KERAS_DEFAULTS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "sgd": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
    "adam": (torch.optim.Adam, {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
    "adamw": (
        torch.optim.AdamW,
        {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004},
    ),
    "rmsprop": (
        torch.optim.RMSprop,
        {"lr": 0.001, "alpha": 0.9, "eps": 1e-7, "momentum": 0.0, "centered": False},
    ),
    "adagrad": (
        torch.optim.Adagrad,
        {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
    ),
    "adadelta": (torch.optim.Adadelta, {"lr": 0.001, "rho": 0.95, "eps": 1e-7}),
    "adamax": (torch.optim.Adamax, {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
    "nadam": (torch.optim.NAdam, {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
}

KNOWN_OPTIMIZERS = tuple(sorted(_KERAS_DEFAULTS))

# Named optimizers whose fused kernel runs on CPU and CUDA for floating-point parameters.
_FUSED = frozenset({"adam", "adamw"})
_FUSED_DEVICES = frozenset({"cpu", "cuda"})

OptimizerSpec = str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer]


def get_optimizer(spec: OptimizerSpec, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """Return a torch optimizer for a Keras name, an optimizer instance, or a class/factory."""
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key not in _KERAS_DEFAULTS:
            raise ValueError(
                f"optimizer={spec!r} is not a known optimizer name. Use one of "
                f"{', '.join(KNOWN_OPTIMIZERS)}, a torch.optim.Optimizer instance, or an "
                "optimizer class such as torch.optim.AdamW."
            )
        cls, defaults = _KERAS_DEFAULTS[key]
        parameters = list(parameters)
        if key in _FUSED and _fusable(parameters):
            defaults = {**defaults, "fused": True}
        return cls(parameters, **defaults)
    if callable(spec):
        optimizer = spec(list(parameters))
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer={spec!r} was called with the module's parameters and returned "
                f"{type(optimizer).__name__}, not a torch.optim.Optimizer. Pass a class such as "
                "torch.optim.Adam or a function `params -> Optimizer`."
            )
        return optimizer
    raise TypeError(
        f"optimizer must be a name ({', '.join(KNOWN_OPTIMIZERS)}), a torch.optim.Optimizer "
        f"or a class/factory taking the parameters; got {type(spec).__name__}."
    )


def _fusable(parameters: list[torch.nn.Parameter]) -> bool:
    """Whether torch's fused Adam kernel takes these parameters (it would fail at the first step)."""
    return bool(parameters) and all(
        p.is_floating_point() and p.device.type in _FUSED_DEVICES and not p.is_sparse
        for p in parameters
    )


def describe_optimizer(optimizer: torch.optim.Optimizer) -> str:
    """A short name for logs and configs (``"Adam"``)."""
    return type(optimizer).__name__

