"""``History``: the record of epoch logs that ``fit`` returns."""

from __future__ import annotations

from kerasish.callbacks.base import Callback


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is a list with one float per epoch.

    ``fit`` adds a new one automatically and returns it; ``model.history`` is the last one. As in
    Keras, ``on_train_begin`` clears ``epoch`` but not ``history``, so an instance passed to several
    fits keeps appending.

    Example:
        history = model.fit(x, y, epochs=3)
        history.history["loss"]   # [0.9, 0.5, 0.3]
        history.epoch             # [0, 1, 2]
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self
