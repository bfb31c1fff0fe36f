"""Optimizers with Keras 3's names, arguments and update rules, resolved to torch optimizers.

Keras and torch disagree on several defaults (Adam's epsilon is 1e-7 in Keras and 1e-8 in torch,
Adadelta's learning rate is 0.001 in Keras and 1.0 in torch, ...) and on several update rules.
Code ported from Keras must train the same way, so a Keras name (``compile("rmsprop")``) builds
exactly what its ``ks.optimizers`` class with the default arguments builds
(``ks.optimizers.RMSprop()``): Keras's numbers and Keras's rule.

Adam and AdamW, by name or by class, run on torch's fused kernel where the parameters allow it:
the same update in one kernel instead of a loop over parameters, equal to the looped update up to
float rounding (what that saves is measured in ``benchmarks/step_variants.py``; figures in
``benchmarks/RESULTS.md``). A user's own optimizer instance, class or factory is used exactly as
given.

``ks.optimizers.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``, ``Adadelta``, ``Adamax`` and
``Nadam`` (and ``Lion``, ``Lamb``, ``Ftrl``) take Keras's constructor arguments and follow Keras's update
rules, which differ from torch's in places: Keras puts RMSprop's and Adagrad's epsilon inside the
square root, scales Adam's epsilon by the bias correction, applies weight decay decoupled (``w -=
lr * wd * w``) in every optimizer, and folds the learning rate into SGD's momentum. Where torch's
rule is Keras's (Adadelta, Nadam with ``momentum_decay=1``, Adam with a per-step epsilon) the
torch optimizer is used, fused when it can be; elsewhere a small foreach implementation of Keras's
rule is. They are factories: ``compile`` calls them with the module's parameters.
``learning_rate`` may be a ``ks.optimizers.schedules`` object, stepped once per optimizer step
from a Python counter. The torch optimizers they build (by name or by class) take Keras's
``optimizer.learning_rate``: read, it is the current rate; set, every param group's (refused under
a schedule, as in Keras).

``compile(optimizer=keras.optimizers.Adam(...))`` builds the same thing from a Keras optimizer's
settings, or refuses with the ``ks`` class to use.

The modules, one optimizer family per file:

- ``base``: ``Optimizer``, the base of the Keras-named classes (Keras's shared arguments,
  ``KerasArguments``), and the step hooks for clipping, weight decay and schedules.
- ``rules``: ``KerasRule``, the step shared by Keras's update rules written in torch.
- ``sgd``, ``rmsprop``, ``adagrad``, ``adadelta``, ``lion``, ``ftrl``, ``adam`` (Adam, AdamW,
  Adamax, Nadam, Lamb): each family's Keras-named class and, where torch's rule differs from
  Keras's, its torch optimizer.
- ``adafactor``, ``muon``, ``schedule_free_adamw``: Keras's Adafactor, Muon and
  ScheduleFreeAdamW, each with its rule written in torch.
- ``attributes``: what every torch optimizer built here has besides torch's (``KerasAttributes``:
  Keras's ``optimizer.learning_rate``, the older saved states it loads), and torch's Adam, AdamW,
  NAdam and Adadelta with it.
- ``saved_state``: ``upgrade_saved_state``, the older state forms brought to the current one.
- ``resolve``: ``get_optimizer`` (what ``compile`` calls), ``describe_optimizer``, the Keras names
  and ``from_keras``.
- ``schedules``: the learning-rate schedules.
- ``moving_average``: Keras's ``use_ema`` (the averages in the optimizer state).
- ``loss_scale``: ``LossScaleOptimizer``, dynamic loss scaling for ``apply``.

A new optimizer goes in its family's file (or a new file for a new family): add the class,
re-export it here (and in ``__all__``), and register it in ``resolve.KERAS_OPTIMIZERS`` and,
under its Keras string, in ``resolve._BY_NAME``.

Example:
    >>> import torch
    >>> optimizer = get_optimizer("adam", [torch.nn.Parameter(torch.zeros(1))])
    >>> describe_optimizer(optimizer), optimizer.defaults["eps"]
    ('Adam', 1e-07)
"""

from kerasish.optimizers import moving_average as moving_average
from kerasish.optimizers import schedules as schedules
from kerasish.optimizers.adadelta import Adadelta
from kerasish.optimizers.adafactor import Adafactor, KerasAdafactor
from kerasish.optimizers.adagrad import Adagrad, KerasAdagrad
from kerasish.optimizers.adam import Adam, Adamax, AdamW, KerasAdamax, KerasLamb, Lamb, Nadam
from kerasish.optimizers.base import KerasArguments, Optimizer
from kerasish.optimizers.ftrl import Ftrl, KerasFtrl
from kerasish.optimizers.lion import KerasLion, Lion
from kerasish.optimizers.loss_scale import LossScaleOptimizer
from kerasish.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap, TorchMultiOptimizer
from kerasish.optimizers.muon import KerasMuon, Muon
from kerasish.optimizers.resolve import (
    KERAS_OPTIMIZERS,
    KNOWN_OPTIMIZERS,
    KerasOptimizerLike,
    OptimizerSpec,
    describe_optimizer,
    from_keras,
    get,
    get_optimizer,
)
from kerasish.optimizers.rmsprop import KerasRMSprop, RMSprop
from kerasish.optimizers.schedule_free_adamw import KerasScheduleFreeAdamW, ScheduleFreeAdamW
from kerasish.optimizers.schedules import LearningRateSchedule as LearningRateSchedule
from kerasish.optimizers.sgd import SGD, KerasSGD

# ``schedules`` (a namespace of its own, ``ks.optimizers.schedules``) and ``LearningRateSchedule``
# (documented there) are importable from here but not listed.
__all__ = [
    # Keras's optimizers, as factories for compile()
    "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion", "Lamb", "Ftrl",
    "Adafactor", "Muon", "ScheduleFreeAdamW",
    "Optimizer", "KerasArguments", "LossScaleOptimizer",
    # the torch optimizers with Keras's rules
    "KerasSGD", "KerasRMSprop", "KerasAdagrad", "KerasAdamax", "KerasLion", "KerasLamb", "KerasFtrl",
    "KerasAdafactor", "KerasMuon", "KerasScheduleFreeAdamW",
    # resolving what compile() is given
    "get", "get_optimizer", "describe_optimizer", "from_keras", "KNOWN_OPTIMIZERS", "KERAS_OPTIMIZERS",
    "KerasOptimizerLike", "OptimizerSpec",
    # parameters routed to optimizers by path
    "MultiOptimizer", "OptimizerMap", "TorchMultiOptimizer",
]
