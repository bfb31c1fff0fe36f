"""Keras's frequency arguments, parsed once: ``save_freq``, ``update_freq`` and ``log_freq``.

``"epoch"`` means once per epoch; ``"batch"`` (where allowed) or an integer N means every N
training batches, counted across epochs. ModelCheckpoint and BackupAndRestore save on a
``SaveSchedule``; TensorBoard's ``update_freq`` and the W&B callbacks' ``log_freq`` go through
``batch_interval``. The argument checks live here so the callbacks cannot drift apart.
"""

from __future__ import annotations

from kerasish.checks import is_int


def batch_interval(freq: str | int, owner: str, argument: str, allow_batch: bool = True,
                   action: str = "log") -> int:
    """Batches between two events, or 0 for once per epoch.

    Args:
        freq: ``"epoch"``, ``"batch"`` (when ``allow_batch``; the same as 1) or a positive integer.
        owner: the callback's name, for the error message.
        argument: the argument's name, for the error message.
        allow_batch: whether ``"batch"`` is accepted.
        action: what happens every N batches, for the error message.

    Returns:
        0 for ``"epoch"``, otherwise N.

    Raises:
        ValueError: any other value, naming the ones allowed.

    Example:
        every = batch_interval("batch", "TensorBoard", "update_freq")   # 1
    """
    if freq == "epoch":
        return 0
    if freq == "batch" and allow_batch:
        return 1
    if not is_int(freq, least=1):
        allowed = "'epoch', 'batch'" if allow_batch else "'epoch'"
        raise ValueError(
            f"{owner}: {argument} must be {allowed} or a positive integer ({action} every N "
            f"batches); got {freq!r}."
        )
    return int(freq)


class SaveSchedule:
    """Counts training batches and says when a save every ``save_freq`` batches is due.

    Args:
        save_freq: ``"epoch"`` or a positive integer N (every N batches, across epochs).
        owner: the callback's name, for error messages.
        action: what is done on the schedule, for error messages.

    Example:
        schedule = SaveSchedule(100, "ModelCheckpoint")
        if schedule.batch_done():   # once per training batch
            ...                     # every 100th batch
    """

    def __init__(self, save_freq: str | int, owner: str, action: str = "save"):
        self.every = batch_interval(save_freq, owner, "save_freq", allow_batch=False, action=action)
        self.save_freq = save_freq
        self.per_epoch = self.every == 0
        self.batches_since_save = 0

    def reset(self) -> None:
        self.batches_since_save = 0

    def batch_done(self) -> bool:
        """Count one training batch; True when this batch completes a ``save_freq`` window."""
        if self.per_epoch:
            return False
        self.batches_since_save += 1
        if self.batches_since_save >= self.every:
            self.batches_since_save = 0
            return True
        return False
