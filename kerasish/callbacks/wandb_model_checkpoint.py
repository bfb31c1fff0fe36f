"""``WandbModelCheckpoint``: ModelCheckpoint that logs each file to W&B as it is written, named as
W&B's Keras integration names it."""

from __future__ import annotations

import os

from kerasish.callbacks.model_checkpoint import ModelCheckpoint, SavedFile
from kerasish.callbacks.wandb import import_wandb


class WandbModelCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose every file is logged to the active W&B run right after it is
    written, as an artifact ``run_<run id>_model`` of type ``model`` with aliases ``latest`` and
    ``epoch_<epoch>`` (or ``epoch_<epoch>_batch_<batch>`` with an integer ``save_freq``; 0-based,
    as W&B's Keras integration names them).

    Drop-in for ``wandb.integration.keras.WandbModelCheckpoint`` (which imports TensorFlow), with
    ``ModelCheckpoint``'s arguments and behaviour (templates, ``save_best_only``, checks before
    training). It needs ``wandb.init()`` before it is created.

    Args:
        filepath, monitor, verbose, save_best_only, save_weights_only, mode, save_freq,
        initial_value_threshold: as ``ModelCheckpoint``.

    Example:
        wandb.init(project="digits")
        checkpoint = ks.callbacks.WandbModelCheckpoint("ckpt/{epoch:02d}.pt", monitor="val_loss",
                                                       save_best_only=True)
        model.fit(x, y, validation_split=0.1, epochs=10, callbacks=[checkpoint])
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__(filepath, monitor=monitor, verbose=verbose, save_best_only=save_best_only,
                         save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
                         initial_value_threshold=initial_value_threshold)
        wandb = import_wandb("WandbModelCheckpoint")
        if wandb.run is None:
            raise wandb.Error("You must call `wandb.init()` before `WandbModelCheckpoint()`")
        self._wandb = wandb
        if save_best_only and not self._fields:
            wandb.termwarn(
                "When using `save_best_only`, ensure that the `filepath` argument contains "
                "formatting placeholders like `{epoch:02d}` or `{batch:02d}`. This ensures correct "
                "interpretation of the logged artifacts.", repeat=False,
            )

    def on_save(self, saved: SavedFile) -> None:
        run = self._wandb.run
        if run is None:
            return
        artifact = self._wandb.Artifact(f"run_{run.id}_model", type="model")
        artifact.add_file(saved.path)
        suffix = "" if saved.batch is None else f"_batch_{saved.batch}"
        run.log_artifact(artifact, aliases=["latest", f"epoch_{saved.epoch}{suffix}"])
