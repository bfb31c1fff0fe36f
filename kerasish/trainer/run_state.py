"""Where a run stands: the one owner of a fit's position, shuffle seed and pending resume.

``Model`` holds one ``RunState``; the fit loop moves it forward, ``Model.training_state_dict``
saves it and ``Model.load_training_state`` checks it (``check_state_dict``), then puts it back (a
resume leaves the saved state pending here, for the next fit to apply after its callbacks'
``on_train_begin``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from kerasish import state as state_lib
from kerasish.trainer.logs import materialize

if TYPE_CHECKING:
    from kerasish.callbacks.base import Callback
    from kerasish.data import EpochIterator


@dataclass
class RunState:
    """The position of a fit, what a backup saves of it, and a resume waiting to be applied.

    Attributes:
        epoch: the epoch being trained (0-based); after an epoch ends, the next one.
        step_in_epoch: batches finished in the current epoch.
        data_seed: seeds this fit's shuffling: epoch ``e``'s order comes from ``data_seed + e``.
        pending_resume: a saved state the next (or the starting) fit continues from.
        callbacks: the running fit's callbacks, whose ``state_dict()`` a save records.
        train_batches: the running fit's data, whose position a save records.
        example_input: one sample of the last training batch seen, for ``summary`` and ``export``.
        last_results: the last training step's results (device values, read only when saved): a
            backup taken after an epoch's last batch carries them as ``"last_logs"``, so a run
            interrupted during that epoch's validation resumes with the epoch's logs.
    """

    epoch: int = 0
    step_in_epoch: int = 0
    data_seed: int = 0
    pending_resume: Mapping[str, Any] | None = None
    callbacks: list[Callback] = field(default_factory=list)
    train_batches: EpochIterator | None = None
    example_input: Any = None
    last_results: Mapping[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        """The run's part of a saved training state."""
        return {
            "epoch": int(self.epoch),
            "step_in_epoch": int(self.step_in_epoch),
            "data_seed": int(self.data_seed),
            "callbacks": state_lib.callback_states(self.callbacks),
            "data": None if self.train_batches is None else self.train_batches.state(),
            "last_logs": numeric_logs(self.last_results) if self.step_in_epoch else None,
        }

    def load_state_dict(self, state: Mapping[str, Any], resume: bool = False) -> None:
        """Take back the epoch; with ``resume``, also the seed, and keep the state for the next fit."""
        self.epoch = int(state.get("epoch", 0))
        if not resume:
            return
        if state.get("data_seed") is not None:
            self.data_seed = int(state["data_seed"])
        self.pending_resume = state

    @staticmethod
    def check_state_dict(state: Mapping[str, Any], filepath: str | os.PathLike, resume: bool = False) -> None:
        """Refuse a malformed run part of a saved state before anything is loaded.

        Args:
            state: the saved training state (for a resume, with this rank's part merged).
            filepath: the file it came from, named in error messages.
            resume: also check what the resumed fit takes: callback, metric and data states.

        Raises:
            ValueError: naming the file and the malformed key.
        """
        state_lib.check_count(state, "epoch", filepath)
        state_lib.check_count(state, "step_in_epoch", filepath)
        state_lib.check_count(state, "data_seed", filepath, optional=True)
        if not resume:
            return
        state_lib.check_dict(state.get("callbacks"), "'callbacks'", filepath, values_too=True)
        state_lib.check_dict(state.get("metrics"), "'metrics'", filepath, values_too=True)
        _check_last_logs(state.get("last_logs"), filepath)
        data = state.get("data")
        if data is None:
            return
        state_lib.check_dict(data, "'data'", filepath)
        for key in ("pass", "read"):
            if not state_lib.is_int(data.get(key)) or data[key] < 0:
                raise state_lib.malformed(filepath, f"'data'[{key!r}]", "must be a non-negative integer, "
                                          f"found {state_lib.describe(data.get(key))}")
        generators = data.get("generators", [])
        if not isinstance(generators, (list, tuple)) or not all(
                isinstance(g, torch.Tensor) for g in generators):
            raise state_lib.malformed(filepath, "'data'['generators']",
                                      f"must be a list of tensors, found {state_lib.describe(generators)}")

    @property
    def resume_pending(self) -> bool:
        return self.pending_resume is not None

    def take_resume(self) -> Mapping[str, Any] | None:
        """The pending resume, handed to the fit that applies it (and forgotten here)."""
        resume, self.pending_resume = self.pending_resume, None
        return resume

    @contextlib.contextmanager
    def running(self, callbacks: list[Callback], batches: EpochIterator) -> Iterator[None]:
        """While a fit runs, its callbacks and data position belong to the saved training state."""
        self.callbacks, self.train_batches = callbacks, batches
        try:
            yield
        finally:
            self.callbacks, self.train_batches, self.last_results = [], None, None


def numeric_logs(results: Mapping[str, Any] | None) -> dict[str, float] | None:
    """The numeric entries of a step's results as floats (what a custom ``train_step`` returned
    besides numbers, such as a string or a list, is not saved)."""
    if results is None:
        return None
    numeric = {key: value for key, value in results.items()
               if callable(value) or isinstance(value, (int, float)) and not isinstance(value, bool)
               or isinstance(value, torch.Tensor) and value.numel() == 1}
    return materialize(numeric)


def _check_last_logs(logs: Any, filepath: str | os.PathLike) -> None:
    if logs is None:
        return
    if not isinstance(logs, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) for k, v in logs.items()):
        raise state_lib.malformed(filepath, "'last_logs'", "must be a dict of log names to numbers, "
                                  f"found {state_lib.describe(logs)}")
