"""From what ``compile(optimizer=...)`` is given to a torch optimizer: a Keras name (the
``ks.optimizers`` class of that name with its default arguments, so Keras's defaults and update
rule), a ``ks.optimizers`` object, a Keras optimizer (translated by ``from_keras``), a torch
optimizer, or a class or factory taking the parameters.

A new ``ks.optimizers`` class goes in ``KERAS_OPTIMIZERS``, which ``from_keras`` reads to
translate Keras's class of the same name, and under its Keras name in ``_BY_NAME``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch

from kerasish._keras_interop import keras_for, require_torch_backend
from kerasish.optimizers.adadelta import Adadelta
from kerasish.optimizers.adafactor import Adafactor
from kerasish.optimizers.adagrad import Adagrad
from kerasish.optimizers.adam import Adam, Adamax, AdamW, Lamb, Nadam
from kerasish.optimizers.base import Optimizer
from kerasish.optimizers.ftrl import Ftrl
from kerasish.optimizers.lion import Lion
from kerasish.optimizers.muon import Muon
from kerasish.optimizers.rmsprop import RMSprop
from kerasish.optimizers.schedule_free_adamw import ScheduleFreeAdamW
from kerasish.optimizers.schedules import from_keras as schedule_from_keras
from kerasish.optimizers.sgd import SGD


class KerasOptimizerLike(Protocol):
    """What kerasish reads of a ``keras.optimizers.Optimizer`` (Keras is not a dependency): its
    settings, from which ``from_keras`` builds the ``ks.optimizers`` equivalent."""

    def get_config(self) -> dict[str, Any]:
        """The optimizer's constructor arguments, as Keras returns them."""
        ...


# A name, a torch optimizer, a class or factory params -> optimizer (a ks.optimizers object is
# such a factory), or a Keras optimizer.
OptimizerSpec = str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] | KerasOptimizerLike

# Keras's class name -> the ks.optimizers class with its arguments and rule.
KERAS_OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion,
                                  Lamb, Ftrl, Adafactor, Muon, ScheduleFreeAdamW)
}

# Keras's optimizer names: each builds its class with the default arguments, as in Keras.
_BY_NAME: dict[str, Callable[[], Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
    "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam, "lion": Lion, "ftrl": Ftrl,
    "adafactor": Adafactor, "muon": Muon, "schedulefreeadamw": ScheduleFreeAdamW,
}

KNOWN_OPTIMIZERS = tuple(sorted(_BY_NAME))


def get_optimizer(spec: OptimizerSpec,
                  parameters: Iterable[torch.nn.Parameter | tuple[str, torch.nn.Parameter]]
                  ) -> torch.optim.Optimizer:
    """Return a torch optimizer for a Keras name, a ``ks.optimizers`` or Keras optimizer, an
    optimizer instance, or a class/factory.

    Args:
        spec: a name (``KNOWN_OPTIMIZERS``: what ``ks.optimizers.<Name>()`` builds, Keras's
            defaults and rule), a ``ks.optimizers`` object, a
            ``keras.optimizers.Optimizer`` object, a torch optimizer (used as is), or a class or
            function called with the parameters.
        parameters: the parameters to optimise, or ``(name, parameter)`` pairs
            (``module.named_parameters()``, what ``compile`` gives): a ``ks.optimizers`` object
            (by name or Keras object too) matches names for ``exclude_from_weight_decay(var_names=)``
            and Muon's AdamW rules; a class or function gets the parameters alone.

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
        if key not in _BY_NAME:
            raise ValueError(
                f"optimizer={spec!r} is not a known optimizer name. Use one of "
                f"{', '.join(KNOWN_OPTIMIZERS)}, a torch.optim.Optimizer instance, or an "
                "optimizer class such as torch.optim.AdamW."
            )
        return _BY_NAME[key]().build(parameters)
    keras = keras_for(spec)
    if keras is not None:
        return from_keras(spec).build(parameters)
    if callable(spec):  # a user's class or function takes the parameters, as torch's do
        optimizer = spec([p[1] if isinstance(p, tuple) else p for p in parameters])
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


def describe_optimizer(optimizer: torch.optim.Optimizer) -> str:
    """A short name for logs and configs: the torch optimizer's class name.

    Args:
        optimizer: a torch optimizer (what ``compile`` built or was given).

    Returns:
        The class name, e.g. ``"Adam"`` for ``compile("adam")`` and ``ks.optimizers.Adam()``,
        ``"KerasRMSprop"`` for ``compile("rmsprop")`` and ``ks.optimizers.RMSprop()``.

    Example:
        >>> describe_optimizer(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
        'SGD'
    """
    return type(optimizer).__name__


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
            (LossScaleOptimizer, ...), a learning rate kerasish cannot step without a host read, or a
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
            f"the Keras {name}'s settings cannot be read ({type(error).__name__}: {error}). A function "
            f"given as the learning_rate cannot be read back from Keras: use ks.optimizers.{name}"
            "(learning_rate=function), or a float or a ks.optimizers.schedules schedule."
        ) from error
    if config.get("gradient_accumulation_steps"):
        raise TypeError("gradient_accumulation_steps belongs to compile() in kerasish: compile(..., "
                        f"gradient_accumulation_steps={config['gradient_accumulation_steps']!r}).")
    learning_rate = config["learning_rate"]
    if isinstance(learning_rate, dict):  # a serialised schedule (or callable)
        schedule = keras.optimizers.schedules.deserialize(learning_rate)
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise TypeError(
                f"the Keras {name}'s learning_rate is {schedule!r}, which cannot be read back from Keras's "
                f"config: use ks.optimizers.{name}(learning_rate=function), a float or a "
                "ks.optimizers.schedules schedule."
            )
        config["learning_rate"] = schedule_from_keras(schedule)
    try:
        return ours(**config)
    except ValueError as error:
        raise TypeError(f"the Keras {name} cannot be reproduced: {error}") from error


def get(identifier: str | dict[str, Any] | Optimizer | None) -> Optimizer | None:
    """Keras's ``keras.optimizers.get``: a ``ks.optimizers`` object from a name, a config dict or
    an object (returned as is); ``None`` stays ``None``.

    Args:
        identifier: a Keras name (``"adam"``), ``{"class_name": ..., "config": {...}}`` (the class
            by its Keras name or class name), a ``ks.optimizers`` object, or ``None``.

    Returns:
        The optimizer object (not yet built on parameters), or ``None``.

    Raises:
        ValueError: a name or class kerasish does not know.

    Example:
        ks.optimizers.get({"class_name": "adamw", "config": {"weight_decay": 0.05}})
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    name, config = ((identifier.get("class_name"), identifier.get("config") or {})
                    if isinstance(identifier, dict) else (identifier, {}))
    # Keras's names and their classes' names, as Keras's get (which knows no Lamb by either).
    classes: dict[str, type[Optimizer]] = {k: v for k, v in _BY_NAME.items() if isinstance(v, type)}
    classes.update({v.__name__.lower(): v for v in list(classes.values())})
    cls = classes.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier {identifier!r}: use one of "
                         f"{', '.join(KNOWN_OPTIMIZERS)}, a class-name config dict or a ks.optimizers "
                         "object.")
    return cls.from_config(config)
