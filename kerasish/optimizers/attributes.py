"""What the torch optimizers ``ks.optimizers`` builds have besides torch's: Keras's
``optimizer.learning_rate``, the ``learning_rate_schedule`` they were built with, and a
``load_state_dict`` that takes the older state forms kerasish saved (``saved_state``).

``KerasAttributes`` is the mixin; the Keras rules written in torch (``KerasRule``) have it, and
so do ``Adam``, ``AdamW``, ``NAdam`` and ``Adadelta`` here: torch's own optimizers with it, for
the Keras optimizers whose rule is torch's. They keep torch's class names, so logs, configs and
the state files saved by earlier versions name them as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from kerasish.checks import check_number
from kerasish.optimizers.saved_state import upgrade_saved_state
from kerasish.optimizers.schedules import LearningRateSchedule


def set_lr(group: dict[str, Any], value: float) -> None:
    """Set a param group's learning rate; a tensor learning rate is filled in place.

    Args:
        group: a torch param group.
        value: the new rate.
    """
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].fill_(value)
    else:
        group["lr"] = value


class KerasAttributes:
    """Keras's ``optimizer.learning_rate`` on a torch optimizer, and the state forms it loads.

    ``optimizer.learning_rate`` reads the first param group's rate (the current one: a callback
    or a schedule keeps the groups up to date) and setting it sets every group's, as
    ``model.learning_rate`` does. Under a schedule setting it is a ``TypeError``, as in Keras.

    Example:
        model.compile("adam", "mse")
        model.optimizer.learning_rate = 1e-4
    """

    # The schedule the optimizer was built with (``ks.optimizers.X(learning_rate=schedule)``).
    learning_rate_schedule: LearningRateSchedule | None = None
    # Read by ``saved_state.upgrade_saved_state``: kerasish built this optimizer.
    upgrades_saved_states = True
    param_groups: list[dict[str, Any]]  # torch.optim.Optimizer's

    @property
    def learning_rate(self) -> float:
        """The learning rate of the first param group (a tensor rate is read to the host)."""
        return float(self.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self.learning_rate_schedule is not None:
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                "constructor argument, hence its learning rate is not settable (as in Keras). If you need "
                "the learning rate to be settable, compile with a float learning_rate and change it from "
                "a callback (ks.callbacks.LearningRateScheduler)."
            )
        if callable(value):  # a schedule (ours or Keras's), a function
            raise TypeError(
                f"optimizer.learning_rate = {value!r}: kerasish sets a float here; a schedule is given "
                "when the optimizer is built: compile(ks.optimizers.Adam(learning_rate=schedule)), or "
                "use ks.callbacks.LearningRateScheduler."
            )
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = float(value)
        rate = check_number(value, "learning_rate", low=0.0)
        for group in self.param_groups:
            set_lr(group, rate)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """torch's ``load_state_dict``, taking the older forms kerasish saved too (see
        ``kerasish.optimizers.saved_state``).

        Args:
            state_dict: an ``optimizer.state_dict()``.
        """
        upgraded = upgrade_saved_state(self, state_dict)  # type: ignore[arg-type]
        super().load_state_dict(dict(upgraded.state))  # type: ignore[misc]


class Adam(KerasAttributes, torch.optim.Adam):
    """torch's Adam with ``KerasAttributes``: what ``ks.optimizers.Adam`` builds.

    Args:
        params: parameters or param groups.
        **kwargs: torch's Adam arguments.
    """


class AdamW(KerasAttributes, torch.optim.AdamW):
    """torch's AdamW with ``KerasAttributes``: what ``ks.optimizers.AdamW`` builds.

    Args:
        params: parameters or param groups.
        **kwargs: torch's AdamW arguments.
    """


class NAdam(KerasAttributes, torch.optim.NAdam):
    """torch's NAdam with ``KerasAttributes``: what ``ks.optimizers.Nadam`` builds.

    Args:
        params: parameters or param groups.
        **kwargs: torch's NAdam arguments.
    """


class Adadelta(KerasAttributes, torch.optim.Adadelta):
    """torch's Adadelta with ``KerasAttributes``: what ``ks.optimizers.Adadelta`` builds.

    Args:
        params: parameters or param groups.
        **kwargs: torch's Adadelta arguments.
    """
