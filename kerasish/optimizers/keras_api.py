"""Keras's optimizer API on a ``ks.optimizers`` class: ``apply_gradients``, ``apply``,
``iterations``, ``exclude_from_weight_decay``, ``from_config``.

``compile`` uses an optimizer object as a factory (``build(parameters)``); code ported from Keras
calls the object itself with gradients. The first ``apply`` builds the torch optimizer on the
variables given and keeps it (``optimizer.torch_optimizer``); later calls step the same one, so
moments and the step count carry on as Keras's slot variables do. Nothing is read from the device.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from kerasish.optimizers.moving_average import finalize_variable_values, moving_averages


class KerasApply:
    """Keras's ``apply_gradients`` family, mixed into ``ks.optimizers.Optimizer``."""

    _applied: torch.optim.Optimizer | None = None
    _excluded_ids: frozenset[int] = frozenset()
    _excluded_pattern: str | None = None

    _accumulated: dict[int, torch.Tensor] | None = None
    _calls: int = 0
    _built_on: list[torch.Tensor] = []
    gradient_accumulation_steps: int | None = None
    loss_scale_factor: float | None = None
    learning_rate: Any

    def _build(self, parameters: Iterable[Any]) -> torch.optim.Optimizer:  # Optimizer's
        raise NotImplementedError

    def ensure_built(self, variables: Iterable[Any], rebuild: bool = False) -> torch.optim.Optimizer:
        """The torch optimizer ``apply`` steps, built on ``variables`` unless built already
        (Keras's ``build``, without the checks ``compile``'s ``build`` makes).

        Args:
            variables: tensors, ``(name, tensor)`` pairs or param groups.
            rebuild: build a new one even if one was built.

        Returns:
            The torch optimizer.
        """
        if self._applied is None or rebuild:
            listed = list(variables)
            self._applied = self._build(listed)
            self._built_on = [p[1] if isinstance(p, tuple) else p for item in listed
                              for p in (item["params"] if isinstance(item, dict) else [item])]
            self._accumulated, self._calls = None, 0
        return self._applied

    def exclude_from_weight_decay(self, var_list: Sequence[torch.Tensor] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Leave these parameters out of weight decay, as Keras (call before the first build).

        Args:
            var_list: parameters to exclude (by identity).
            var_names: a parameter is excluded when one of these strings occurs in its name
                (a Keras variable's name, the end of its path; a torch parameter's qualified
                name); ``compile`` gives the names, ``build``/``apply`` know them when given
                ``(name, parameter)`` pairs, as ``module.named_parameters()`` gives.
        """
        if self._applied is not None:
            raise ValueError("exclude_from_weight_decay() can only be configured before the optimizer "
                             "is built (before the first apply/apply_gradients), as in Keras.")
        if var_list:
            self._excluded_ids = frozenset(id(v) for v in var_list)
        if var_names:
            self._excluded_pattern = "|".join(re.escape(str(n)) for n in var_names)

    def _decays(self, name: str | None, parameter: torch.Tensor) -> bool:
        """Whether weight decay applies to this parameter (Keras's ``_use_weight_decay``)."""
        if id(parameter) in self._excluded_ids:
            return False
        pattern = self._excluded_pattern
        if pattern is None or name is None:
            return True
        # Keras matches a variable's name, the last part of its path ("dense/kernel"): a Keras
        # model's parameters come with their paths; a torch parameter's name is matched whole.
        return not re.search(pattern, name.rsplit("/", 1)[-1])

    def _split_excluded(self, parameters: list[Any]) -> list[Any]:
        """The parameters as param groups, those excluded from weight decay in groups marked
        ``"exclude_from_weight_decay": True`` (torch's own decay set to 0 there)."""
        if not self._excluded_ids and self._excluded_pattern is None:
            return [p[1] if isinstance(p, tuple) else p for p in parameters]
        groups = [item for item in parameters if isinstance(item, dict)]
        loose = [item for item in parameters if not isinstance(item, dict)]
        if loose:
            groups.insert(0, {"params": loose})
        out = []
        for group in groups:
            pairs = [p if isinstance(p, tuple) else (None, p) for p in group["params"]]
            kept = [p for n, p in pairs if self._decays(n, p)]
            excluded = [p for n, p in pairs if not self._decays(n, p)]
            if kept:
                out.append({**group, "params": kept})
            if excluded:
                out.append({**group, "params": excluded, "exclude_from_weight_decay": True,
                            "weight_decay": 0.0})
        return out

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Any]]) -> None:
        """One update of the variables with these gradients (Keras's ``apply_gradients``).

        Args:
            grads_and_vars: ``(gradient, variable)`` pairs; variables are tensors with
                ``requires_grad`` (e.g. ``torch.nn.Parameter``).
        """
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads: Sequence[Any],
              trainable_variables: Sequence[torch.Tensor | tuple[str, torch.Tensor]] | None = None) -> None:
        """One update with ``grads[i]`` for ``trainable_variables[i]`` (Keras's ``apply``).

        The first call builds the torch optimizer on these variables; a later call with a new
        variable adds it (in a param group of its own, at the same step count). A variable may
        be a ``(name, tensor)`` pair, as ``named_parameters()`` gives, for ``var_names`` in
        ``exclude_from_weight_decay`` (torch tensors have no names of their own).

        Args:
            grads: one gradient per tensor, in order (``None`` skips that tensor, with a warning).
            trainable_variables: the tensors to update in place, or ``(name, tensor)`` pairs; left
                out, the ones ``build`` was given.

        With ``loss_scale_factor`` the gradients are divided by it first; with ``use_ema`` the
        moving average is updated at every call (accumulating ones too, as Keras).
        """
        trainable_variables = variables_to_apply(trainable_variables, self._applied is not None,
                                                 self._built_on)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"apply() got {len(grads)} gradients for {len(trainable_variables)} "
                             "variables; give one gradient per variable.")
        named = [v if isinstance(v, tuple) else (None, v) for v in trainable_variables]
        kept = [i for i, g in enumerate(grads) if g is not None]
        if not kept:
            raise ValueError("No gradients provided for any variable (every gradient is None).")
        if len(kept) < len(grads):  # as Keras: skip the variables without a gradient, and say so
            missing = [named[i][0] or f"variable {i}" for i in range(len(grads)) if grads[i] is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when applying them; "
                          "those variables are left unchanged.", stacklevel=2)
            grads, named = [grads[i] for i in kept], [named[i] for i in kept]
        tensors = [v for _, v in named]
        optimizer = self.ensure_built([v if n is None else (n, v) for n, v in named])
        known = {id(p) for g in optimizer.param_groups for p in g["params"]}
        new = [v if n is None else (n, v) for n, v in named if id(v) not in known]
        if new:
            for group in self._split_excluded(new):
                group = group if isinstance(group, dict) else {"params": [group]}
                optimizer.add_param_group({**group, "iterations": self.iterations})
            self._built_on = [*self._built_on, *(v for _, v in named if id(v) not in known)]
        if self.loss_scale_factor is not None:
            grads = [torch.as_tensor(g) / self.loss_scale_factor for g in grads]
        update = self._accumulate(grads, tensors)
        if update is None:
            average = getattr(optimizer, "moving_average", None)
            if average is not None:
                average.after_step(optimizer)
            return
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = None
        with torch.no_grad():
            for grad, variable in zip(update, tensors):
                variable.grad = torch.as_tensor(grad, dtype=variable.dtype, device=variable.device).clone()
        optimizer.step()
        for variable in tensors:
            variable.grad = None

    def _accumulate(self, grads: Sequence[Any], tensors: list[torch.Tensor]) -> list[Any] | None:
        """Keras's gradient accumulation: the mean of the last ``gradient_accumulation_steps``
        calls' gradients at every n-th call, ``None`` (no update) at the others. A Python count
        decides; the sums stay on the device."""
        steps = self.gradient_accumulation_steps
        if not steps:
            return list(grads)
        if self._accumulated is None:
            self._accumulated = {}
        self._calls += 1
        sums = [self._accumulated.setdefault(id(v), torch.zeros_like(v)) for v in tensors]
        given = [torch.as_tensor(g, dtype=v.dtype, device=v.device) for g, v in zip(grads, tensors)]
        if self._calls % steps:
            torch._foreach_add_(sums, given)
            return None
        mean = [(g + s) / steps for g, s in zip(given, sums)]
        torch._foreach_zero_(sums)
        return mean

    @property
    def torch_optimizer(self) -> torch.optim.Optimizer | None:
        """The torch optimizer the first ``apply`` built (``None`` before it)."""
        return self._applied

    @property
    def iterations(self) -> int:
        """The optimizer steps taken through ``apply`` (Keras's ``optimizer.iterations``)."""
        if self._applied is None:
            return 0
        return int(self._applied.param_groups[0].get("iterations", 0))

    @property
    def variables(self) -> list[torch.Tensor]:
        """Keras's optimizer variables: ``iterations``, the learning rate (unless a schedule or a
        function gives it), then each built-on weight's state tensors in the order ``build`` was
        given them (per weight, by state name: the moving average, moments, torch's ``"step"``).
        A weight's state appears at its first step (Keras creates it at ``build``)."""
        out = [torch.tensor(self.iterations)]
        if not callable(self.learning_rate):
            current = self._applied.param_groups[0]["lr"] if self._applied is not None else self.learning_rate
            out.append(torch.as_tensor(current, dtype=torch.float32))
        if self._applied is not None:
            for p in self._built_on:
                state = self._applied.state.get(p, {})
                out.extend(state[k] for k in sorted(state) if isinstance(state[k], torch.Tensor))
        return out

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set ``variables`` from a list of the same length and shapes (another optimizer's
        ``variables``), as Keras. A weight that has no state yet (no step taken) gets it first,
        by a step with zero gradients whose effect on the weights is undone.

        Args:
            weights: tensors or arrays, in ``variables``' order.

        Raises:
            ValueError: before ``build``, or another number or shape of weights (nothing changed).
        """
        optimizer = self._applied
        if optimizer is None:
            raise ValueError("You are calling `set_weights()` on an optimizer that has not yet been built. "
                             "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                             "weights before calling `set_weights()`.")
        created = _create_state(optimizer, self._built_on)
        mine = self.variables
        problem = None if len(mine) == len(weights) else \
            f"set_weights got {len(weights)} weights for this optimizer's {len(mine)} variables"
        for i, (variable, weight) in enumerate(zip(mine, weights)):
            if problem is None and tuple(variable.shape) != tuple(torch.as_tensor(weight).shape):
                problem = (f"Optimizer variable {i} has shape {tuple(variable.shape)} not compatible with "
                           f"provided weight shape {tuple(torch.as_tensor(weight).shape)}")
        if problem is not None:
            for p in created:
                optimizer.state.pop(p, None)
            raise ValueError(f"{problem}.")
        for group in optimizer.param_groups:
            group["iterations"] = int(torch.as_tensor(weights[0]))
            if not callable(self.learning_rate):
                group["lr"] = float(torch.as_tensor(weights[1]))
        with torch.no_grad():
            for variable, weight in zip(mine[1 if callable(self.learning_rate) else 2:],
                                        weights[1 if callable(self.learning_rate) else 2:]):
                variable.copy_(torch.as_tensor(weight))

    def scale_loss(self, loss: Any) -> Any:
        """The loss times ``loss_scale_factor`` (the loss itself without one), as Keras's ``scale_loss``.

        Args:
            loss: a number or tensor.
        """
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    @property
    def moving_averages(self) -> list[torch.Tensor | None]:
        """Under ``use_ema``, each built-on weight's moving average (``None`` before its first
        step): Keras's ``_model_variables_moving_average``."""
        return moving_averages(self._applied, self._built_on)

    def finalize_variable_values(self, var_list: Iterable[torch.Tensor] | None = None) -> None:
        """Under ``use_ema``, overwrite the weights with their moving averages (Keras's
        ``finalize_variable_values``); otherwise nothing.

        Args:
            var_list: accepted for Keras's signature; the weights are those the optimizer was built on.
        """
        finalize_variable_values(self._applied)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """The optimizer ``get_config()`` described (a schedule given as its config too).

        Args:
            config: what ``get_config()`` returned.
        """
        from kerasish.optimizers.schedules import KERAS_SCHEDULES

        config = dict(config)
        rate = config.get("learning_rate")
        if isinstance(rate, dict) and "class_name" in rate:
            config["learning_rate"] = KERAS_SCHEDULES[rate["class_name"]].from_config(rate["config"])
        return cls(**config)


def variables_to_apply(given: Any, built: bool, built_on: Any) -> Any:
    """What ``apply(grads)`` updates: the variables given, else the ones ``build`` was given; an
    optimizer never built has none, which Keras refuses with this message."""
    if given is not None:
        return given
    if not built:
        raise ValueError("When passing `grads` without `variables`, the optimizer must already be built "
                         "on a list of variables. Call `optimizer.build(trainable_variables)` first.")
    return built_on


def _create_state(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Give the parameters without state theirs (torch creates it lazily, at a first step): one
    step with zero gradients, then the weights, gradients, step counts and rates put back.
    Returns the parameters whose state was created."""
    empty = [p for p in params if not optimizer.state.get(p)]
    if not empty:
        return []
    kept = [(p, p.detach().clone(), p.grad) for p in params]
    settings = [(g.get("iterations", 0), g["lr"]) for g in optimizer.param_groups]
    for p in params:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    with torch.no_grad():
        for p, value, grad in kept:
            p.copy_(value)
            p.grad = grad
    for group, (iterations, lr) in zip(optimizer.param_groups, settings):
        group["iterations"], group["lr"] = iterations, lr
    return empty
