"""What the trackers (TensorBoard, W&B) share, written once: finite values for histograms, the
optimizer's hyper-parameters per param group, and the batch values written at a logging interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch

from kerasish.trainer.compile_utils import LossTracker

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


def as_number(value: Any) -> float | None:
    """A log value as a float, or ``None`` when it is not one number (a string, a list, a tensor
    of several values): trackers skip such values instead of failing or stopping to log."""
    if isinstance(value, (str, bytes)):
        return None
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def numbers(logs: Mapping[str, Any] | None, keep: Callable[[str], bool] = lambda key: True
            ) -> dict[str, float]:
    """The values of ``logs`` that are numbers, as floats (``as_number``); the others left out."""
    values = {}
    for key, value in (logs or {}).items():
        if keep(key):
            number = as_number(value)
            if number is not None:
                values[key] = number
    return values


def learning_rates(optimizer: Any) -> dict[str, float]:
    """The learning rate of every param group: ``learning_rate`` for an optimizer with one group
    (Keras's name, one per optimizer), ``learning_rate/group_0``, ``learning_rate/group_1``, ...
    for several (Ignite's ``group_N`` numbering), so no group's rate goes unlogged; for a
    MultiOptimizer (an optimizer with ``optimizers``), ``learning_rate_<name>`` per sub-optimizer,
    as Keras names them.

    Example:
        learning_rates(torch.optim.SGD([{"params": a, "lr": 0.1}, {"params": b, "lr": 0.01}]))
        # {'learning_rate/group_0': 0.1, 'learning_rate/group_1': 0.01}
    """
    parts = getattr(optimizer, "optimizers", None)
    if parts is not None:
        return {f"learning_rate_{name}": float(part.param_groups[0]["lr"])
                for name, part in zip(optimizer.names, parts)}
    groups = getattr(optimizer, "param_groups", None) or []
    if len(groups) == 1:
        return {"learning_rate": float(groups[0]["lr"])}
    return {f"learning_rate/group_{i}": float(group["lr"]) for i, group in enumerate(groups)}


def is_loss_key(key: str) -> bool:
    return key == "loss" or key.endswith("_loss")


class BatchValues:
    """The batch values a tracker writes every ``every`` training batches, read only then.

    Batch logs carry running means over the epoch so far. ``mode="running"`` writes them as they
    are; ``mode="step"`` writes each logged step's own loss (``loss`` and ``*_loss`` keys), derived
    from two running means and the samples each covers, ``(mean_k * n_k - mean_(k-1) * n_(k-1)) /
    (n_k - n_(k-1))``: the running means are also read at the batch before each logging batch (one
    more device read per interval, never per step). The sample counts are the loss trackers' own
    (``loss_counts``, host ints), so the derivation is exact for any batch size, an epoch's smaller
    last batch included. A loss key with no tracker (a custom step's own logs) is derived as if the
    batches had equal sizes, and then an epoch's last batch is not written.

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
        self._previous: _Read | None = None

    def due(self, global_step: int) -> bool:
        return bool(self.every) and global_step % self.every == 0

    def at_batch_end(self, global_step: int, batch: int, logs: Mapping[str, Any] | None,
                     steps: int | None, model: Any = None) -> dict[str, float] | None:
        """The values to write at this batch (``None`` when nothing is due).

        Args:
            global_step: 1-based count of training batches, across epochs and fits.
            batch: the batch's 0-based index in its epoch.
            logs: the batch logs (running means); read only when something is due.
            steps: batches per epoch when known (``params["steps"]``).
            model: the model whose loss trackers count the samples (``loss_counts``).
        """
        if not self.every or logs is None:
            return None
        if self.mode == "running":
            if not self.due(global_step):
                return None
            return numbers(logs)
        values: dict[str, float] | None = None
        current: _Read | None = None
        if self.due(global_step):
            current = _Read(batch, numbers(logs, is_loss_key), loss_counts(model))
            values = self._own_values(current, self._previous, steps)
            self._previous = None
        if self.due(global_step + 1) and (steps is None or batch + 1 < steps):
            if current is None:
                current = _Read(batch, numbers(logs, is_loss_key), loss_counts(model))
            self._previous = current
        return values

    @staticmethod
    def _own_values(current: _Read, previous: _Read | None, steps: int | None) -> dict[str, float] | None:
        if current.batch == 0:
            return current.means
        if previous is None or previous.batch != current.batch - 1:
            return None  # the previous running mean was not read (resumed mid-interval)
        last = steps is not None and current.batch == steps - 1
        k = current.batch + 1
        values = {}
        for key, mean in current.means.items():
            before = previous.means.get(key)
            if before is None or not (math.isfinite(mean) and math.isfinite(before)):
                continue
            n, n_before = current.counts.get(key), previous.counts.get(key)
            if n is not None and n_before is not None and n > n_before:
                values[key] = (mean * n - before * n_before) / (n - n_before)
            elif not last:  # no sample counts: equal batches assumed, wrong for a smaller last one
                values[key] = mean * k - before * (k - 1)
        return values or None


class _Read(NamedTuple):
    """The running loss means and their sample counts, read at the end of one batch."""

    batch: int
    means: dict[str, float]
    counts: dict[str, int]


def loss_counts(model: Any) -> dict[str, int]:
    """Samples behind each running loss mean, by log key: the model's loss trackers' host counts
    (``loss`` and one per output), read without a device sync."""
    metrics = getattr(model, "metrics", None) or [] if model is not None else []
    return {metric.name: metric.count for metric in metrics if isinstance(metric, LossTracker)}


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


def learning_rate_logs(model: Any) -> dict[str, float]:
    """What Keras's LearningRateScheduler and ReduceLROnPlateau log of the rate: ``learning_rate``,
    or for a MultiOptimizer (an optimizer with ``optimizers``) ``learning_rate_<name>`` for each
    sub-optimizer, as Keras does.

    Args:
        model: the ``ks.Model`` (compiled).
    """
    if getattr(model.optimizer, "optimizers", None) is None:
        return {"learning_rate": model.learning_rate}
    return learning_rates(model.optimizer)
