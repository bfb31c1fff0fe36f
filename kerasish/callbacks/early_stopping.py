"""``EarlyStopping``: stop training when a monitored value has stopped improving."""

from __future__ import annotations

from typing import Any

import torch

from kerasish import console
from kerasish.callbacks.monitor_callback import MonitorCallback
from kerasish.checks import check_int
from kerasish.user_warnings import warn_user


class EarlyStopping(MonitorCallback):
    """Stop training once ``monitor`` has not improved for ``patience`` epochs.

    Keras semantics: an epoch counts as an improvement when it beats the best value so far by more
    than ``min_delta``; after ``patience`` epochs without one, training stops. All state is reset
    when a fit begins, so one instance can serve several fits.

    Args:
        monitor: the log key to watch.
        min_delta: the smallest change that counts as an improvement.
        patience: how many epochs without improvement to allow before stopping.
        verbose: 1 prints when training stops and when the best weights are restored.
        mode: ``"auto"``, ``"min"`` or ``"max"``: which way ``monitor`` improves.
        baseline: a value to reach: while ``monitor`` has not beaten it, the patience counter keeps
            running even when the value improves.
        restore_best_weights: at the end of training (stopped early or not), put back the weights
            of the best epoch.
        start_from_epoch: epochs of warm-up during which nothing is counted.

    Attributes:
        best: the best monitored value so far (``None`` before the first counted epoch).
        best_epoch: the 0-based epoch that reached ``best``.
        wait: epochs since the last improvement.
        stopped_epoch: the 0-based epoch at whose end training was stopped (0: it was not).

    Raises:
        ValueError: ``patience`` or ``start_from_epoch`` is not an integer >= 0, or ``mode="auto"``
            cannot tell which way ``monitor`` improves (pass ``mode="min"`` or ``"max"``).

    Example:
        stop = ks.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                          restore_best_weights=True)
        model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, baseline=baseline, min_delta=min_delta)
        self.patience = check_int(patience, "patience", least=0, owner="EarlyStopping")
        self.start_from_epoch = check_int(start_from_epoch, "start_from_epoch", least=0,
                                          owner="EarlyStopping")
        self.verbose = verbose
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def on_train_begin(self, logs=None):
        """Forget the previous fit's best value, counter and weights."""
        self._reset()  # reused instances start afresh (Keras bugs #20521, #20256)

    def on_epoch_end(self, epoch, logs=None):
        """Compare ``logs[monitor]`` with the best so far; stop training when patience runs out.

        A missing ``monitor`` key warns (naming the keys there are) and counts nothing.
        """
        logs = logs or {}
        if self.monitor not in logs:
            warn_user(
                f"EarlyStopping is conditioned on {self.monitor!r}, which is not in the logs. "
                f"Available keys: {sorted(logs)}. Pass one of them as monitor.",
                UserWarning,
            )
            return
        if epoch < self.start_from_epoch:
            return
        current = float(logs[self.monitor])
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._weights()  # the first counted epoch is the best so far
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0  # only an improvement that also beats the baseline resets patience
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Say that training stopped early (``verbose=1``) and put back the best weights if asked."""
        if self.stopped_epoch > 0 and self.verbose:
            console.print_line(f"Epoch {self.stopped_epoch + 1}: early stopping", model=self.model)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                console.print_line("Restoring model weights from the end of the best epoch: "
                                   f"{self.best_epoch + 1}.", model=self.model)
            self.model.module.load_state_dict(self.best_weights)

    def _weights(self) -> dict[str, torch.Tensor]:
        # Copies on the module's device: no host transfer per improvement.
        return {k: v.detach().clone() for k, v in self.model.module.state_dict().items()}

    # ------------------------------------------------------------------ BackupAndRestore

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        weights = state["best_weights"]
        device = self.model.device
        self.best_weights = None if weights is None else {k: v.to(device) for k, v in weights.items()}
