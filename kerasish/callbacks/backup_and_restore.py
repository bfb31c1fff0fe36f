"""``BackupAndRestore``: resume an interrupted ``fit`` exactly where it stopped, mid-epoch included."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kerasish import sharded_checkpoint
from kerasish import state as state_lib
from kerasish.callbacks.base import Callback
from kerasish.callbacks.save_schedule import SaveSchedule


class BackupAndRestore(Callback):
    """Back up the whole training state and resume from it after an interruption, exactly.

    Each backup is the model's whole training state, in the format ``Model.save`` writes
    (``kerasish.state``): the module, optimizer and gradient-scaler state, the epoch and the number
    of batches done in it, the seed of the shuffle order, the random states (Python ``random``,
    NumPy, torch CPU and every CUDA device) and the ``state_dict()`` of every callback of the fit
    that keeps some (EarlyStopping and ReduceLROnPlateau counters, ModelCheckpoint's best value, a
    torch LR scheduler, CSVLogger's rows, and any user callback implementing the protocol). A
    backup loads with ``model.load_weights``, and a ``model.save`` file put in ``backup_dir`` as
    ``backup.pt`` seeds a resume. A new ``fit`` with a backup present continues from the same
    batch with the same shuffle order and random numbers, so on CPU it ends with the same weights,
    bit for bit, as a run that was never interrupted. Unlike Keras, a backup taken mid-epoch
    resumes mid-epoch.

    Every backup is written to a temporary file and moved into place, so a process killed at any
    instant leaves the previous backup intact. At the end of a successful fit the backup is
    deleted (``delete_checkpoint``); a fit that raised keeps it.

    When a callback stops training (``EarlyStopping``, ``TerminateOnNaN``, ``model.stop_training``)
    the state at that epoch's end is backed up (whatever ``save_freq``; under torchrun, on the
    ``save_freq`` schedule only) and marked finished. A
    rerun that finds such a backup (the job was interrupted in ``on_train_end``, or
    ``delete_checkpoint=False`` kept it) loads it and trains nothing more: it runs
    ``on_train_end`` only, so ``EarlyStopping(restore_best_weights=True)`` puts back its best
    weights and the backup is deleted, as after the uninterrupted run. (``model.epoch`` is then
    ``epochs``.) Use a new ``backup_dir`` to train further.

    Under torchrun every rank's random states and data position are gathered into the backup,
    rank 0 writes it, and every rank resumes from it with its own states, so a resumed
    multi-process run (dropout included) ends as an uninterrupted one would.

    What is exact: every input that can be read again (arrays, tensors, Datasets, DataLoaders:
    shuffled, with their own generator, with workers), with ``steps_per_epoch``,
    ``validation_split`` and gradient accumulation (a half-filled window's gradients are saved).
    A resumed DataLoader epoch re-reads, without training on them, the batches before the resume
    point, under the random states the epoch began with, so its order, its workers' seeds and
    what its dataset drew are the interrupted run's. The running loss and ``ks.metrics`` states
    are saved too, so the resumed epoch logs what an uninterrupted one would. Not exact: a one-shot
    iterator or generator (it cannot be rewound: a warning says so when resuming from one), a
    DataLoader with ``persistent_workers=True`` whose workers draw random numbers (their state
    lives in the worker processes), and a torchmetrics object's running state (its value covers
    the resumed part of the epoch).

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

    saves_training_state = True  # after the other callbacks' batch and epoch ends

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

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        self._schedule.reset()
        if self.model.is_main_process:
            _check_writable(self.backup_dir)
        found = self._read_backup()
        if found is not None:
            state, path = found
            state = self._unless_finished(state)
            try:
                state_lib.resume(self.model, state, path)
            except ValueError as error:
                raise ValueError(
                    f"BackupAndRestore: the backup does not match this model or optimizer: {error} "
                    "Use a new backup_dir for a different model, or delete the folder to start "
                    "from scratch."
                ) from error

    def on_train_batch_end(self, batch, logs=None):
        if self._schedule.batch_done():
            self._write_backup()

    def on_epoch_end(self, epoch, logs=None):
        # With an integer save_freq a backup taken on the epoch's last batch is refreshed as "epoch
        # done", so a resume does not replay an empty remainder of the epoch.
        # A stopped fit is backed up here too, so a rerun after an interrupted on_train_end finds
        # it finished. (Not under torchrun: there the ranks agree on stopping only after this
        # hook, and a backup is written by all of them together.)
        if self._schedule.per_epoch or self._schedule.batches_since_save == 0 or \
                self.model.stop_training and not _distributed():
            self._write_backup()

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not self.model.is_main_process:
            return
        for path in (self.latest_path, self.previous_path):
            sharded_checkpoint.remove(path)  # a file, or a sharded model's folder
        try:
            os.rmdir(self.backup_dir)  # only if nothing else lives there
        except OSError:
            pass

    def state_dict(self) -> dict[str, Any]:
        # Saved at an epoch end after a callback stopped training: the run is finished.
        model = self.model
        if model is not None and model.stop_training and model.step_in_epoch == 0:
            return {"training_stopped": True}
        return {}

    # ------------------------------------------------------------------ saving

    def _write_backup(self) -> None:
        """The model's whole training state (``kerasish.state``), where it stands now.

        Under torchrun every rank takes part (each rank's random states go into the file) and
        rank 0 writes it.
        """
        if self.model.is_main_process and self.double_checkpoint and self.latest_path.exists():
            sharded_checkpoint.remove(self.previous_path)  # a folder cannot be replaced in one step
            os.replace(self.latest_path, self.previous_path)  # atomic: the old one stays whole
        if self.model.is_sharded:  # each rank writes its shards (kerasish.sharded_checkpoint)
            sharded_checkpoint.save(self.model, self.latest_path)
        else:
            state_lib.save(self.model, self.latest_path, all_ranks=True)

    # ------------------------------------------------------------------ restoring

    def _unless_finished(self, state: dict[str, Any]) -> dict[str, Any]:
        """``state``, or for a backup of a stopped fit, ``state`` placed after the last epoch.

        Every ``BackupAndRestore`` of the fit saved the same mark (``state_dict``), so any entry of
        this class says so. Resumed after the last epoch, the fit trains nothing and runs
        ``on_train_end``; the callback states still come back (``EarlyStopping``'s best weights).
        """
        prefix = f"{type(self).__name__}#"
        stopped = any(key.startswith(prefix) and isinstance(value, Mapping)
                      and value.get("training_stopped")
                      for key, value in (state.get("callbacks") or {}).items())
        epochs = self.params.get("epochs")
        if not stopped or epochs is None:
            return state
        return {**state, "epoch": max(int(state.get("epoch", 0)), int(epochs)), "step_in_epoch": 0}

    def _read_backup(self) -> tuple[dict[str, Any], Path] | None:
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
            return _load(previous, self.model), previous
        try:
            return _load(latest, self.model), latest
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
            return _load(previous, self.model), previous


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _check_writable(folder: str) -> None:
    """Fail before the first step, not at the first backup, when the folder cannot take files."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = Path(folder) / ".kerasish-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ValueError(
            f"BackupAndRestore: backup_dir {folder!r} is not writable ({error.strerror or error}). "
            "Pass a folder this process can write to."
        ) from error


def _load(path: Path, model: Any) -> dict[str, Any]:
    """The backup at ``path``; a ValueError naming the file if it is damaged or not a full state."""
    try:
        if sharded_checkpoint.is_checkpoint(path):  # read into copies laid out as model's
            state = sharded_checkpoint.read(path, model)
        else:
            state = state_lib.read(path)
    except ValueError as error:
        raise ValueError(f"BackupAndRestore: the backup {str(path)!r} is unreadable ({error}).") from error
    if state.get("format") is None:
        raise ValueError(
            f"BackupAndRestore: {str(path)!r} is not a kerasish backup (it holds weights only)."
        )
    return state
