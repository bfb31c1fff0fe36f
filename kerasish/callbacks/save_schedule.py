"""``SaveSchedule``: Keras's ``save_freq`` ("epoch", or every N batches across epochs), kept once.

ModelCheckpoint and BackupAndRestore both save on this schedule; the argument check and the batch
counting live here so they cannot drift apart.
"""

from __future__ import annotations


class SaveSchedule:
    """Counts training batches and says when a save every ``save_freq`` batches is due."""

    def __init__(self, save_freq: str | int, owner: str, action: str = "save"):
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(
                f"{owner}: save_freq must be 'epoch' or a positive integer ({action} every N "
                f"batches); got {save_freq!r}."
            )
        self.save_freq = save_freq
        self.per_epoch = save_freq == "epoch"
        self.batches_since_save = 0

    def reset(self) -> None:
        self.batches_since_save = 0

    def batch_done(self) -> bool:
        """Count one training batch; True when this batch completes a ``save_freq`` window."""
        if self.per_epoch:
            return False
        self.batches_since_save += 1
        if self.batches_since_save >= self.save_freq:
            self.batches_since_save = 0
            return True
        return False
