"""``LearningRateScheduler``: set the learning rate from a schedule, or step a torch scheduler."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch

from kerasish import console
from kerasish.callbacks.base import Callback
from kerasish.callbacks.tracking import learning_rate_logs

_LRScheduler = torch.optim.lr_scheduler.LRScheduler


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule``.

    ``schedule`` is either a function ``schedule(epoch, lr) -> new_lr`` (or ``schedule(epoch)``;
    ``epoch`` is 0-based), called at each epoch's start as in Keras, or a torch
    ``LRScheduler`` built on ``model.optimizer``, stepped after every epoch (``interval="epoch"``)
    or every batch (``interval="batch"``). The learning rate in effect during the epoch is written
    to the logs as ``learning_rate``. A torch scheduler's state is saved by ``BackupAndRestore``.

    A run resumed by ``BackupAndRestore`` follows the schedule of an uninterrupted one: the
    schedule function is not called again for an epoch it was already called for (the resumed
    epoch keeps the rate restored with the optimizer, so a relative schedule such as
    ``lambda epoch, lr: lr * 0.9`` is not applied twice), and a per-batch torch scheduler
    continues from the optimizer-step count it had seen.

    Args:
        schedule: a function of the epoch (and the current learning rate), or a torch
            ``LRScheduler``.
        verbose: 1 prints ``Epoch N: LearningRateScheduler setting learning rate to X.``
        interval: for a torch scheduler, ``"epoch"`` (default) or ``"batch"``: when it steps.
            (A kerasish addition; Keras has no torch schedulers.) Per batch, the scheduler steps
            once per optimizer step: not on gradient-accumulation micro-batches, and not when
            fp16 gradient scaling skipped the step (Lightning advances schedules there).

    Example:
        def schedule(epoch, lr):
            return lr if epoch < 10 else lr * 0.9
        model.fit(x, y, epochs=20, callbacks=[ks.callbacks.LearningRateScheduler(schedule)])

        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(model.optimizer, T_max=20)
        model.fit(x, y, epochs=20, callbacks=[ks.callbacks.LearningRateScheduler(cosine)])
    """

    def __init__(self, schedule: Callable[..., float] | _LRScheduler, verbose: int = 0, *,
                 interval: str = "epoch") -> None:
        super().__init__()
        if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            raise TypeError(
                "LearningRateScheduler: torch's ReduceLROnPlateau needs the monitored value at "
                "each step; use ks.callbacks.ReduceLROnPlateau(monitor=...) instead."
            )
        if not isinstance(schedule, _LRScheduler) and not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be a function schedule(epoch, lr) -> lr (or "
                f"schedule(epoch)) or a torch LRScheduler; got {type(schedule).__name__}."
            )
        if interval not in ("epoch", "batch"):
            raise ValueError(
                f"LearningRateScheduler: interval must be 'epoch' or 'batch'; got {interval!r}."
            )
        if interval == "batch" and not isinstance(schedule, _LRScheduler):
            raise ValueError(
                "LearningRateScheduler: interval='batch' applies to a torch LRScheduler; a schedule "
                "function is called once per epoch. Drop interval, or pass a torch scheduler."
            )
        self.schedule = schedule
        self.verbose = verbose
        self.interval = interval
        # Exactly one of the two is set: the torch scheduler, or the schedule function.
        self._scheduler: _LRScheduler | None = None
        self._schedule_fn: Callable[..., Any] | None = None
        self._takes_lr: bool | None = None
        if isinstance(schedule, _LRScheduler):
            self._scheduler = schedule
        else:
            self._schedule_fn = schedule
            self._takes_lr = _takes_two_arguments(schedule)
        # Where this fit stands: the optimizer-step count seen at the last batch end, the epoch
        # the schedule function was last called for, and (from a resume) an epoch already done.
        self._optimizer_steps = 0
        self._scheduled_epoch: int | None = None
        self._resumed_epoch: int | None = None

    def on_train_begin(self, logs=None):
        # Read after a BackupAndRestore's resume (savers' on_train_begin runs first); a resume's
        # load_state_dict then puts back the exact count this callback had seen.
        self._optimizer_steps = self.model.optimizer_steps
        self._scheduled_epoch = self._resumed_epoch = None
        if self._scheduler is not None and self._scheduler.optimizer is not self.model.optimizer:
            raise ValueError(
                "LearningRateScheduler: the torch scheduler was built on another optimizer than "
                "model.optimizer. Build it after compile(): "
                "torch.optim.lr_scheduler.StepLR(model.optimizer, step_size=10)."
            )

    def on_epoch_begin(self, epoch, logs=None):
        if self._schedule_fn is not None:
            # A resumed epoch whose schedule already ran keeps the restored rate: calling
            # schedule(epoch, lr) again on it would apply a relative schedule twice.
            parts = getattr(self.model.optimizer, "optimizers", None)
            if epoch != self._resumed_epoch and parts is not None:
                # A MultiOptimizer: each sub-optimizer's own rate through the schedule, as Keras.
                for part in parts:
                    part.learning_rate = self._scheduled_lr(epoch, part.learning_rate)
            elif epoch != self._resumed_epoch:
                self.model.learning_rate = self._scheduled_lr(epoch)
            self._scheduled_epoch, self._resumed_epoch = epoch, None
        if self.verbose:
            console.print_line(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                               f"{self.model.learning_rate}.", model=self.model)

    def on_train_batch_end(self, batch, logs=None):
        if self.interval != "batch":
            return
        steps = self.model.optimizer_steps
        if steps == self._optimizer_steps:
            return  # an accumulation micro-batch: the optimizer has not stepped yet
        self._optimizer_steps = steps
        if self.model.last_step_skipped:
            return  # fp16 overflow: the weights did not move, so neither does the schedule
        if self._scheduler is not None:  # always so: __init__ refuses interval="batch" otherwise
            self._scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(learning_rate_logs(self.model))
        if self._scheduler is not None and self.interval == "epoch":
            self._scheduler.step()

    def _scheduled_lr(self, epoch: int, current: float | None = None) -> float:
        fn = self._schedule_fn
        current = self.model.learning_rate if current is None else current
        # Only called from on_epoch_begin when a schedule function (not a torch scheduler) was given.
        assert fn is not None
        lr: Any  # whatever the user's function returned; checked below
        if self._takes_lr is False:
            lr = fn(epoch)
        elif self._takes_lr:
            lr = fn(epoch, current)
        else:  # signature unknown (a builtin): try Keras's way
            try:
                lr = fn(epoch, current)
            except TypeError:
                lr = fn(epoch)
        if isinstance(lr, torch.Tensor) and lr.numel() == 1:
            lr = lr.item()
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) and not _is_numpy_number(lr):
            raise ValueError(
                f"LearningRateScheduler: the schedule must return a float; at epoch {epoch} it "
                f"returned {lr!r} ({type(lr).__name__})."
            )
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(
                f"LearningRateScheduler: the schedule returned learning rate {lr} at epoch {epoch}; "
                "it must be a finite number >= 0."
            )
        return lr

    # ------------------------------------------------------------------ BackupAndRestore

    def state_dict(self) -> dict[str, Any]:
        # The epoch whose schedule already ran (its rate is in the saved optimizer), the step
        # count seen at the last batch end, and a torch scheduler's own state.
        state: dict[str, Any] = {}
        if self.interval == "batch":
            state["optimizer_steps"] = int(self._optimizer_steps)
        if self._scheduled_epoch is not None:
            state["scheduled_epoch"] = int(self._scheduled_epoch)
        if self._scheduler is not None:
            state["scheduler"] = self._scheduler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self._scheduler is not None and "scheduler" in state:
            self._scheduler.load_state_dict(state["scheduler"])
        if "optimizer_steps" in state:
            self._optimizer_steps = int(state["optimizer_steps"])
        scheduled = state.get("scheduled_epoch")
        self._resumed_epoch = self._scheduled_epoch = None if scheduled is None else int(scheduled)


def _takes_two_arguments(fn: Callable[..., Any]) -> bool | None:
    """Whether ``fn`` accepts ``(epoch, lr)``; ``None`` when its signature cannot be read."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(0, 0.1)
        return True
    except TypeError:
        return False


def _is_numpy_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.number) and np.ndim(value) == 0
