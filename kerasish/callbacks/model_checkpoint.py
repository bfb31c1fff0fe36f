"""``ModelCheckpoint``: save the model (or its weights) every epoch or every N batches.

The path-template logic (which fields a template uses, filling it, checking it before training)
lives here once; the W&B callbacks use it too.
"""

from __future__ import annotations

import os
import string
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasish import console, sharded_checkpoint
from kerasish.callbacks.monitor_callback import MonitorCallback, warn_missing_monitor
from kerasish.callbacks.save_schedule import SaveSchedule
from kerasish.distributed import main_decides


@dataclass(frozen=True)
class SavedFile:
    """One file a ``ModelCheckpoint`` wrote: its path, and the 0-based epoch and batch (``None``
    for an epoch-end save) it was written at."""

    path: str
    epoch: int
    batch: int | None = None


class ModelCheckpoint(MonitorCallback):
    """Save the model during training, optionally only when the monitored value improves.

    ``filepath`` is a format string filled with ``epoch`` (1-based), ``batch`` (1-based, with an
    integer ``save_freq``) and any log key: ``"ckpt/{epoch:02d}-{val_loss:.2f}.pt"``. Parent
    folders are created, and every file is written to a temporary file and moved into place, so a
    crash never leaves a torn checkpoint. Files load with ``Model.load_weights``; a full save
    (``save_weights_only=False``, see ``Model.save``) also restores the optimizer, so training
    continues where it was.

    The template and the folder are checked when training begins: a format that cannot take the
    values (``"{loss:02d}"``: a loss is a float), a validation key without validation data, or a
    folder that cannot be written is a ``ValueError`` before the first step, weights unchanged.

    Every file written is appended to ``saved`` (``SavedFile(path, epoch, batch)``), and
    ``on_save(saved_file)`` is called; a subclass overrides it to act on each new file (the W&B
    checkpoint uploads it).

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
    saves_sharded = True  # but every rank writes its shards of a sharded (FSDP) model

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
        self._fields = template_fields(self.filepath, "ModelCheckpoint")
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
        self.saved: list[SavedFile] = []
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self._schedule.reset()
        self._check_before_training()

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._schedule.batch_done():
            self._save(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def on_save(self, saved: SavedFile) -> None:
        """Called after each file is written; override to act on it (upload, copy, prune).

        Args:
            saved: the file just written, also the last entry of ``self.saved``: its ``path``,
                and the 0-based ``epoch`` and ``batch`` (``None`` for an epoch-end save).

        Example:
            class Announce(ks.callbacks.ModelCheckpoint):
                def on_save(self, saved):
                    print(f"epoch {saved.epoch + 1}: wrote {saved.path}")
        """

    # ------------------------------------------------------------------ checks

    def _check_before_training(self) -> None:
        """Fail before the first step on a template or folder that could not be written."""
        known = {"epoch": 1}
        if not self._schedule.per_epoch:
            known["batch"] = 1
        metric_names = list(getattr(self.model, "metrics_names", None) or [])
        do_validation = self.params.get("do_validation")
        if self._schedule.per_epoch and do_validation:
            metric_names += [f"val_{name}" for name in metric_names]
        unknown = sorted(self._fields - set(known) - set(metric_names))
        if do_validation is False or not self._schedule.per_epoch:
            # validation keys never reach these logs (no validation data, or batch logs)
            hopeless = [key for key in unknown if key.startswith("val_")]
            if hopeless:
                where = "batch logs" if not self._schedule.per_epoch else "the logs of a fit " \
                    "without validation data"
                raise TemplateKeyError(
                    f"ModelCheckpoint: filepath {self.filepath!r} uses {hopeless}, which "
                    f"{'is' if len(hopeless) == 1 else 'are'} not in the logs: never in {where}. "
                    f"Available keys: {sorted({*known, *metric_names})}. Pass validation data to "
                    "fit, or use one of them in the path."
                )
        values = {**known, **{key: 0.0 for key in self._fields if key not in known}}
        path = render_template(self.filepath, values, "ModelCheckpoint")
        if os.path.isdir(path):  # the first save would fail after an epoch of training
            raise ValueError(
                f"ModelCheckpoint: filepath {os.fspath(self.filepath)!r} is an existing folder; give "
                f"a file path inside it, such as {os.path.join(path, 'model.pt')!r}."
            )
        check_writable_folder(self.filepath, path, "ModelCheckpoint")

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
        return render_template(self.filepath, values, "ModelCheckpoint")

    def _save(self, epoch: int, batch: int | None, logs: Mapping[str, Any]) -> None:
        filepath = self._file_path(epoch, batch, logs)
        go = not self.save_best_only or self._best_so_far(epoch, logs, filepath)
        if self.model.is_sharded:  # a collective save: every rank follows rank 0's path and verdict
            filepath, go = main_decides((filepath, go))
        if not go:
            return
        if os.path.isdir(filepath) and not sharded_checkpoint.is_checkpoint(filepath):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is an existing folder; give a file path "
                "such as 'ckpt/model.pt'."
            )
        if self.verbose and not self.save_best_only:
            console.print_line(f"\nEpoch {epoch + 1}: saving model to {filepath}", model=self.model)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)  # at an epoch's end it records the next epoch to train
        saved = SavedFile(filepath, epoch, batch)
        self.saved.append(saved)
        if self.model.is_main_process:
            self.on_save(saved)

    def _best_so_far(self, epoch: int, logs: Mapping[str, Any], filepath: str) -> bool:
        if self.monitor not in logs:
            warn_missing_monitor("ModelCheckpoint", self.monitor, logs,
                                 "this checkpoint is saved anyway", stacklevel=4)
            return True
        current = float(logs[self.monitor])
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose:
                console.print_line(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                                   f"{current:.5f}, saving model to {filepath}", model=self.model)
            self.best = current
            return True
        if self.verbose:
            console.print_line(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}",
                               model=self.model)
        return False

    # ------------------------------------------------------------------ resuming

    def state_dict(self) -> dict[str, Any]:
        """The best value so far and the batches since the last save (for BackupAndRestore)."""
        return {"best": self.best, "batches_since_save": self._schedule.batches_since_save}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self._schedule.batches_since_save = state["batches_since_save"]



class TemplateKeyError(KeyError, ValueError):
    """A ``ModelCheckpoint`` path uses a key that is not in the logs (a ``KeyError`` as in Keras)."""

    def __str__(self) -> str:
        return str(self.args[0])


def template_fields(filepath: str, owner: str) -> set[str]:
    """The top-level names a format string uses: ``"{val_loss:.2f}"`` -> ``{"val_loss"}``.

    Raises:
        ValueError: a malformed template or a positional field (``"{}"``, ``"{0}"``).
    """
    try:
        parsed = list(string.Formatter().parse(filepath))
    except ValueError as error:
        raise ValueError(
            f"{owner}: filepath {filepath!r} is not a valid format string ({error}). "
            "Double any literal braces: '{{' and '}}'."
        ) from error
    fields = set()
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ValueError(
                f"{owner}: filepath {filepath!r} has a positional field '{{{field}}}'; "
                "name the value instead, e.g. '{epoch:02d}' or '{val_loss:.2f}'."
            )
        fields.add(field.split(".")[0].split("[")[0])
    return fields


def render_template(filepath: str, values: Mapping[str, Any], owner: str) -> str:
    """``filepath`` filled with ``values``; a format the values cannot take is a ValueError.

    Example:
        render_template("ckpt/{epoch:02d}-{loss:.2f}.pt", {"epoch": 3, "loss": 0.5}, "X")
        # 'ckpt/03-0.50.pt'
    """
    try:
        return filepath.format(**values)
    except (ValueError, TypeError, IndexError, AttributeError) as error:
        types = {k: type(v).__name__ for k, v in values.items()}
        raise ValueError(
            f"{owner}: filepath {filepath!r} cannot be filled ({type(error).__name__}: {error}). "
            f"The values have these types: {types}; log values are floats, so use a float format "
            "such as '{loss:.4f}', and integers ('{epoch:02d}') only for epoch and batch."
        ) from error


def check_writable_folder(template: str, example_path: str, owner: str) -> None:
    """Create the deepest folder of ``template`` that does not depend on a field and check that a
    file can be written there; a ValueError naming the folder otherwise."""
    parents = Path(example_path).parent.parts
    template_parents = Path(template).parent.parts
    fixed: list[str] = []
    for rendered, raw in zip(parents, template_parents):
        if "{" in raw:
            break
        fixed.append(rendered)
    folder = Path(*fixed) if fixed else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"{owner}: cannot write checkpoints under {os.fspath(folder)!r} ({type(error).__name__}: "
            f"{error}). Give a filepath in a folder you can write to."
        ) from error

