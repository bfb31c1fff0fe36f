"""The base of the ``ks.optimizers`` classes: Keras's arguments now, a torch optimizer at ``compile``.

``Optimizer`` checks the arguments every Keras optimizer shares (``KerasArguments``) and builds
the torch optimizer a subclass names; ``_KerasStep`` adds, as torch step hooks, what Keras does
around its update rule: gradient clipping, decoupled weight decay, Adam's per-step epsilon, the
step count and the learning-rate schedule.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict

import torch

from kerasish._keras_interop import keras_for
from kerasish.checks import check_number
from kerasish.optimizers.attributes import set_lr
from kerasish.optimizers.keras_api import KerasApply
from kerasish.optimizers.moving_average import MovingAverage
from kerasish.optimizers.rules import with_grads
from kerasish.optimizers.schedules import FunctionRate, LearningRateSchedule
from kerasish.optimizers.schedules import from_keras as schedule_from_keras


class Optimizer(KerasApply):
    """Base of ``ks.optimizers`` classes: Keras's arguments now, a torch optimizer at ``compile``.

    An object of a subclass is a factory: ``compile(optimizer=ks.optimizers.Adam(...))`` calls
    ``build(parameters)`` once with the module's parameters (``obj(parameters)`` does the same).
    Keras's common arguments work as in Keras; the ones kerasish does elsewhere are refused with
    the way to get them.

    Args:
        learning_rate: a float, a ``ks.optimizers.schedules`` schedule (a Keras schedule object
            is translated), stepped once per optimizer step, or a function of no arguments called
            before each step (as Keras calls it; a tensor it returns is read to the host).
        weight_decay: decoupled weight decay, ``w -= lr * weight_decay * w`` before each update.
        clipnorm: clip each weight's gradient to this norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this norm.
        use_ema: keep Keras's moving average of the weights in the optimizer's state (saved with
            ``state_dict()``); ``fit`` puts it into the weights before ``on_train_end``, as Keras.
        ema_momentum: the average's momentum, in [0, 1] (with ``use_ema``).
        ema_overwrite_frequency: overwrite the weights with their averages every this many steps
            (with ``use_ema``; ``None``: only at the end of ``fit``).
        loss_scale_factor: ``apply``/``apply_gradients`` divide the gradients by it and
            ``scale_loss`` multiplies a loss by it, as Keras; ``compile`` refuses it
            (``compile(precision="mixed_float16")`` scales the loss in ``fit``).
        gradient_accumulation_steps: average this many ``apply_gradients`` calls' gradients into one
            update, as Keras; for ``fit`` use ``compile(gradient_accumulation_steps=n)`` (``build``
            refuses it).
        name: a name, as Keras.

    Example:
        model.compile(ks.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.01, clipnorm=1.0), "mse")
    """

    def __init__(self, learning_rate: float | LearningRateSchedule | Callable[[], float], *,
                 weight_decay: float | None = None,
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
            _check_ema(ema_momentum, ema_overwrite_frequency)
        check_number(loss_scale_factor, "loss_scale_factor", low=0.0, open_low=True, allow_none=True)
        if gradient_accumulation_steps is not None and not (
                isinstance(gradient_accumulation_steps, int) and gradient_accumulation_steps >= 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps!r}.")
        # Honoured by apply()/apply_gradients(); for fit it belongs to compile() (build refuses it).
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = bool(use_ema)
        self.ema_momentum, self.ema_overwrite_frequency = ema_momentum, ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.name = name or auto_name(_snake_case(type(self).__name__))

    def _initial_lr(self) -> float:
        if isinstance(self.learning_rate, LearningRateSchedule):
            return float(self.learning_rate.lr_at(0))
        if callable(self.learning_rate):
            return float(self.learning_rate())
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
            A torch optimizer whose param groups carry ``"iterations"`` (steps taken) from the
            first step on, with the attribute ``learning_rate_schedule`` (the schedule, or
            ``None``) and, for the optimizers kerasish defines (``ks.optimizers.KerasSGD``, ...,
            torch's Adam, AdamW, NAdam and Adadelta with ``KerasAttributes``), Keras's
            ``optimizer.learning_rate``.
        """
        steps = self.gradient_accumulation_steps
        if steps:
            raise ValueError("gradient_accumulation_steps belongs to compile() in kerasish: "
                             f"compile(..., gradient_accumulation_steps={steps!r}) "
                             "(the optimizer's own is honoured by apply_gradients only).")
        if self.loss_scale_factor is not None:
            raise ValueError(f"loss_scale_factor={self.loss_scale_factor!r} is for apply_gradients; in fit, "
                             "compile(..., precision='mixed_float16') scales the loss (and unscales the "
                             "gradients) for you. Leave loss_scale_factor out of the optimizer given to "
                             "compile.")
        return self.ensure_built(parameters, rebuild=True)

    def _build(self, parameters: Iterable[Any]) -> torch.optim.Optimizer:
        """``build`` without the check of ``gradient_accumulation_steps`` (``apply`` accumulates)."""
        listed = _listed(parameters)
        if not listed:  # Keras builds on no variables; torch refuses an empty list, not an empty group
            listed = [{"params": []}]
        optimizer, decay_in_hook = self._torch_optimizer(self._split_excluded(listed),
                                                             self._initial_lr())
        rate = self.learning_rate
        eager = isinstance(rate, LearningRateSchedule) or callable(rate) or self._adam_epsilon() is not None
        average = MovingAverage(self.ema_momentum, self.ema_overwrite_frequency) if self.use_ema else None
        hooks = _KerasStep(self, decay_in_hook, self._adam_epsilon(), average)
        hooks.attach(optimizer, inside_eager_step=eager)
        # Read by whoever sets the learning rate by hand (Keras refuses that under a schedule; a
        # function given as the rate is one too). Kerasish attributes on torch's Optimizer
        # (documented above and in docs/reference.md); ``moving_average`` is read at fit's end.
        optimizer.learning_rate_schedule = (  # type: ignore[attr-defined]
            rate if isinstance(rate, LearningRateSchedule)
            else FunctionRate(rate) if callable(rate) else None)
        optimizer.moving_average = average  # type: ignore[attr-defined]
        if eager:
            # A Python hyper-parameter that changes every step (the scheduled lr, Adam's corrected
            # epsilon) would make torch.compile (jit_compile=True) recompile the step each time until
            # its recompile limit; run this optimizer's step eagerly instead.
            # A bound method still, as torch's LR schedulers expect (they wrap ``step.__func__``).
            # Deliberately replaces this instance's step: mypy forbids assigning to a method.
            optimizer.step = types.MethodType(  # type: ignore[method-assign]
                torch.compiler.disable(type(optimizer).step), optimizer)
        return optimizer

    __call__ = build

    def clip_gradients(self, grads: Sequence[Any]) -> list[torch.Tensor]:
        """These gradients clipped as each step clips them (``clipnorm``, ``clipvalue`` or
        ``global_clipnorm``), as new tensors: Keras's ``_clip_gradients``, public here.

        Args:
            grads: gradients (tensors or arrays).

        Returns:
            The clipped gradients, in order (copies; the inputs are left as they are).
        """
        tensors = [torch.as_tensor(g).clone() for g in grads]
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            _KerasStep(self, False, None).clip(tensors, None)
        return tensors

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (a schedule as its own config), as Keras's ``get_config``."""
        config = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        if isinstance(self.learning_rate, LearningRateSchedule):
            config["learning_rate"] = {"class_name": type(self.learning_rate).__name__,
                                       "config": self.learning_rate.get_config()}
        return config

    def __repr__(self) -> str:
        return f"ks.optimizers.{type(self).__name__}(learning_rate={self.learning_rate!r})"


# How many objects of each default name were made: Keras numbers them adam, adam_1, adam_2, ...
_NAMES_GIVEN: dict[str, int] = {}


def auto_name(prefix: str) -> str:
    """Keras's ``auto_name``: the prefix the first time, then ``prefix_1``, ``prefix_2``, ...

    Args:
        prefix: the default name (Keras's snake-case class name).
    """
    count = _NAMES_GIVEN.get(prefix, 0)
    _NAMES_GIVEN[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def _snake_case(name: str) -> str:
    """Keras's default name for a class: ``RMSprop`` is ``rm_sprop``, ``AdamW`` ``adam_w``."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _listed(parameters: Iterable[Any]) -> list[Any]:
    """The parameters as a list, a param group's own ``"params"`` too (a generator there would be
    spent by a first look, such as ``fusable``'s)."""
    listed = []
    for item in parameters:
        if isinstance(item, dict):
            params = item["params"]
            item = {**item, "params": [params] if isinstance(params, torch.Tensor) else list(params)}
        listed.append(item)
    return listed


def _check_learning_rate(value: Any) -> float | LearningRateSchedule:
    if isinstance(value, LearningRateSchedule):
        return value
    if keras_for(value) is not None:
        return schedule_from_keras(value)
    if callable(value):
        if _required_arguments(value):
            raise TypeError(
                f"learning_rate={value!r} takes arguments; Keras calls a function given as the learning "
                "rate with none, before each step. For a rate by step, subclass "
                "ks.optimizers.schedules.LearningRateSchedule and implement lr_at(step)."
            )
        return value
    check_number(value, "learning_rate", low=0.0)
    return float(value)


def _required_arguments(function: Callable[..., Any]) -> bool:
    """Whether ``function`` needs an argument (a builtin without a signature: assume not)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in parameters)


def _check_ema(momentum: Any, overwrite_frequency: Any) -> None:
    """Keras's checks of ``ema_momentum`` and ``ema_overwrite_frequency`` (under ``use_ema``)."""
    check_number(momentum, "ema_momentum")
    if momentum > 1 or momentum < 0:
        raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={momentum}")
    if overwrite_frequency and (not isinstance(overwrite_frequency, int)
                                or isinstance(overwrite_frequency, bool)
                                or overwrite_frequency < 1):
        raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                         f"ema_overwrite_frequency={overwrite_frequency}")


class ArgumentsBesidesDecay(TypedDict, total=False):
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


class KerasArguments(ArgumentsBesidesDecay, total=False):
    """The arguments every Keras optimizer takes besides its own, by keyword (``ks.optimizers.Optimizer``
    documents each). Declared once so that each optimizer's signature lists only what is its own."""

    weight_decay: float | None


class _KerasStep:
    """What a Keras optimizer does around its update rule, as torch step hooks.

    Before each step: clip the gradients (Keras's ``clipnorm`` per weight, ``global_clipnorm``,
    ``clipvalue``), apply decoupled weight decay ``w -= lr * wd * w`` where the torch class does
    not, and for Adam set torch's epsilon to Keras's ``epsilon / sqrt(1 - beta_2**t)``. After each
    step: count it in every param group's ``"iterations"`` and set ``"lr"`` from the schedule.
    Everything is Python arithmetic or device ops: no host read. The counter lives in the param
    groups, so it round-trips through ``optimizer.state_dict()``.
    """

    def __init__(self, config: Optimizer, decay_in_hook: bool, adam_epsilon: tuple[float, float] | None,
                 average: MovingAverage | None = None):
        rate = config.learning_rate
        self.schedule = rate if isinstance(rate, LearningRateSchedule) else None
        # A function of no arguments (Keras's ``learning_rate=lambda: 0.1``), called before each step.
        self.rate_function: Callable[[], Any] | None = (
            rate if callable(rate) and self.schedule is None else None)
        self.average = average
        self.clipnorm = config.clipnorm
        self.global_clipnorm = config.global_clipnorm
        self.clipvalue = config.clipvalue
        self.weight_decay = config.weight_decay if decay_in_hook else None
        self.adam_epsilon = adam_epsilon

    def attach(self, optimizer: torch.optim.Optimizer, inside_eager_step: bool) -> None:
        # "iterations" joins the groups at the first step: a state saved before it had the key
        # (by a torch optimizer a name built) still fits a fresh optimizer.
        before, after = self.before_step, self.after_step
        if not inside_eager_step:  # Python bookkeeping: keep it out of a compiled optimizer step
            before, after = torch.compiler.disable(before), torch.compiler.disable(after)
        # (Inside a step that already runs eagerly the hooks do too; a second disable would cost
        # a few microseconds a step, about what a plain Adam's hooks cost themselves.)
        optimizer.register_step_pre_hook(before)
        optimizer.register_step_post_hook(after)

    def before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.rate_function is not None:
            rate = float(self.rate_function())
            for group in optimizer.param_groups:
                set_lr(group, rate)
        if self.average is not None:
            self.average.before_step(optimizer)
        if self.clipnorm or self.global_clipnorm or self.clipvalue or self.weight_decay:
            # Only here: entering no_grad costs more than the rest of a plain Adam's hook.
            with torch.no_grad():
                self._clip_and_decay(optimizer)
        if self.adam_epsilon is not None:
            epsilon, beta_2 = self.adam_epsilon
            for group in optimizer.param_groups:
                group["eps"] = epsilon / math.sqrt(1.0 - beta_2 ** (group.get("iterations", 0) + 1))

    def _clip_and_decay(self, optimizer: torch.optim.Optimizer) -> None:
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
            # An fp16 GradScaler hands a fused optimizer scaled gradients and the scale as
            # ``optimizer.grad_scale`` (unscaling happens in the kernel): clip at the scaled limit.
            self.clip(grads, getattr(optimizer, "grad_scale", None))
        if not self.weight_decay:
            return
        for group in optimizer.param_groups:
            params, _ = with_grads(group)
            if params and not group.get("exclude_from_weight_decay"):
                torch._foreach_mul_(params, 1.0 - float(group["lr"]) * self.weight_decay)

    def after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.average is not None:  # before the count: Keras averages at the step's own count
            self.average.after_step(optimizer)
        for group in optimizer.param_groups:
            group["iterations"] = group.get("iterations", 0) + 1
            if self.schedule is not None:
                set_lr(group, self.schedule.lr_at(group["iterations"]))

    def clip(self, grads: list[torch.Tensor], scale: torch.Tensor | None) -> None:
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
        # before_step calls clip only when clipnorm, global_clipnorm or clipvalue is set, and a
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
