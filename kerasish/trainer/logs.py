"""The logs a loop hands to callbacks and returns: read from the device once, and only when asked."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np
import torch

from kerasish.tree import map_together


def materialize(values: Mapping[str, Any]) -> dict[str, float]:
    """Turn running results into Python floats with a single host read.

    ``values`` maps log keys to 0-d tensors, numbers, or functions returning either (the running
    results of the default step); tensors are read together in one transfer.
    """
    if not values:
        return {}
    resolved = {k: v() if callable(v) else v for k, v in values.items()}
    tensors = {k: v for k, v in resolved.items() if isinstance(v, torch.Tensor)}
    floats = {k: float(v) for k, v in resolved.items() if k not in tensors}
    if tensors:
        flat = [t.detach().float().reshape(()) for t in tensors.values()]
        device = flat[0].device
        floats.update(zip(tensors, torch.stack([t.to(device) for t in flat]).tolist()))
    return {k: floats[k] for k in resolved}


class LazyLogs(MutableMapping):
    """Batch logs whose values are read from the device only when a callback looks at them.

    A fit whose callbacks never read batch logs therefore performs no host read per step. The
    values are computed at the first read, which callbacks do inside their hook; all keys are read
    together in one transfer. It behaves as a mutable mapping (callbacks may add, change or pop
    keys, as Keras callbacks do with a dict), and ``copy()`` returns a plain dict.
    """

    __slots__ = ("_fns", "_values", "_extra")

    def __init__(self, fns: Mapping[str, Any]):
        self._fns = fns
        self._values: dict[str, Any] | None = None
        self._extra: dict[str, Any] = {}  # keys set before any read: adding one costs no read

    def _materialized(self) -> dict[str, Any]:
        if self._values is None:
            values = materialize(self._fns)
            values.update(self._extra)
            self._values = values
        return self._values

    def __getitem__(self, key: str) -> Any:
        if self._values is None and key in self._extra:
            return self._extra[key]
        return self._materialized()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if self._values is None:
            self._extra[key] = value
        else:
            self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._materialized()[key]

    def _keys(self):
        if self._values is not None:
            return self._values.keys()
        return list(self._fns) + [k for k in self._extra if k not in self._fns]

    def __iter__(self):
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __contains__(self, key: object) -> bool:
        return key in self._keys()

    def copy(self) -> dict[str, Any]:
        return dict(self._materialized())

    def __repr__(self) -> str:
        return f"LazyLogs({dict(self)!r})"


def step_logs(results: Any, step: str) -> Mapping[str, Any]:
    """A custom step's returned logs, nested dicts flattened as Keras does (``None``: empty)."""
    if results is None:
        return {}
    if not isinstance(results, Mapping):
        raise TypeError(
            f"{step} must return a dict of logs ({{'loss': loss, ...}}); got "
            f"{type(results).__name__}."
        )
    if not any(isinstance(v, Mapping) for v in results.values()):
        return results
    flat: dict[str, Any] = {}
    for key, value in results.items():
        if isinstance(value, Mapping):
            flat.update(step_logs(value, step))
        else:
            flat[key] = value
    return flat


def keras_results(metric_names: Sequence[str], logs: dict[str, float], return_dict: bool):
    """``evaluate``/``*_on_batch`` results: the logs, or a list in Keras 3's order.

    Keras lists the values of ``model.metrics`` by name (``metric_names``: the loss, a single
    output's metrics in compile order, the per-output losses, ...), then every other log key
    sorted by name: for a multi-output model ``loss, output_0_loss, output_1_loss`` and then the
    per-output metrics alphabetically. A name listed twice gives its value once (Keras 3.15.1
    repeats it).
    """
    if return_dict:
        return logs
    names = list(dict.fromkeys(metric_names))
    values = [logs[name] for name in names if name in logs]
    values += [logs[key] for key in sorted(logs) if key not in names]
    return values[0] if len(values) == 1 else values


def concat_to_numpy(outputs: list) -> Any:
    """``predict``'s per-batch outputs as NumPy arrays joined along the batch dimension."""
    if not outputs:
        return np.empty((0,))
    return map_together(_concat_leaf, outputs)


def _concat_leaf(outputs: Sequence[torch.Tensor]) -> np.ndarray:
    """One output's per-batch tensors as one NumPy array, on the host."""
    joined = torch.cat([o.detach() for o in outputs])
    if joined.dtype in (torch.float16, torch.bfloat16):
        joined = joined.float()  # NumPy has no bfloat16; mixed-precision outputs come back float32
    return joined.cpu().numpy()
