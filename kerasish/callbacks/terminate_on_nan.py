"""``TerminateOnNaN``: stop training as soon as the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from kerasish import console
from kerasish.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite.

    It reads the loss after every batch, which costs one host read per step.

    Args:
        raise_error: ``False`` stops training after the batch (``on_train_end`` still runs, as in
            Keras); ``True`` raises a ``RuntimeError`` naming the batch, so ``fit`` ends at once
            and no ``on_train_end`` hook runs (a ``BackupAndRestore`` backup is kept).

    Example:
        model.fit(x, y, epochs=10, callbacks=[ks.callbacks.TerminateOnNaN()])
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch} (epoch {self.model.epoch + 1}). "
                f"Loss value: {loss}. Terminating training immediately."
            )
        console.print_line(f"Batch {batch}: Invalid loss, terminating training", model=self.model)
        self.model.stop_training = True
