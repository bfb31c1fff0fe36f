"""``WandbMetricsLogger``: W&B's Keras ``WandbMetricsLogger``, for kerasish, without TensorFlow."""

from __future__ import annotations

from typing import Any

from kerasish.callbacks.base import Callback
from kerasish.callbacks.save_schedule import batch_interval
from kerasish.callbacks.tracking import numbers
from kerasish.callbacks.wandb import import_wandb


class WandbMetricsLogger(Callback):
    """Logs the logs of every epoch (or every N batches) to the active W&B run, with the keys of
    W&B's Keras integration, so its dashboards and reports work unchanged.

    Drop-in for ``wandb.integration.keras.WandbMetricsLogger`` (which imports TensorFlow):

    - ``log_freq="epoch"``: one row per epoch, ``epoch/<key>`` (``epoch/loss``,
      ``epoch/val_accuracy``, ...), ``epoch/learning_rate`` and ``epoch/epoch`` (0-based), with
      ``epoch/*`` plotted against ``epoch/epoch``;
    - ``log_freq="batch"`` or N: additionally a row when the batch index within the epoch is a
      multiple of N, ``batch/<key>`` (running means), ``batch/learning_rate`` and
      ``batch/batch_step`` (0, N, 2N, ... over the run), with ``batch/*`` against
      ``batch/batch_step``.

    As W&B's, it needs ``wandb.init()`` before it is created, logs with ``wandb.log`` and leaves the
    run open. For config, histograms, evaluations and run handling use ``WandbCallback``.

    Args:
        log_freq: ``"epoch"``, ``"batch"`` or an integer N.
        initial_global_step: the number of training steps already taken when training resumes
            from an ``initial_epoch`` (W&B's argument; kept for compatibility: the learning rate
            logged here is the optimizer's current one, which needs no step).

    Example:
        wandb.init(project="digits")
        model.fit(x, y, epochs=5, callbacks=[ks.callbacks.WandbMetricsLogger(log_freq=10)])
    """

    rank_zero_only = True  # under torchrun only the main process writes

    def __init__(self, log_freq: str | int = "epoch", initial_global_step: int = 0) -> None:
        super().__init__()
        wandb = import_wandb("WandbMetricsLogger")
        if wandb.run is None:
            raise wandb.Error("You must call `wandb.init()` before WandbMetricsLogger()")
        self._wandb = wandb
        self.log_freq = log_freq
        self._every = batch_interval(log_freq, "WandbMetricsLogger", "log_freq")
        self.logging_batch_wise = bool(self._every)
        self.global_batch = 0
        self.global_step = initial_global_step
        if self.logging_batch_wise:
            wandb.define_metric("batch/batch_step")
            wandb.define_metric("batch/*", step_metric="batch/batch_step")
        else:
            wandb.define_metric("epoch/epoch")
            wandb.define_metric("epoch/*", step_metric="epoch/epoch")

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        return None if optimizer is None else self.model.learning_rate

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {f"epoch/{k}": v for k, v in numbers(logs).items()}
        row["epoch/epoch"] = epoch
        lr = self._learning_rate()
        if lr is not None:
            row["epoch/learning_rate"] = lr
        self._wandb.log(row)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if self.logging_batch_wise and batch % self._every == 0:
            row = {f"batch/{k}": v for k, v in numbers(logs).items()}  # read only here
            row["batch/batch_step"] = self.global_batch
            lr = self._learning_rate()
            if lr is not None:
                row["batch/learning_rate"] = lr
            self._wandb.log(row)
            self.global_batch += self._every
