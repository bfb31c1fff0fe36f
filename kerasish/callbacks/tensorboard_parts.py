"""The parts of ``TensorBoardCallback`` that need no callback state: the profile range, the steps
already on disk, histogram and image values, and the first input recorded for the graph."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from kerasish.callbacks.tracking import finite_values
from kerasish.checks import is_int
from kerasish.tree import map_structure

_OWNER = "TensorBoardCallback"


def profile_range(profile_batch: Any) -> tuple[int, int] | None:
    """Keras's ``profile_batch``: 0 (off), N, ``(start, stop)`` or ``"start,stop"`` (1-based)."""
    message = (f"{_OWNER}: profile_batch must be a non-negative integer or a pair of positive "
               f"integers (start, stop) with start <= stop, e.g. 5 or (10, 20); got {profile_batch!r}.")
    value = profile_batch
    if isinstance(value, str):
        try:
            value = tuple(int(part) for part in value.split(","))
        except ValueError as error:
            raise ValueError(message) from error
        value = value[0] if len(value) == 1 else value
    if is_int(value, least=0):
        return None if value == 0 else (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        start, stop = int(value[0]), int(value[1])
        if start == stop == 0:
            return None
        if 0 < start <= stop:
            return (start, stop)
    raise ValueError(message)


def steps_on_disk(log_dir: str) -> tuple[int | None, int | None]:
    """The last epoch step (``epoch_*`` tags) and the last batch step (``batch_*`` and
    ``evaluation_*`` tags) already written in ``log_dir/train`` and ``log_dir/validation``."""
    last_epoch = last_batch = None
    files = [f for run in ("train", "validation") for f in Path(log_dir, run).glob("events.out.tfevents.*")]
    if not files:
        return None, None
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    for path in files:
        try:
            for event in EventFileLoader(os.fspath(path)).Load():
                for value in event.summary.value:
                    if value.tag.startswith("epoch_"):
                        last_epoch = event.step if last_epoch is None else max(last_epoch, event.step)
                    elif value.tag.startswith(("batch_", "evaluation_")):
                        last_batch = event.step if last_batch is None else max(last_batch, event.step)
        except Exception:  # noqa: BLE001 - a damaged file tells nothing; the others still count
            continue
    return last_epoch, last_batch


def histogram_values(tensor: torch.Tensor) -> torch.Tensor:
    values = finite_values(tensor)
    return values if values is not None else torch.zeros(1)


class FirstInput:
    """Records the inputs of the module's next forward call, then removes itself.

    One forward pre-hook for one call: the first training batch's inputs, cut to one sample, for
    tracing the graph. Nothing stays attached to later steps.
    """

    def __init__(self, module: torch.nn.Module):
        self.args: tuple[Any, ...] | None = None
        self.kwargs: dict[str, Any] = {}
        self._handle: RemovableHandle | None = module.register_forward_pre_hook(
            self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        if self.args is None:
            self.args = map_structure(one_sample, tuple(args))
            self.kwargs = map_structure(one_sample, dict(kwargs))
        self.remove()

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def one_sample(leaf: Any) -> Any:
    """A tensor leaf cut to its first sample (a scalar copied whole); other leaves as they are."""
    if isinstance(leaf, torch.Tensor):
        return leaf.detach()[:1].clone() if leaf.dim() else leaf.detach().clone()
    return leaf


def rng_devices(module: torch.nn.Module) -> list:
    devices = {p.device for p in module.parameters() if p.device.type == "cuda"}
    return sorted(d.index or 0 for d in devices)


def weight_image(weight: torch.Tensor) -> torch.Tensor | None:
    """A weight as NCHW greyscale images in [0, 1]: a bias as one row, a matrix as itself (wide
    side horizontal), a convolution kernel as one small image per (out, in) channel pair."""
    w = weight.detach().float().cpu()
    if w.dim() == 1:
        w = w.reshape(1, 1, 1, -1)
    elif w.dim() == 2:
        if w.shape[0] > w.shape[1]:
            w = w.t()
        w = w.reshape(1, 1, *w.shape)
    elif w.dim() >= 3:
        w = w.reshape(-1, 1, w.shape[-2], w.shape[-1])
    else:
        return None
    low, high = w.min(), w.max()
    return (w - low) / (high - low) if high > low else torch.zeros_like(w)


def hparam_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return str(value)
