"""``SwapEMAWeights``: evaluate (and predict) with the optimizer's ``use_ema`` moving averages.

An optimizer built with ``use_ema=True`` keeps each weight's moving average in its state
(``optimizer.state[p]["average"]``, see ``kerasish.optimizers.moving_average``). Before evaluation
this callback exchanges the weights and their averages in place (no copy of the model is kept:
each weight and its average trade values through one temporary tensor), and exchanges them back
after, as Keras's callback does. For a ``MultiOptimizer`` only the parts with ``use_ema`` take
part. Everything is device copies: no host read.
"""

from __future__ import annotations

from typing import Any

import torch

from kerasish.callbacks.base import Callback
from kerasish.optimizers.moving_average import AVERAGE


def _averaging_parts(optimizer: Any) -> list[torch.optim.Optimizer]:
    """The torch optimizers that keep moving averages: the optimizer itself, or a
    ``TorchMultiOptimizer``'s parts with ``use_ema`` (Keras's error when there is none)."""
    parts = getattr(optimizer, "optimizers", None)
    if isinstance(parts, list):
        kept = [p for p in parts if getattr(p, "moving_average", None) is not None]
        if not kept:
            raise ValueError("SwapEMAWeights must be used when at least one inner optimizer has "
                             "`use_ema=True` set. Received a MultiOptimizer with all inner optimizers "
                             "having `use_ema=False`.")
        return kept
    if getattr(optimizer, "moving_average", None) is None:
        raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the optimizer "
                         "(compile(optimizer=ks.optimizers.SGD(use_ema=True), ...)). "
                         f"Received: {optimizer!r}")
    return [optimizer]


class SwapEMAWeights(Callback):
    """Swap the model's weights with the optimizer's moving averages for evaluation, and back
    after (Keras's ``SwapEMAWeights``); the optimizer must be built with ``use_ema=True``.

    A weight that has not taken a step yet has no average and is left as it is. After
    ``predict`` the weights are swapped back too: Keras 3.15.1's ``on_predict_end`` tests the flag
    the wrong way round and leaves the averages in the model (the weights lost); here nothing is lost.

    Args:
        swap_on_epoch: also hold the averages in the model from ``on_epoch_end`` to the next
            ``on_epoch_begin``, so callbacks after this one (``ModelCheckpoint``) see them; at the
            last epoch the averages are then set to the weights, so that ``fit``'s final
            ``finalize_variable_values`` leaves the averages in the model, as Keras.

    Example:
        model.compile(optimizer=ks.optimizers.SGD(use_ema=True), loss="mse")
        model.fit(x, y, validation_data=(xv, yv), callbacks=[ks.callbacks.SwapEMAWeights()])
    """

    def __init__(self, swap_on_epoch: bool = False) -> None:
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        pairs = []
        for part in _averaging_parts(self.model.optimizer):
            for group in part.param_groups:
                for p in group["params"]:
                    average = part.state.get(p, {}).get(AVERAGE)
                    if average is not None:
                        pairs.append((p, average))
        return pairs

    @torch.no_grad()
    def _swap_variables(self) -> None:
        for weight, average in self._pairs():
            held = weight.detach().clone()
            weight.copy_(average)
            average.copy_(held)

    @torch.no_grad()
    def _finalize_ema_values(self) -> None:
        for weight, average in self._pairs():
            average.copy_(weight)

    def _to_averages(self) -> None:
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def _to_weights(self) -> None:
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def state_dict(self) -> dict[str, Any]:
        """Whether the model holds the averages (with ``swap_on_epoch``, a backup written after this
        callback's ``on_epoch_end`` holds them), so a resumed run swaps back at its epoch's start."""
        return {"ema_weights_in_model": self._ema_weights_in_model}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back ``state_dict()``.

        Args:
            state: what ``state_dict`` returned.
        """
        self._ema_weights_in_model = bool(state.get("ema_weights_in_model", False))

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._to_weights()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._to_averages()
            if epoch == self.params.get("epochs", 0) - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        self._to_averages()

    def on_test_end(self, logs=None):
        self._to_weights()

    def on_predict_begin(self, logs=None):
        self._to_averages()

    def on_predict_end(self, logs=None):
        self._to_weights()
