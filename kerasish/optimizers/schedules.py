"""Keras's learning-rate schedules, stepped once per optimizer step without a host read.

A schedule maps the number of optimizer steps taken so far to a learning rate, with Keras 3's
formulas and arguments. ``ks.optimizers.Adam(learning_rate=schedule)`` (or any ``ks.optimizers``
class) sets every param group's ``lr`` to ``schedule.lr_at(n)`` after the n-th step, from a
Python step counter kept in the param groups: nothing is read from the device, and the counter
travels with ``optimizer.state_dict()``. As in Keras, ``schedule(step)`` returns the rate as a
0-d float32 tensor; ``lr_at(step)`` returns it as a Python float (what the optimizer uses).

A schedule of your own subclasses ``LearningRateSchedule`` and implements ``lr_at(step)`` with
Python arithmetic (or Keras-style ``__call__(step)``, then read once per step as a float).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import torch

from kerasish.checks import check_number


class LearningRateSchedule:
    """Base class of learning-rate schedules: ``lr_at(step) -> float`` for ``step = 0, 1, ...``.

    Example:
        class Halving(ks.optimizers.schedules.LearningRateSchedule):
            def lr_at(self, step):
                return 0.1 * 0.5 ** (step // 100)

        model.compile(ks.optimizers.SGD(learning_rate=Halving()), "mse")
    """

    def __call__(self, step: int | torch.Tensor) -> torch.Tensor:
        """The learning rate after ``step`` optimizer steps, as Keras returns it (a 0-d tensor).

        Args:
            step: the number of optimizer steps taken (an int or a 0-d tensor).

        Returns:
            A 0-d float32 tensor.
        """
        if type(self).lr_at is LearningRateSchedule.lr_at:
            raise NotImplementedError(f"{type(self).__name__} must implement lr_at(step) or __call__(step).")
        return torch.tensor(self.lr_at(int(step)), dtype=torch.float32)

    def lr_at(self, step: int) -> float:
        """The learning rate after ``step`` optimizer steps, as a Python float.

        Args:
            step: the number of optimizer steps taken.

        Returns:
            The learning rate.
        """
        if type(self).__call__ is LearningRateSchedule.__call__:
            raise NotImplementedError(f"{type(self).__name__} must implement lr_at(step) or __call__(step).")
        return float(self(step))

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as Keras's ``get_config``: each one read back from the
        attribute of the same name (a schedule of your own without them overrides this)."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        if type(self).__init__ is object.__init__ or not all(hasattr(self, n) for n in names):
            raise NotImplementedError(f"{type(self).__name__} must implement get_config() to be serialised.")
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from ``get_config()``'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            arguments = ""
        return f"{type(self).__name__}({arguments})"


class FunctionRate(LearningRateSchedule):
    """A function of no arguments given as the learning rate (Keras's ``learning_rate=lambda: 0.1``),
    as the torch optimizer's ``learning_rate_schedule``: the rate is not settable by hand (the
    function would set it back at the next step), and ``lr_at`` calls the function (the step hooks
    call it before each step, as Keras does).

    Args:
        function: returns the learning rate.
    """

    def __init__(self, function: Any):
        self.function = function

    def lr_at(self, step: int) -> float:
        """What the function returns now (the step is not passed: Keras passes none).

        Args:
            step: ignored.
        """
        return float(self.function())


def _positive(name: str, value: Any) -> Any:
    """``value`` itself (an int stays an int, as in Keras's config) once checked to be > 0."""
    check_number(value, name, low=0, open_low=True)
    return value


def _number(name: str, value: Any) -> Any:
    check_number(value, name)
    return value


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (``keras.optimizers.schedules``).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per factor of ``decay_rate`` (> 0).
        decay_rate: the factor.
        staircase: decay in whole steps (``floor(step / decay_steps)``).
        name: a name, as Keras.

    Example:
        schedule = ks.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=1000, decay_rate=0.9)
        model.compile(ks.optimizers.SGD(learning_rate=schedule), "mse")
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str | None = None):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _number("decay_rate", decay_rate)
        self.staircase = staircase
        self.name = name or type(self).__name__

    def _progress(self, step: int) -> float:
        """``step / decay_steps``, in whole steps with ``staircase`` (shared with InverseTimeDecay)."""
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def lr_at(self, step: int) -> float:
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)



class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[1]`` up to ``boundaries[1]``, ...

    Args:
        boundaries: increasing step numbers.
        values: one more rate than boundaries.
        name: a name, as Keras.

    Example:
        schedule = ks.optimizers.schedules.PiecewiseConstantDecay([1000, 2000], [1.0, 0.5, 0.1])
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"boundaries must have one entry fewer than values; got boundaries={boundaries} "
                f"({len(boundaries)}) and values={values} ({len(values)})."
            )
        for i, b in enumerate(boundaries):
            _number(f"boundaries[{i}]", b)
        for i, v in enumerate(values):
            _number(f"values[{i}]", v)
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def lr_at(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]



class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, then ``end`` (or cycling).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps to reach ``end_learning_rate`` (> 0).
        end_learning_rate: the final rate.
        power: the polynomial's power (1.0: linear).
        cycle: restart past ``decay_steps`` with a longer period, as Keras does.
        name: a name, as Keras.

    Example:
        schedule = ks.optimizers.schedules.PolynomialDecay(0.1, decay_steps=10_000, end_learning_rate=0.01)
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay"):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.end_learning_rate = _number("end_learning_rate", end_learning_rate)
        self.power = _number("power", power)
        self.cycle = cycle
        self.name = name

    def lr_at(self, step: int) -> float:
        decay_steps: float = self.decay_steps
        if self.cycle:
            decay_steps = decay_steps * (1.0 if step == 0 else math.ceil(step / self.decay_steps))
        else:
            step = min(step, self.decay_steps)
        p = step / decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return span * (1 - p) ** self.power + self.end_learning_rate



class InverseTimeDecay(ExponentialDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the step scale (> 0).
        decay_rate: the decay factor.
        staircase: decay in whole steps (``floor(step / decay_steps)``).
        name: a name, as Keras.

    Example:
        schedule = ks.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
    """

    # ExponentialDecay's arguments, checks, staircase and config; only the formula differs.

    def lr_at(self, step: int) -> float:
        return self.initial_learning_rate / (1 + self.decay_rate * self._progress(step))


class CosineDecay(LearningRateSchedule):
    """Cosine decay to ``alpha * rate`` over ``decay_steps``, after an optional linear warmup.

    Without ``warmup_target`` the rate falls from ``initial_learning_rate``; with it, the rate
    rises linearly from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` and
    then decays from ``warmup_target`` (Keras 3's arguments and formula).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the length of the decay (> 0).
        alpha: the final rate as a fraction of the decayed-from rate.
        name: a name, as Keras.
        warmup_target: the rate reached at the end of the warmup, or ``None`` for no warmup.
        warmup_steps: the length of the warmup.

    Example:
        schedule = ks.optimizers.schedules.CosineDecay(0.0, decay_steps=9000, warmup_target=1e-3,
                                                       warmup_steps=1000)
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None, warmup_steps: int = 0):
        if warmup_target is not None:
            _number("warmup_target", warmup_target)
        if _number("warmup_steps", warmup_steps) < 0:
            raise ValueError(f"warmup_steps must be >= 0; got {warmup_steps!r}.")
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.alpha = _number("alpha", alpha)
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decayed(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def lr_at(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * fraction + self.initial_learning_rate
        return self._decayed(step - self.warmup_steps, self.warmup_target)



class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods grow by ``t_mul``, peaks by ``m_mul``.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: the length of the first period (> 0).
        t_mul: the factor on each next period's length.
        m_mul: the factor on each next period's initial rate.
        alpha: the minimum rate as a fraction of ``initial_learning_rate``.
        name: a name, as Keras.

    Example:
        schedule = ks.optimizers.schedules.CosineDecayRestarts(1e-3, first_decay_steps=1000)
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0,
                 m_mul: float = 1.0, alpha: float = 0.0, name: str = "SGDRDecay"):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _positive("first_decay_steps", first_decay_steps)
        self.t_mul = _positive("t_mul", t_mul)
        self.m_mul = _number("m_mul", m_mul)
        self.alpha = _number("alpha", alpha)
        self.name = name

    def lr_at(self, step: int) -> float:
        completed = step / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(completed)
            completed -= restart
        else:
            restart = math.floor(math.log(1.0 - completed * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul ** restart) / (1.0 - self.t_mul)
            completed = (completed - done) / self.t_mul ** restart
        cosine = 0.5 * self.m_mul ** restart * (1.0 + math.cos(math.pi * completed))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)



KERAS_SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                  InverseTimeDecay, CosineDecay, CosineDecayRestarts)
}


def from_keras(schedule: Any) -> LearningRateSchedule:
    """The ``ks`` schedule equal to a Keras schedule object (same class name and config).

    Args:
        schedule: a ``keras.optimizers.schedules.LearningRateSchedule`` of one of Keras's classes.

    Returns:
        The matching ``ks.optimizers.schedules`` object.

    Raises:
        TypeError: a schedule class of your own (its formula cannot be read from it).

    Example:
        ks.optimizers.schedules.from_keras(keras.optimizers.schedules.CosineDecay(1e-3, 1000))
    """
    name = type(schedule).__name__
    ours = KERAS_SCHEDULES.get(name)
    module = type(schedule).__module__
    if ours is None or not (module == "keras" or module.startswith("keras.")):
        raise TypeError(
            f"learning_rate is a {name} schedule, which kerasish cannot translate. Use one of "
            f"ks.optimizers.schedules.{', '.join(KERAS_SCHEDULES)}, or subclass "
            "ks.optimizers.schedules.LearningRateSchedule and implement lr_at(step)."
        )
    return ours.from_config(schedule.get_config())
