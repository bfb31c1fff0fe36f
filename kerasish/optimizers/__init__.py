"""Optimizers with Keras 3's names, arguments and update rules, resolved to torch optimizers.

Keras and torch disagree on several defaults (Adam's epsilon is 1e-7 in Keras and 1e-8 in torch,
Adadelta's learning rate is 0.001 in Keras and 1.0 in torch, ...). Code ported from Keras must
train the same way, so a Keras name gets Keras's numbers.

A named Adam or AdamW also gets torch's fused kernel where the parameters allow it: the same
update in one kernel instead of a loop over parameters, equal to the looped update up to float
rounding, where torch's default Adam loops over the parameters (what that saves is measured in
``benchmarks/step_variants.py``; figures in ``benchmarks/RESULTS.md``). A user's own optimizer
instance, class or factory is used exactly as given.

``ks.optimizers.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``, ``Adadelta``, ``Adamax`` and
``Nadam`` take Keras's constructor arguments and follow Keras's update rules, which differ from
torch's in places: Keras puts RMSprop's and Adagrad's epsilon inside the square root, scales
Adam's epsilon by the bias correction, applies weight decay decoupled (``w -= lr * wd * w``) in
every optimizer, and folds the learning rate into SGD's momentum. Where torch's rule is Keras's
(Adadelta, Nadam with ``momentum_decay=1``, Adam with a per-step epsilon) the torch optimizer is
used, fused when it can be; elsewhere a small foreach implementation of Keras's rule is. They
are factories: ``compile`` calls them with the module's parameters. ``learning_rate`` may be a
``ks.optimizers.schedules`` object, stepped once per optimizer step from a Python counter.

``compile(optimizer=keras.optimizers.Adam(...))`` builds the same thing from a Keras optimizer's
settings, or refuses with the ``ks`` class to use.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypedDict

import torch
from typing_extensions import Unpack

from kerasish._keras_interop import keras_for, require_torch_backend
from kerasish.checks import check_number
from kerasish.optimizers import schedules
from kerasish.optimizers.schedules import LearningRateSchedule

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
    # Keras's Nadam decays its momentum with 0.96 ** step: torch's momentum_decay=1.0 (torch's own
    # default, 0.004, is a much slower schedule).
    "nadam": (torch.optim.NAdam, {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "momentum_decay": 1.0}),
}

KNOWN_OPTIMIZERS = tuple(sorted(_KERAS_DEFAULTS))

# Named optimizers whose fused kernel runs on CPU and CUDA for floating-point parameters.
_FUSED = frozenset({"adam", "adamw"})
_FUSED_DEVICES = frozenset({"cpu", "cuda"})



class KerasOptimizerLike(Protocol):
    """What kerasish reads of a ``keras.optimizers.Optimizer`` (Keras is not a dependency): its
    settings, from which ``from_keras`` builds the ``ks.optimizers`` equivalent."""

    def get_config(self) -> dict[str, Any]:
        """The optimizer's constructor arguments, as Keras returns them."""
        ...


# A name, a torch optimizer, a class or factory params -> optimizer (a ks.optimizers object is
# such a factory), or a Keras optimizer.
OptimizerSpec = str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] | KerasOptimizerLike


def get_optimizer(spec: OptimizerSpec, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """Return a torch optimizer for a Keras name, a ``ks.optimizers`` or Keras optimizer, an
    optimizer instance, or a class/factory.

    Args:
        spec: a name (``KNOWN_OPTIMIZERS``, Keras's defaults), a ``ks.optimizers`` object, a
            ``keras.optimizers.Optimizer`` object, a torch optimizer (used as is), or a class or
            function called with the parameters.
        parameters: the parameters to optimise.

    Returns:
        The torch optimizer.

    Raises:
        ValueError: an unknown name.
        TypeError: anything else, or a Keras optimizer kerasish cannot reproduce.

    Example:
        optimizer = get_optimizer(ks.optimizers.Adam(learning_rate=3e-4), module.parameters())
    """
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if isinstance(spec, Optimizer):
        return spec.build(parameters)
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
    keras = keras_for(spec)
    if keras is not None:
        return from_keras(spec).build(parameters)
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
    """A short name for logs and configs: the torch optimizer's class name.

    Args:
        optimizer: a torch optimizer (what ``compile`` built or was given).

    Returns:
        The class name, e.g. ``"Adam"`` for ``compile("adam")``, ``"KerasRMSprop"`` for
        ``ks.optimizers.RMSprop()``.

    Example:
        >>> describe_optimizer(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
        'SGD'
    """
    return type(optimizer).__name__


# ---------------------------------------------------------------- Keras's update rules in torch


def _with_grads(group: dict[str, Any]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    params = [p for p in group["params"] if p.grad is not None]
    return params, [p.grad for p in params]


class _KerasRule(torch.optim.Optimizer):
    """The step shared by the Keras rules below: each param group's parameters that have a
    gradient go to ``_update`` together, for foreach ops over the whole group."""

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
            params, grads = _with_grads(group)
            if params:
                self._update(group, params, grads)
        return loss

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        raise NotImplementedError


def _states(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], key: str,
            fill: float = 0.0) -> list[torch.Tensor]:
    """One state tensor per parameter (created at the first step, like Keras's slot variables)."""
    out = []
    for p in params:
        state = optimizer.state[p]
        if key not in state:
            state[key] = torch.full_like(p, fill, memory_format=torch.preserve_format)
        out.append(state[key])
    return out


class KerasSGD(_KerasRule):
    """SGD with Keras's momentum: ``m = momentum * m - lr * g``; ``w += m`` (Nesterov:
    ``w += momentum * m - lr * g``).

    With a constant learning rate this equals torch's SGD; with a schedule it does not, because
    Keras's momentum carries past learning rates and torch multiplies the whole buffer by the
    current one. Built by ``ks.optimizers.SGD``.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        momentum: in [0, 1].
        nesterov: Nesterov momentum.

    Example:
        optimizer = KerasSGD(module.parameters(), lr=0.01, momentum=0.9)
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        if momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        buffers = _states(self, params, "momentum")
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_add_(buffers, grads, alpha=-lr)
        if group["nesterov"]:
            torch._foreach_add_(params, buffers, alpha=momentum)
            torch._foreach_add_(params, grads, alpha=-lr)
        else:
            torch._foreach_add_(params, buffers)


class KerasRMSprop(_KerasRule):
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

    def __init__(self, params: Iterable[Any], lr: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 eps: float = 1e-7, centered: bool = False):
        super().__init__(params, {"lr": lr, "rho": rho, "momentum": momentum, "eps": eps,
                                  "centered": centered})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        velocity = _states(self, params, "velocity")
        torch._foreach_mul_(velocity, rho)
        torch._foreach_addcmul_(velocity, grads, grads, value=1 - rho)
        if group["centered"]:
            average = _states(self, params, "average_gradient")
            torch._foreach_mul_(average, rho)
            torch._foreach_add_(average, grads, alpha=1 - rho)
            denominator = torch._foreach_addcmul(velocity, average, average, value=-1)
            torch._foreach_add_(denominator, eps)
        else:
            denominator = torch._foreach_add(velocity, eps)
        torch._foreach_sqrt_(denominator)
        if group["momentum"] > 0:
            buffers = _states(self, params, "momentum")
            torch._foreach_mul_(buffers, group["momentum"])
            torch._foreach_addcdiv_(buffers, grads, denominator, value=lr)
            torch._foreach_sub_(params, buffers)
        else:
            torch._foreach_addcdiv_(params, grads, denominator, value=-lr)


class KerasAdagrad(_KerasRule):
    """Adagrad with Keras's rule: ``acc += g**2``; ``w -= lr * g / sqrt(acc + eps)``.

    Built by ``ks.optimizers.Adagrad``; torch's Adagrad adds epsilon after the root.

    Args:
        params: parameters or param groups.
        lr: the learning rate.
        initial_accumulator_value: the accumulator's starting value.
        eps: added under the root.

    Example:
        optimizer = KerasAdagrad(module.parameters(), lr=1e-3)
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.001, initial_accumulator_value: float = 0.1,
                 eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        accumulators = _states(self, params, "accumulator", group["initial_accumulator_value"])
        torch._foreach_addcmul_(accumulators, grads, grads)
        denominator = torch._foreach_add(accumulators, group["eps"])
        torch._foreach_sqrt_(denominator)
        torch._foreach_addcdiv_(params, grads, denominator, value=-group["lr"])


class KerasAdamax(_KerasRule):
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

    def __init__(self, params: Iterable[Any], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "step": 0})

    def _update(self, group: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        group["step"] += 1  # a Python count: no device read for the bias correction
        beta_1, beta_2 = group["betas"]
        momentum, norm = _states(self, params, "momentum"), _states(self, params, "norm")
        torch._foreach_lerp_(momentum, grads, 1 - beta_1)
        torch._foreach_mul_(norm, beta_2)
        torch._foreach_maximum_(norm, torch._foreach_abs(grads))
        denominator = torch._foreach_add(norm, group["eps"])
        torch._foreach_addcdiv_(params, momentum, denominator,
                                value=-group["lr"] / (1 - beta_1 ** group["step"]))


# ---------------------------------------------------------------- the Keras parts around a step


class _KerasStep:
    """What a Keras optimizer does around its update rule, as torch step hooks.

    Before each step: clip the gradients (Keras's ``clipnorm`` per weight, ``global_clipnorm``,
    ``clipvalue``), apply decoupled weight decay ``w -= lr * wd * w`` where the torch class does
    not, and for Adam set torch's epsilon to Keras's ``epsilon / sqrt(1 - beta_2**t)``. After each
    step: count it in every param group's ``"iterations"`` and set ``"lr"`` from the schedule.
    Everything is Python arithmetic or device ops: no host read. The counter lives in the param
    groups, so it round-trips through ``optimizer.state_dict()``.
    """

    def __init__(self, config: Optimizer, decay_in_hook: bool, adam_epsilon: tuple[float, float] | None):
        rate = config.learning_rate
        self.schedule = rate if isinstance(rate, LearningRateSchedule) else None
        self.clipnorm = config.clipnorm
        self.global_clipnorm = config.global_clipnorm
        self.clipvalue = config.clipvalue
        self.weight_decay = config.weight_decay if decay_in_hook else None
        self.adam_epsilon = adam_epsilon

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        for group in optimizer.param_groups:
            group.setdefault("iterations", 0)
        optimizer.register_step_pre_hook(self.before_step)
        optimizer.register_step_post_hook(self.after_step)

    @torch.compiler.disable  # Python bookkeeping: keep it out of a compiled optimizer step
    @torch.no_grad()
    def before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
            # An fp16 GradScaler hands a fused optimizer scaled gradients and the scale as
            # ``optimizer.grad_scale`` (unscaling happens in the kernel): clip at the scaled limit.
            self._clip(grads, getattr(optimizer, "grad_scale", None))
        for group in optimizer.param_groups:
            if self.weight_decay:
                params, _ = _with_grads(group)
                if params:
                    torch._foreach_mul_(params, 1.0 - float(group["lr"]) * self.weight_decay)
            if self.adam_epsilon is not None:
                epsilon, beta_2 = self.adam_epsilon
                group["eps"] = epsilon / math.sqrt(1.0 - beta_2 ** (group.get("iterations", 0) + 1))

    @torch.compiler.disable
    def after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for group in optimizer.param_groups:
            group["iterations"] = group.get("iterations", 0) + 1
            if self.schedule is not None:
                _set_lr(group, self.schedule.lr_at(group["iterations"]))

    def _clip(self, grads: list[torch.Tensor], scale: torch.Tensor | None) -> None:
        if not grads:
            return
        if self.clipvalue:
            if scale is None:
                torch._foreach_clamp_min_(grads, -self.clipvalue)
                torch._foreach_clamp_max_(grads, self.clipvalue)
            else:
                bound = scale * self.clipvalue
                for grad in grads:
                    grad.clamp_(min=-bound.to(grad.device), max=bound.to(grad.device))
            return
        norms: Sequence[torch.Tensor] = torch._foreach_norm(grads)
        limit_value = self.clipnorm or self.global_clipnorm
        # before_step calls _clip only when clipnorm, global_clipnorm or clipvalue is set, and a
        # clipvalue returned above: one of the two norms is set here.
        assert limit_value is not None
        limit: float | torch.Tensor = limit_value if scale is None else scale * limit_value
        if self.global_clipnorm:
            total = torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms]))
            norms = [total.to(n.device) for n in norms]
        # Keras: g * limit / max(norm, limit); the factors stay on the device.
        if isinstance(limit, torch.Tensor):
            factors = [(limit.to(n.device) / n.clamp_min(limit.to(n.device))) for n in norms]
        else:
            factors = [limit / n.clamp_min(limit) for n in norms]
        torch._foreach_mul_(grads, factors)


def _set_lr(group: dict[str, Any], value: float) -> None:
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].fill_(value)
    else:
        group["lr"] = value


# ---------------------------------------------------------------- Keras's constructors


class Optimizer:
    """Base of ``ks.optimizers`` classes: Keras's arguments now, a torch optimizer at ``compile``.

    An object of a subclass is a factory: ``compile(optimizer=ks.optimizers.Adam(...))`` calls
    ``build(parameters)`` once with the module's parameters (``obj(parameters)`` does the same).
    Keras's common arguments work as in Keras; the ones kerasish does elsewhere are refused with
    the way to get them.

    Args:
        learning_rate: a float, or a ``ks.optimizers.schedules`` schedule (a Keras schedule object
            is translated), stepped once per optimizer step.
        weight_decay: decoupled weight decay, ``w -= lr * weight_decay * w`` before each update.
        clipnorm: clip each weight's gradient to this norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this norm.
        use_ema: refused (keep an average with ``torch.optim.swa_utils.AveragedModel``).
        ema_momentum: accepted for Keras compatibility (only used with ``use_ema``).
        ema_overwrite_frequency: accepted for Keras compatibility (only used with ``use_ema``).
        loss_scale_factor: refused: use ``compile(precision="mixed_float16")``.
        gradient_accumulation_steps: refused here: use ``compile(gradient_accumulation_steps=n)``.
        name: a name, as Keras.

    Example:
        model.compile(ks.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.01, clipnorm=1.0), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule, *, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: int | None = None, loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None, name: str | None = None, **kwargs: Any):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored (as in Keras 3); "
                          "use a ks.optimizers.schedules schedule as learning_rate.", stacklevel=2)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}. {type(self).__name__} takes Keras's "
                             "arguments; see help(ks.optimizers." f"{type(self).__name__}).")
        self.learning_rate = _check_learning_rate(learning_rate)
        for argument, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm),
                                ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            check_number(value, argument, low=0.0, allow_none=True, open_low=argument != "weight_decay")
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of clipnorm, clipvalue and global_clipnorm can be set (as in Keras); got "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}."
            )
        if use_ema:
            raise ValueError("use_ema=True is not supported by kerasish optimizers; keep a moving average "
                             "of the weights with torch.optim.swa_utils.AveragedModel in a callback.")
        if loss_scale_factor is not None:
            raise ValueError("loss_scale_factor is not supported; compile(precision='mixed_float16') "
                             "scales the loss (and unscales the gradients) for you.")
        if gradient_accumulation_steps is not None:
            raise ValueError("gradient_accumulation_steps belongs to compile() in kerasish: "
                             f"compile(..., gradient_accumulation_steps={gradient_accumulation_steps!r}).")
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        # Kept only so that get_config() gives back what Keras's would (use_ema=True is refused).
        self.ema_momentum, self.ema_overwrite_frequency = ema_momentum, ema_overwrite_frequency
        self.name = name or type(self).__name__.lower()

    @property
    def _clips(self) -> bool:
        return bool(self.clipnorm or self.clipvalue or self.global_clipnorm)

    def _initial_lr(self) -> float:
        if isinstance(self.learning_rate, LearningRateSchedule):
            return float(self.learning_rate.lr_at(0))
        return float(self.learning_rate)

    def _torch_optimizer(self, parameters: list[Any], lr: float) -> tuple[torch.optim.Optimizer, bool]:
        """Subclasses: the torch optimizer with Keras's rule, and whether the hook applies weight decay."""
        raise NotImplementedError

    def _adam_epsilon(self) -> tuple[float, float] | None:
        return None

    def build(self, parameters: Iterable[Any]) -> torch.optim.Optimizer:
        """The torch optimizer for these parameters (a new one at each call).

        Args:
            parameters: parameters or param-group dicts.

        Returns:
            A torch optimizer whose param groups carry ``"iterations"`` (steps taken), with the
            attribute ``learning_rate_schedule`` (the schedule, or ``None``).
        """
        optimizer, decay_in_hook = self._torch_optimizer(list(parameters), self._initial_lr())
        _KerasStep(self, decay_in_hook, self._adam_epsilon()).attach(optimizer)
        # Read by whoever sets the learning rate by hand (Keras refuses that under a schedule).
        # A kerasish attribute on torch's Optimizer (documented above and in docs/reference.md).
        optimizer.learning_rate_schedule = (  # type: ignore[attr-defined]
            self.learning_rate if isinstance(self.learning_rate, LearningRateSchedule) else None)
        if isinstance(self.learning_rate, LearningRateSchedule) or self._adam_epsilon() is not None:
            # A Python hyper-parameter that changes every step (the scheduled lr, Adam's corrected
            # epsilon) would make torch.compile (jit_compile=True) recompile the step each time until
            # its recompile limit; run this optimizer's step eagerly instead.
            # A bound method still, as torch's LR schedulers expect (they wrap ``step.__func__``).
            # Deliberately replaces this instance's step: mypy forbids assigning to a method.
            optimizer.step = types.MethodType(  # type: ignore[method-assign]
                torch.compiler.disable(type(optimizer).step), optimizer)
        return optimizer

    __call__ = build

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (a schedule as its own config), as Keras's ``get_config``."""
        config = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        if isinstance(self.learning_rate, LearningRateSchedule):
            config["learning_rate"] = {"class_name": type(self.learning_rate).__name__,
                                       "config": self.learning_rate.get_config()}
        return config

    def __repr__(self) -> str:
        return f"ks.optimizers.{type(self).__name__}(learning_rate={self.learning_rate!r})"


def _check_learning_rate(value: Any) -> float | LearningRateSchedule:
    if isinstance(value, LearningRateSchedule):
        return value
    if keras_for(value) is not None:
        return schedules.from_keras(value)
    if callable(value):
        raise TypeError(
            "learning_rate must be a float or a ks.optimizers.schedules schedule; a plain callable "
            f"({value!r}) would be called every step. Subclass ks.optimizers.schedules."
            "LearningRateSchedule and implement lr_at(step) instead."
        )
    check_number(value, "learning_rate", low=0.0)
    return float(value)


class _ArgumentsBesidesDecay(TypedDict, total=False):
    """``KerasArguments`` less ``weight_decay``, which AdamW takes as its own (with a default)."""

    clipnorm: float | None
    clipvalue: float | None
    global_clipnorm: float | None
    use_ema: bool
    ema_momentum: float
    ema_overwrite_frequency: int | None
    loss_scale_factor: float | None
    gradient_accumulation_steps: int | None
    name: str | None


class KerasArguments(_ArgumentsBesidesDecay, total=False):
    """The arguments every Keras optimizer takes besides its own, by keyword (``ks.optimizers.Optimizer``
    documents each). Declared once so that each optimizer's signature lists only what is its own."""

    weight_decay: float | None


class SGD(Optimizer):
    """Keras's SGD: ``learning_rate=0.01``, ``momentum``, ``nesterov``; Keras's momentum rule.

    Args:
        learning_rate: a float or a schedule.
        momentum: in [0, 1].
        nesterov: Nesterov momentum.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.01, momentum: float = 0.0,
                 nesterov: bool = False,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(momentum, "momentum", low=0.0, high=1.0)
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def _torch_optimizer(self, parameters, lr):
        return KerasSGD(parameters, lr=lr, momentum=self.momentum, nesterov=self.nesterov), True


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
    parameters allow it and no clipping is asked for.

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
        if _fusable(parameters):  # the fused kernel, as for the name "adam" (clipping is scale-aware)
            kwargs["fused"] = True
        if self.weight_decay:
            return torch.optim.AdamW(parameters, weight_decay=self.weight_decay, **kwargs), False
        return torch.optim.Adam(parameters, **kwargs), False

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
                 **common: Unpack[_ArgumentsBesidesDecay]):
        if weight_decay is None:
            raise ValueError("AdamW needs weight_decay as a float (Keras refuses None too); use "
                             "ks.optimizers.Adam for no weight decay.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **common)


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


class Adagrad(Optimizer):
    """Keras's Adagrad (``initial_accumulator_value=0.1``, epsilon inside the root).

    Args:
        learning_rate: a float or a schedule.
        initial_accumulator_value: the accumulator's starting value.
        epsilon: added under the root.
        **common: Keras's shared arguments (``weight_decay``, ``clipnorm``, ...), see ``Optimizer``.

    Example:
        model.compile(ks.optimizers.Adagrad(learning_rate=0.01), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 **common: Unpack[KerasArguments]):
        super().__init__(learning_rate, **common)
        check_number(initial_accumulator_value, "initial_accumulator_value", low=0.0)
        check_number(epsilon, "epsilon", low=0.0)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _torch_optimizer(self, parameters, lr):
        return KerasAdagrad(parameters, lr=lr, initial_accumulator_value=self.initial_accumulator_value,
                            eps=self.epsilon), True


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
        return torch.optim.Adadelta(parameters, lr=lr, rho=self.rho, eps=self.epsilon), True


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
        return torch.optim.NAdam(parameters, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                                 momentum_decay=1.0), True


KERAS_OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam)
}


def from_keras(optimizer: Any) -> Optimizer:
    """The ``ks.optimizers`` object with a Keras optimizer's settings (class, learning rate or
    schedule, betas, epsilon, weight decay, momentum, clipping, ...).

    The Keras optimizer's own state (moments, ``iterations``) is not carried over: training starts
    from a fresh optimizer, as compiling a new Keras model would.

    Args:
        optimizer: a ``keras.optimizers.Optimizer`` object of one of Keras's classes.

    Returns:
        The ``ks.optimizers`` factory; ``compile`` builds the torch optimizer from it.

    Raises:
        TypeError: a class, a subclass of your own, a Keras optimizer without a ``ks`` equivalent
            (Ftrl, Lion, ...), a learning rate kerasish cannot step without a host read, or a
            Keras backend other than torch.

    Example:
        model.compile(keras.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0), "mse")
    """
    keras = keras_for(optimizer)
    supported = ", ".join(f"ks.optimizers.{n}" for n in KERAS_OPTIMIZERS)
    if keras is None:
        raise TypeError(f"from_keras takes a keras.optimizers.Optimizer; got {type(optimizer).__name__}.")
    if isinstance(optimizer, type):
        raise TypeError(
            f"optimizer is the Keras class {optimizer.__name__}; pass an instance "
            f"(keras.optimizers.{optimizer.__name__}()) or ks.optimizers.{optimizer.__name__}(...)."
        )
    name = type(optimizer).__name__
    ours = KERAS_OPTIMIZERS.get(name)
    public = getattr(keras.optimizers, name, None)
    # Keras's torch backend swaps in its own subclass (keras.src.backend.torch.optimizers....);
    # a user's subclass lives outside keras and may change the update rule.
    own = isinstance(public, type) and isinstance(optimizer, public) \
        and type(optimizer).__module__.startswith("keras.")
    if ours is None or not own:
        raise TypeError(
            f"optimizer is a Keras {name}, which kerasish cannot reproduce (only Keras's own classes "
            f"with a ks equivalent are translated). Use one of {supported}, or a torch optimizer."
        )
    require_torch_backend(keras, f"optimizer {name}", f"ks.optimizers.{name}")
    if getattr(optimizer, "_exclude_from_weight_decay", None) or \
            getattr(optimizer, "_exclude_from_weight_decay_pattern", None) is not None:
        raise TypeError(
            f"the Keras {name} excludes variables from weight decay, which kerasish cannot map onto torch "
            "parameters. Build a torch optimizer with param groups (weight_decay=0.0 for the excluded "
            "ones) and pass it to compile."
        )
    try:
        config = optimizer.get_config()
    except Exception as error:  # e.g. a lambda learning rate, which Keras cannot serialise
        raise TypeError(
            f"the Keras {name}'s settings cannot be read ({type(error).__name__}: {error}). A callable "
            "learning_rate is something kerasish cannot step without reading the device every step: "
            "use a float or a ks.optimizers.schedules schedule."
        ) from error
    learning_rate = config["learning_rate"]
    if isinstance(learning_rate, dict):  # a serialised schedule (or callable)
        schedule = keras.optimizers.schedules.deserialize(learning_rate)
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise TypeError(
                f"the Keras {name}'s learning_rate is {schedule!r}, which kerasish cannot step without "
                "reading the device every step. Use a float or a ks.optimizers.schedules schedule."
            )
        config["learning_rate"] = schedules.from_keras(schedule)
    try:
        return ours(**config)
    except ValueError as error:
        raise TypeError(f"the Keras {name} cannot be reproduced: {error}") from error
