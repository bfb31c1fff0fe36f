"""``MonitorCallback``: the "is this value better?" logic shared by checkpointing, early stopping,
learning-rate reduction and the trackers' best-value summaries, and the one missing-monitor warning."""

from __future__ import annotations

import math
import re
from typing import Any

from kerasish.callbacks.base import Callback
from kerasish.user_warnings import warn_user

# Name fragments that tell auto mode which way a monitored quantity should go. "loss" and "error"
# win over everything ("accuracy_loss" is a loss); then the maximised names; then other minimised.
_MAXIMISED = ("accuracy", "auc", "precision", "recall", "f1", "fbeta", "f_beta", "iou", "dice",
              "similarity", "specificity", "sensitivity", "matthews", "r2", "psnr", "ssim",
              "kappa", "mcc")
_MAXIMISED_TOKENS = {"acc", "map", "ap"}
# Keras's IoU metrics are named "io_u", "mean_io_u", ... (snake_case of "IoU"): "io" then "u".
_IOU = re.compile(r"(^|_)io_u($|_)")
_MINIMISED = ("crossentropy", "divergence", "hinge", "huber", "logcosh", "poisson", "perplexity")
_MINIMISED_TOKENS = {"mse", "mae", "mape", "msle", "rmse", "nll", "kld", "kl", "ce", "bce"}


def monitor_direction(monitor: str) -> str | None:
    """``"min"``, ``"max"`` or ``None`` (unknown) for a log key such as ``"val_accuracy"``."""
    name = re.sub(r"_\d+$", "", monitor.lower().removeprefix("val_"))  # "accuracy_1" duplicates
    tokens = set(name.split("_"))
    if "loss" in name or "error" in name:
        return "min"
    if any(part in name for part in _MAXIMISED) or tokens & _MAXIMISED_TOKENS or _IOU.search(name):
        return "max"
    if any(part in name for part in _MINIMISED) or tokens & _MINIMISED_TOKENS:
        return "min"
    return None


def is_improvement(current: float, reference: float | None, direction: str, min_delta: float = 0.0) -> bool:
    """Whether ``current`` beats ``reference`` by more than ``min_delta`` in ``direction``.

    ``direction`` is ``"min"`` or ``"max"``; a ``reference`` of ``None`` (nothing seen yet) is beaten
    by any number but NaN, and NaN never beats anything.
    """
    if math.isnan(current):
        return False
    if reference is None:
        return True
    if direction == "min":
        return current + min_delta < reference
    return current - min_delta > reference


def warn_missing_monitor(owner: str, monitor: str, logs: Any, consequence: str, stacklevel: int = 3) -> None:
    """The one warning every monitoring callback gives when its monitor is not in the logs.

    Args:
        owner: the callback's name, e.g. ``"ModelCheckpoint"``.
        monitor: the missing log key.
        logs: the logs it was looked for in (their keys are listed).
        consequence: what the callback does instead, e.g. ``"this checkpoint is saved anyway"``.
        stacklevel: unused, kept for callers: the warning names the user's line (``warn_user``).
    """
    warn_user(
        f"{owner}: monitor {monitor!r} is not in the logs, so {consequence}. Available keys: "
        f"{sorted(logs or {})}. Pass one of them as monitor (validation keys such as "
        "'val_loss' need validation data).",
        UserWarning,
    )


class MonitorCallback(Callback):
    """Base class of callbacks that watch one log value and act when it improves (or stops to).

    Subclasses call ``self._is_improvement(current, reference)``; ``self.best`` holds the best
    value so far (``None`` before the first one).

    Args:
        monitor: the log key to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        mode: ``"min"``, ``"max"`` or ``"auto"``. Auto minimises losses and error metrics and
            maximises accuracy, AUC, precision, recall, F1 and the like; a name it cannot place is
            a ``ValueError``. An unknown mode warns and falls back to ``"auto"``.
        baseline: the starting ``best`` value (``None``: the first value seen).
        min_delta: the smallest change that counts as an improvement (its sign is ignored).

    Example:
        class SaysWhenBetter(MonitorCallback):
            def on_epoch_end(self, epoch, logs=None):
                if self._is_improvement(logs[self.monitor], self.best):
                    self.best = logs[self.monitor]
                    print("improved")
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                f"{name}: monitor must be a non-empty log key such as 'val_loss'; got {monitor!r}."
            )
        if mode not in ("auto", "min", "max"):
            warn_user(
                f"{name}: mode={mode!r} is unknown; falling back to mode='auto'. Use 'auto', 'min' "
                "or 'max'.",
                UserWarning,
            )
            mode = "auto"
        _check_number(min_delta, "min_delta", name)
        if baseline is not None:
            _check_number(baseline, "baseline", name)
            baseline = float(baseline)
        direction = mode if mode != "auto" else monitor_direction(monitor)
        if direction is None:
            raise ValueError(
                f"{name}: mode='auto' cannot tell whether monitor={monitor!r} should be minimised "
                "or maximised. Pass mode='min' (lower is better) or mode='max' (higher is better)."
            )
        self.monitor = monitor
        self.mode = mode
        self.direction = direction
        self.min_delta = abs(float(min_delta))
        self.baseline = baseline
        self.best: float | None = baseline

    def _is_improvement(self, current: float, reference: float | None) -> bool:
        """Whether ``current`` beats ``reference`` by more than ``min_delta`` (NaN never does)."""
        return is_improvement(current, reference, self.direction, self.min_delta)


def _check_number(value: Any, argument: str, owner: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{owner}: {argument} must be a number; got {value!r}.")
    if math.isnan(float(value)):
        raise ValueError(f"{owner}: {argument} must be a number, not NaN.")
