"""Keras's ``LossScaleOptimizer``: dynamic loss scaling around a ``ks.optimizers`` optimizer, for
the optimizer-object API (``apply``, ``apply_gradients``, ``scale_loss``).

Each ``apply`` checks the gradients: all finite, they are divided by the scale and the inner
optimizer steps, and after ``dynamic_growth_steps`` such steps in a row the scale doubles; any
inf or NaN skips the step and halves the scale. The finite check is one host read per call (Keras's
``ops.cond`` is one too on torch). ``fit`` does not take it: ``compile(precision="mixed_float16")``
is dynamic loss scaling in ``fit`` (torch's GradScaler, with the same rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from kerasish.optimizers.base import Optimizer, auto_name

# Keras's base-optimizer arguments, with the defaults that an old config may still carry.
_BASE_DEFAULTS: dict[str, Any] = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
    "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class LossScaleOptimizer:
    """An optimizer that scales the loss dynamically (Keras's ``LossScaleOptimizer``).

    Args:
        inner_optimizer: the ``ks.optimizers`` optimizer that steps (its ``loss_scale_factor`` is
            set to ``None``, as Keras does, so gradients are not unscaled twice).
        initial_scale: the first loss scale.
        dynamic_growth_steps: double the scale after this many finite steps in a row.
        name: a name, as Keras.

    Example:
        optimizer = ks.optimizers.LossScaleOptimizer(ks.optimizers.SGD(learning_rate=0.1))
        loss = optimizer.scale_loss(loss_fn(module(x), y))
        loss.backward()
        optimizer.apply([p.grad for p in module.parameters()], list(module.parameters()))
    """

    def __init__(self, inner_optimizer: Optimizer, initial_scale: float = 2.0**15,
                 dynamic_growth_steps: int = 2000, name: str | None = None, **kwargs: Any):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                             "`loss_scale_factor` directly on the `inner_optimizer`.")
        for argument, default in _BASE_DEFAULTS.items():
            if argument in kwargs and kwargs.pop(argument) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{argument}`. Instead, set "
                                 f"`{argument}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError("inner_optimizer must be a ks.optimizers optimizer (e.g. ks.optimizers.SGD()); "
                            f"got {type(inner_optimizer).__name__}.")
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        self.name = name or auto_name("loss_scale_optimizer")
        inner_optimizer.loss_scale_factor = None
        self.dynamic_scale = float(initial_scale)
        self.step_counter = 0  # finite steps since the scale last changed

    def __call__(self, parameters: Iterable[Any]) -> torch.optim.Optimizer:
        """Refused: ``compile`` builds optimizers for ``fit``, whose loss scaling is ``precision``."""
        raise TypeError(
            "compile(optimizer=ks.optimizers.LossScaleOptimizer(...)) is not supported: fit scales the loss "
            "dynamically with compile(optimizer=<the inner optimizer>, precision='mixed_float16') (torch's "
            "GradScaler: skip non-finite steps, halve the scale, double it after 2000 finite ones). "
            "LossScaleOptimizer is for apply()/apply_gradients() by hand."
        )

    def build(self, var_list: Sequence[Any]) -> None:
        """Build the inner optimizer on these variables (Keras's ``build``).

        Args:
            var_list: the tensors (or ``(name, tensor)`` pairs) to optimise.
        """
        self.inner_optimizer.ensure_built(var_list)

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Any] | None = None) -> None:
        """Unscale and step if every gradient is finite (then maybe double the scale); else skip
        the step and halve the scale, as Keras.

        Args:
            grads: one gradient per variable (``None`` skips it).
            trainable_variables: the variables (left out: those ``build`` was given).
        """
        given = [torch.as_tensor(g) for g in grads if g is not None]
        finite = all(bool(torch.isfinite(g).all()) for g in given)  # one host read per call
        if not finite:
            self.step_counter, self.dynamic_scale = 0, self.dynamic_scale * 0.5
            return
        unscaled = [g if g is None else torch.as_tensor(g) / self.dynamic_scale for g in grads]
        self.inner_optimizer.apply(unscaled, trainable_variables)
        if self.step_counter == self.dynamic_growth_steps - 1:
            self.step_counter, self.dynamic_scale = 0, self.dynamic_scale * 2.0
        else:
            self.step_counter += 1

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Any]]) -> None:
        """``apply`` with ``(gradient, variable)`` pairs.

        Args:
            grads_and_vars: the pairs.
        """
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def scale_loss(self, loss: Any) -> Any:
        """The loss times the current scale.

        Args:
            loss: a number or tensor.
        """
        return loss * self.dynamic_scale

    @property
    def iterations(self) -> int:
        """The inner optimizer's steps (skipped ones are not counted)."""
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self) -> Any:
        """The inner optimizer's learning rate."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def variables(self) -> list[torch.Tensor]:
        """The step counter and the scale, then the inner optimizer's variables (Keras's order)."""
        own = [torch.tensor(self.step_counter), torch.tensor(self.dynamic_scale, dtype=torch.float32)]
        return own + self.inner_optimizer.variables

    def finalize_variable_values(self, var_list: Iterable[torch.Tensor] | None = None) -> None:
        """The inner optimizer's ``finalize_variable_values`` (its moving average, if any).

        Args:
            var_list: as Keras's signature.
        """
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self) -> dict[str, Any]:
        """Keras's four keys: ``name``, ``inner_optimizer`` (as ``{"class_name", "config"}``),
        ``initial_scale``, ``dynamic_growth_steps``."""
        inner = {"class_name": type(self.inner_optimizer).__name__,
                 "config": self.inner_optimizer.get_config()}
        return {"name": self.name, "inner_optimizer": inner, "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LossScaleOptimizer:
        """Rebuild from ``get_config()`` (or a Keras config, whose inner optimizer carries
        ``module``/``registered_name`` keys too).

        Args:
            config: the dict.
        """
        from kerasish.optimizers.resolve import get

        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = get({"class_name": inner["class_name"], "config": inner.get("config") or {}})
        return cls(inner, **config)

    def __repr__(self) -> str:
        return (f"ks.optimizers.LossScaleOptimizer({self.inner_optimizer!r}, "
                f"initial_scale={self.initial_scale!r})")
