"""``ModelCheckpoint``: save the model (or its weights) every epoch or every N batches."""

from __future__ import annotations

import os
import string
import warnings
from collections.abc import Mapping
from typing import Any

from kerasish.callbacks.monitor_callback import MonitorCallback
from kerasish.callbacks.save_schedule import SaveSchedule


class ModelCheckpoint(MonitorCallback):
    """Save the model during training, optionally only when the monitored value improves.

    ``filepath`` is a format string filled with ``epoch`` (1-based), ``batch`` (1-based, with an
    integer ``save_freq``) and any log key: ``"ckpt/{epoch:02d}-{val_loss:.2f}.pt"``. Parent
    folders are created, and every file is written to a temporary file and moved into place, so a
    crash never leaves a torn checkpoint. Files load with ``Model.load_weights``; a full save
    (``save_weights_only=False``, see ``Model.save``) also restores the optimizer, so training
    continues where it was.

    Args:
        filepath: where to save; a format string as above.
        monitor: the log key that ``save_best_only`` compares.
        verbose: 1 prints a line for each save (and each skipped save with ``save_best_only``).
        save_best_only: save only when ``monitor`` improves on the best value so far. A monitor
            missing from the logs warns and saves anyway.
        save_weights_only: save only the module's ``state_dict`` instead of the full state.
        mode: ``"auto"``, ``"min"`` or ``"max"``: which way ``monitor`` improves.
        save_freq: ``"epoch"``, or an integer N to save every N batches (counted across epochs).
        initial_value_threshold: with ``save_best_only``, the value the first save must beat.

    Example:
        checkpoint = ks.callbacks.ModelCheckpoint(
            "ckpt/best.pt", monitor="val_accuracy", save_best_only=True)
        model.fit(x, y, validation_split=0.1, epochs=10, callbacks=[checkpoint])
        model.load_weights("ckpt/best.pt")
    """

    rank_zero_only = True  # under torchrun only the main process writes (weights agree on all)

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
            raise ValueError(
                f"ModelCheckpoint: filepath must be a file path such as 'ckpt/{{epoch:02d}}.pt'; "
                f"got {filepath!r}."
            )
        self._schedule = SaveSchedule(save_freq, "ModelCheckpoint")
        self.filepath = os.fspath(filepath)
        self._fields = _template_fields(self.filepath)
        if "batch" in self._fields and save_freq == "epoch":
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} uses {{batch}}, which is only known "
                "with an integer save_freq. Pass save_freq=N (save every N batches) or remove "
                "{batch} from the path."
            )
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self._schedule.reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._schedule.batch_done():
            self._save(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    # ------------------------------------------------------------------ saving

    def _file_path(self, epoch: int, batch: int | None, logs: Mapping[str, Any]) -> str:
        values: dict[str, Any] = {"epoch": epoch + 1}
        if batch is not None:
            values["batch"] = batch + 1
        wanted = self._fields - set(values)
        missing = sorted(k for k in wanted if k not in logs)
        if missing:
            available = sorted({*values, *logs})
            raise TemplateKeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} uses {missing}, which "
                f"{'is' if len(missing) == 1 else 'are'} not in the logs. Available keys: "
                f"{available}. Use one of them in the path."
            )
        values.update({k: logs[k] for k in wanted})  # batch logs are read only for these keys
        return self.filepath.format(**values)

    def _save(self, epoch: int, batch: int | None, logs: Mapping[str, Any]) -> None:
        filepath = self._file_path(epoch, batch, logs)
        if self.save_best_only and not self._best_so_far(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is an existing folder; give a file path "
                "such as 'ckpt/model.pt'."
            )
        if self.verbose and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)  # at an epoch's end it records the next epoch to train

    def _best_so_far(self, epoch: int, logs: Mapping[str, Any], filepath: str) -> bool:
        if self.monitor not in logs:
            warnings.warn(
                f"ModelCheckpoint: can save the best model only with {self.monitor!r} in the logs; "
                f"it is missing (available: {sorted(logs)}), so this checkpoint is saved anyway. "
                "Pass a monitor from the available keys (validation keys need validation data).",
                UserWarning,
                stacklevel=3,
            )
            return True
        current = float(logs[self.monitor])
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                      f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    # ------------------------------------------------------------------ BackupAndRestore

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "batches_since_save": self._schedule.batches_since_save}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self._schedule.batches_since_save = state["batches_since_save"]


class TemplateKeyError(KeyError, ValueError):
    """A ``ModelCheckpoint`` path uses a key that is not in the logs (a ``KeyError`` as in Keras)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _template_fields(filepath: str) -> set[str]:
    """The top-level names a format string uses: ``"{val_loss:.2f}"`` -> ``{"val_loss"}``."""
    try:
        parsed = list(string.Formatter().parse(filepath))
    except ValueError as error:
        raise ValueError(
            f"ModelCheckpoint: filepath {filepath!r} is not a valid format string ({error}). "
            "Double any literal braces: '{{' and '}}'."
        ) from error
    fields = set()
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ValueError(
                f"ModelCheckpoint: filepath {filepath!r} has a positional field '{{{field}}}'; "
                "name the value instead, e.g. '{epoch:02d}' or '{val_loss:.2f}'."
            )
        fields.add(field.split(".")[0].split("[")[0])
    return fields
