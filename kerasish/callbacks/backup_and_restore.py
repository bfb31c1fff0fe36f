"""``BackupAndRestore``: resume an interrupted ``fit`` exactly where it stopped, mid-epoch included."""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kerasish.callbacks.base import Callback
from kerasish.callbacks.save_schedule import SaveSchedule
from kerasish.io import atomic_torch_save

_FORMAT = "kerasish.backup.v1"

class BackupAndRestore(Callback):
    """Back up the whole training state and resume from it after an interruption, exactly.

    Each backup holds the module, optimizer and gradient-scaler state, the epoch and the number of
    batches done in it, the seed of the shuffle order, the random states (Python ``random``, NumPy,
    torch CPU and every CUDA device) and the state of the other callbacks of the fit that keep some
    (EarlyStopping and ReduceLROnPlateau counters, ModelCheckpoint's best value, a torch LR
    scheduler, CSVLogger's rows). A new ``fit`` with a backup present continues from the same
    batch with the same shuffle order and random numbers, so on CPU it ends with the same weights,
    bit for bit, as a run that was never interrupted. Unlike Keras, a backup taken mid-epoch
    resumes mid-epoch.

    Every backup is written to a temporary file and moved into place, so a process killed at any
    instant leaves the previous backup intact. At the end of a successful fit the backup is
    deleted (``delete_checkpoint``); a fit that raised keeps it.

    Under torchrun only rank 0 writes, and every rank restores from that file: weights, optimizer
    and data order are exact, but every rank continues with rank 0's random state, so a resumed
    multi-process run matches an uninterrupted one bit for bit only if the model draws no random
    numbers (no dropout).

    Limits: the loss and metric values logged for the resumed epoch cover only its resumed part.
    Exact resume needs a fit without ``steps_per_epoch`` (with it, a resumed epoch runs its full
    number of steps again) and, with ``gradient_accumulation_steps > 1``, a ``save_freq`` that is a
    multiple of it (a half-filled accumulation window is not saved).

    Args:
        backup_dir: the folder for the backup files (created when needed). Use one folder per run.
        save_freq: ``"epoch"`` to back up at each epoch end, or an integer N to back up every N
            batches (counted across epochs).
        delete_checkpoint: delete the backup files when ``fit`` finishes successfully.
        double_checkpoint: keep the previous backup too, and fall back to it (with a warning) when
            the latest one cannot be read.

    Example:
        backup = ks.callbacks.BackupAndRestore("backups/run1", save_freq=100)
        model.fit(x, y, epochs=20, callbacks=[backup])   # rerun the same line after a crash
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 delete_checkpoint: bool = True, double_checkpoint: bool = False) -> None:
        super().__init__()
        if backup_dir is None or not os.fspath(backup_dir):
            raise ValueError(
                f"BackupAndRestore: backup_dir must be a folder path; got {backup_dir!r}. Pass a "
                "folder for this run's backups, e.g. BackupAndRestore('backups/run1')."
            )
        self._schedule = SaveSchedule(save_freq, "BackupAndRestore", action="back up")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.double_checkpoint = double_checkpoint
        self.latest_path = Path(self.backup_dir) / "backup.pt"
        self.previous_path = Path(self.backup_dir) / "backup.prev.pt"
        self._pending_callback_states: dict[str, Any] | None = None

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        self._schedule.reset()
        self._pending_callback_states = None
        state = self._read_backup()
        if state is None:
            return
        self._restore(state)

    def on_epoch_begin(self, epoch, logs=None):
        # Applied here, not in on_train_begin: every callback has reset itself by now.
        if self._pending_callback_states is not None:
            for key, callback in self._resumable_callbacks().items():
                if key in self._pending_callback_states:
                    callback._set_resume_state(self._pending_callback_states[key])
            self._pending_callback_states = None

    def on_train_batch_end(self, batch, logs=None):
        if self._schedule.batch_done():
            self._write_backup(self.model._epoch, self.model._steps_done)

    def on_epoch_end(self, epoch, logs=None):
        # With an integer save_freq a backup taken on the epoch's last batch is refreshed as "epoch
        # done", so a resume does not replay an empty remainder of the epoch.
        if self._schedule.per_epoch or self._schedule.batches_since_save == 0:
            self._write_backup(epoch + 1, 0)

    def _is_main_process(self) -> bool:
        group = getattr(self.model, "_group", None)
        return group is None or group.is_main

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not self._is_main_process():
            return
        for path in (self.latest_path, self.previous_path):
            path.unlink(missing_ok=True)
        try:
            os.rmdir(self.backup_dir)  # only if nothing else lives there
        except OSError:
            pass

    # ------------------------------------------------------------------ saving

    def _resumable_callbacks(self) -> dict[str, Any]:
        """This fit's callbacks with state to resume, keyed by position and class.

        A callback takes part by implementing ``_get_resume_state() -> dict`` and
        ``_set_resume_state(state)`` (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, CSVLogger,
        a LearningRateScheduler driving a torch scheduler).
        """
        found = {}
        for callback in self.model._callbacks:
            if callback is not self and hasattr(callback, "_get_resume_state"):
                found[f"{len(found)}:{type(callback).__name__}"] = callback
        return found

    def _write_backup(self, epoch: int, steps_done: int) -> None:
        if not self._is_main_process():
            return  # under torchrun rank 0 writes; every rank restores from its file
        model = self.model
        state = {
            "format": _FORMAT,
            "module": model.module.state_dict(),
            "optimizer": model.optimizer.state_dict(),
            "scaler": model._engine.scaler.state_dict(),
            "epoch": int(epoch),
            "steps_done": int(steps_done),
            "data_seed": int(model._data_seed),
            "rng": _rng_states(),
            "callbacks": {k: cb._get_resume_state() for k, cb in self._resumable_callbacks().items()},
        }
        if self.double_checkpoint and self.latest_path.exists():
            os.replace(self.latest_path, self.previous_path)  # atomic: the old one stays whole
        atomic_torch_save(state, self.latest_path)

    # ------------------------------------------------------------------ restoring

    def _read_backup(self) -> dict[str, Any] | None:
        latest, previous = self.latest_path, self.previous_path
        fallback = self.double_checkpoint and previous.exists()
        if not latest.exists():
            if not fallback:
                return None
            warnings.warn(
                f"BackupAndRestore: the latest backup {str(latest)!r} is missing (the process "
                f"stopped while replacing it); resuming from the previous one, {str(previous)!r}.",
                UserWarning,
                stacklevel=2,
            )
            return _load(previous)
        try:
            return _load(latest)
        except ValueError as error:
            if not fallback:
                hint = "" if self.double_checkpoint else " or use double_checkpoint=True to keep a fallback"
                raise ValueError(
                    f"{error} Delete it to start training from scratch{hint}."
                ) from error.__cause__
            warnings.warn(
                f"{error} Resuming from the previous backup, {str(previous)!r}.",
                UserWarning,
                stacklevel=2,
            )
            return _load(previous)

    def _restore(self, state: dict[str, Any]) -> None:
        model = self.model
        try:
            model.module.load_state_dict(state["module"])
            model.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise ValueError(
                f"BackupAndRestore: the backup {str(self.latest_path)!r} does not match this model "
                f"or optimizer ({error}). Use a new backup_dir for a different model, or delete "
                "the folder to start from scratch."
            ) from error
        if state.get("scaler"):
            model._engine.scaler.load_state_dict(state["scaler"])
        _set_rng_states(state["rng"])
        model._data_seed = state["data_seed"]
        model._resume_point = (state["epoch"], state["steps_done"])
        self._pending_callback_states = state.get("callbacks") or {}


def _load(path: Path) -> dict[str, Any]:
    """The backup at ``path``; a ValueError naming the file if it is damaged."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a torn or foreign file
        raise ValueError(
            f"BackupAndRestore: the backup {str(path)!r} is unreadable ({type(error).__name__}: "
            f"{str(error)[:200]})."
        ) from error
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(f"BackupAndRestore: {str(path)!r} is not a kerasish backup.")
    return state


def _rng_states() -> dict[str, Any]:
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = states["numpy"]
    np.random.set_state({
        "bit_generator": numpy_state["bit_generator"],
        "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
        "has_gauss": numpy_state["has_gauss"],
        "gauss": numpy_state["gauss"],
    })
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"][: torch.cuda.device_count()])
