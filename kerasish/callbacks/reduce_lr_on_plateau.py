"""``ReduceLROnPlateau``: lower the learning rate when a monitored value stops improving."""

from __future__ import annotations

import math
from typing import Any

from kerasish import console
from kerasish.callbacks.monitor_callback import MonitorCallback
from kerasish.callbacks.tracking import learning_rate_logs
from kerasish.checks import check_int, check_number
from kerasish.user_warnings import warn_user


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    Keras semantics: after a reduction, ``cooldown`` epochs pass before counting starts again; the
    rate never goes below ``min_lr``. The learning rate in effect during each epoch is written to
    the logs as ``learning_rate``. The counters reset when a fit begins.

    Args:
        monitor: the log key to watch.
        factor: the multiplier, ``0 < factor < 1``: new_lr = lr * factor.
        patience: epochs without improvement before a reduction.
        verbose: 1 prints ``Epoch N: ReduceLROnPlateau reducing learning rate to X.``
        mode: ``"auto"``, ``"min"`` or ``"max"``: which way ``monitor`` improves.
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the lower bound of the learning rate.

    Attributes:
        best: the best monitored value so far (``None`` before the first epoch).
        wait: epochs without improvement since the last reduction.
        cooldown_counter: epochs of cooldown left.

    Raises:
        TypeError: ``factor`` is not a number.
        ValueError: ``factor`` is not between 0 and 1, ``patience`` or ``cooldown`` is not an
            integer >= 0, ``min_lr`` is negative, or ``mode="auto"`` cannot tell which way
            ``monitor`` improves.

    Example:
        reduce = ks.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5,
                                                min_lr=1e-5)
        model.fit(x, y, validation_split=0.2, epochs=50, callbacks=[reduce])
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or math.isnan(factor):
            raise TypeError(f"ReduceLROnPlateau: factor must be a number; got {factor!r}.")
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support factor >= 1.0 (it would not reduce); got "
                f"factor={factor}. Pass a factor between 0 and 1, e.g. factor=0.1."
            )
        if factor <= 0.0:
            raise ValueError(
                f"ReduceLROnPlateau: factor must be between 0 and 1; got factor={factor}."
            )
        self.patience = check_int(patience, "patience", least=0, owner="ReduceLROnPlateau")
        self.cooldown = check_int(cooldown, "cooldown", least=0, owner="ReduceLROnPlateau")
        self.min_lr = check_number(min_lr, "min_lr", low=0, owner="ReduceLROnPlateau")
        self.factor = float(factor)
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        """Whether a reduction happened less than ``cooldown`` epochs ago (counting is paused)."""
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        """Forget the previous fit's best value and counters (the learning rate stays as it is)."""
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        """Log ``learning_rate``, compare ``logs[monitor]`` with the best, reduce when due.

        A missing ``monitor`` key warns (naming the keys there are) and changes nothing.
        """
        logs = logs if logs is not None else {}
        logs.update(learning_rate_logs(self.model))
        if self.monitor not in logs:
            warn_user(
                f"ReduceLROnPlateau is conditioned on {self.monitor!r}, which is not in the logs. "
                f"Available keys: {sorted(logs)}. Pass one of them as monitor.",
                UserWarning,
            )
            return
        current = float(logs[self.monitor])
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch: int) -> bool:
        parts = getattr(self.model.optimizer, "optimizers", None)
        if parts is None:
            return self._reduce_one(self.model, epoch)
        # A MultiOptimizer: each sub-optimizer's own rate, as Keras.
        reduced = [self._reduce_one(part, epoch) for part in parts]
        return any(reduced)

    def _reduce_one(self, owner: Any, epoch: int) -> bool:
        old_lr = owner.learning_rate
        if not old_lr > self.min_lr:
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        owner.learning_rate = new_lr
        if self.verbose:
            console.print_line(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.",
                               model=self.model)
        return True

    # ------------------------------------------------------------------ BackupAndRestore

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]
        self.cooldown_counter = state["cooldown_counter"]
