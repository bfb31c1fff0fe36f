"""The logs a loop hands to callbacks and returns: read from the device once, and only when asked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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


class LazyLogs(dict):
    """Batch logs whose values are read from the device only when a callback looks at them.

    A ``dict``, as Keras's batch logs are (``isinstance(logs, dict)`` holds in ported callbacks),
    whose keys are there from the start and whose values are read at the first look, all together
    in one transfer: a fit whose callbacks never read batch values performs no host read per step.
    Callbacks may add, change or pop keys as with any dict; a key set before the first read keeps
    the value set. ``copy()`` returns a plain dict.

    Every Python-level read goes through the methods below. C code that reads a dict's storage
    directly (``json.dumps``) sees the running-value getters until something has read the logs;
    ``json.dumps(logs.copy())`` is always right.
    """

    __slots__ = ("_fns", "_set_early", "_read")

    def __init__(self, fns: Mapping[str, Any]):
        super().__init__(fns)  # keys now; each value is its getter until the first read
        self._fns = fns
        self._set_early: set[str] = set()  # keys a callback set before the first read
        self._read = False

    def _fill(self) -> None:
        if self._read:
            return
        self._read = True
        pending = {k: v for k, v in self._fns.items() if k not in self._set_early}
        for key, value in materialize(pending).items():
            if dict.__contains__(self, key):  # a callback may have popped it
                dict.__setitem__(self, key, value)

    def __getitem__(self, key: str) -> Any:
        if not self._read and key in self._set_early:
            return dict.__getitem__(self, key)
        self._fill()
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if not self._read:
            self._set_early.add(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self._fill()
        dict.__delitem__(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.keys(self))  # keys need no read (and dict(logs) then reads values here)

    def __eq__(self, other: object) -> bool:
        self._fill()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other


    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def values(self):
        self._fill()
        return dict.values(self)

    def items(self):
        self._fill()
        return dict.items(self)

    def pop(self, key: str, *default: Any) -> Any:
        self._fill()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._fill()
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def copy(self) -> dict[str, Any]:
        self._fill()
        return dict(dict.items(self))

    __copy__ = copy

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        return {**self.copy(), **other}

    def __ror__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        return {**other, **self.copy()}

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (self.copy(),)  # pickled and deep-copied as the plain dict it reads as

    def __repr__(self) -> str:
        return f"LazyLogs({self.copy()!r})"


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
