"""What the trackers (TensorBoard, W&B) share, written once: finite values for histograms, the
optimizer's hyper-parameters per param group, and the batch values written at a logging interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

LOG_BATCH_MODES = ("running", "step")


def finite_values(tensor: torch.Tensor) -> torch.Tensor | None:
    """The finite values of ``tensor``, flattened, as float32 on the CPU; ``None`` when there are
    none (a histogram of inf/nan cannot be written)."""
    values = tensor.detach().float().flatten()
    values = values[torch.isfinite(values)]
    return values.cpu() if values.numel() else None


def optimizer_params(optimizer: Any) -> dict[str, float]:
    """Every param group's learning rate and momentum terms, named as Ignite's
    ``attach_opt_params_handler`` names them: ``lr/group_0``, ``momentum/group_0``,
    ``beta1/group_0``, ``beta2/group_0``, ... (only the ones the optimizer has).

    Example:
        optimizer_params(torch.optim.SGD(params, lr=0.1, momentum=0.9))
        # {'lr/group_0': 0.1, 'momentum/group_0': 0.9}
    """
    values: dict[str, float] = {}
    for index, group in enumerate(getattr(optimizer, "param_groups", None) or []):
        for name in ("lr", "momentum"):
            if name in group and group[name] is not None:
                values[f"{name}/group_{index}"] = float(group[name])
        betas = group.get("betas")
        if betas is not None:
            values[f"beta1/group_{index}"] = float(betas[0])
            values[f"beta2/group_{index}"] = float(betas[1])
    return values


def is_loss_key(key: str) -> bool:
    return key == "loss" or key.endswith("_loss")


class BatchValues:
    """The batch values a tracker writes every ``every`` training batches, read only then.

    Batch logs carry running means over the epoch so far. ``mode="running"`` writes them as they
    are; ``mode="step"`` writes each logged step's own loss (``loss`` and ``*_loss`` keys), derived
    from two running means as ``mean_k * k - mean_(k-1) * (k - 1)``: the running means are also
    read at the batch before each logging batch (one more device read per interval, never per
    step). The derivation is exact when the epoch's batches have equal sizes, so the last batch of
    an epoch (which may be smaller) is not written in step mode when the number of batches per
    epoch is known; with an input of unknown length it is written and may be off.

    Args:
        mode: ``"running"`` or ``"step"``.
        every: batches between writes (0: never).
        owner: the callback's name, for the error message.
    """

    def __init__(self, mode: str, every: int, owner: str) -> None:
        if mode not in LOG_BATCH_MODES:
            raise ValueError(
                f"{owner}: log_batch must be 'running' (running means over the epoch) or 'step' "
                f"(each logged step's own loss); got {mode!r}."
            )
        self.mode, self.every = mode, every
        self._previous: tuple[int, dict[str, float]] | None = None

    def due(self, global_step: int) -> bool:
        return bool(self.every) and global_step % self.every == 0

    def at_batch_end(self, global_step: int, batch: int, logs: Mapping[str, Any] | None,
                     steps: int | None) -> dict[str, float] | None:
        """The values to write at this batch (``None`` when nothing is due).

        Args:
            global_step: 1-based count of training batches, across epochs and fits.
            batch: the batch's 0-based index in its epoch.
            logs: the batch logs (running means); read only when something is due.
            steps: batches per epoch when known (``params["steps"]``).
        """
        if not self.every or logs is None:
            return None
        if self.mode == "running":
            if not self.due(global_step):
                return None
            return {key: float(value) for key, value in logs.items()}
        values: dict[str, float] | None = None
        current: dict[str, float] | None = None
        if self.due(global_step):
            current = {k: float(v) for k, v in logs.items() if is_loss_key(k)}
            values = self._own_values(current, self._previous, batch, steps)
            self._previous = None
        if self.due(global_step + 1) and (steps is None or batch + 1 < steps):
            if current is None:
                current = {k: float(v) for k, v in logs.items() if is_loss_key(k)}
            self._previous = (batch, current)
        return values

    @staticmethod
    def _own_values(current: dict[str, float], previous: tuple[int, dict[str, float]] | None,
                    batch: int, steps: int | None) -> dict[str, float] | None:
        if batch == 0:
            return current
        if steps is not None and batch == steps - 1:
            return None  # possibly a smaller last batch: the derivation would be off
        if previous is None or previous[0] != batch - 1:
            return None  # the previous running mean was not read (resumed mid-interval)
        k = batch + 1
        values = {}
        for key, mean in current.items():
            before = previous[1].get(key)
            if before is not None and math.isfinite(mean) and math.isfinite(before):
                values[key] = mean * k - before * (k - 1)
        return values


class StepCounter:
    """Training batches a tracker has seen, over every fit of one callback object.

    ``value`` is the global step of the last batch counted. A backup may be taken by a callback
    that runs before this one at a batch end, when the model has finished a batch this counter has
    not counted yet; ``for_backup`` sees that from the model's public position and includes it.
    """

    def __init__(self) -> None:
        self.value = 0
        self._position: tuple[int, int] | None = None

    def count(self, model: Any) -> int:
        self.value += 1
        self._position = (model.epoch, model.step_in_epoch)
        return self.value

    def for_backup(self, model: Any) -> int:
        """The step to save: counting the batch the model finished if this hook has not run yet."""
        position = (getattr(model, "epoch", 0), getattr(model, "step_in_epoch", 0))
        if position[1] and self._position != position:
            return self.value + 1
        return self.value
