"""``WandbCallback``: log a kerasish fit to Weights & Biases, without TensorFlow.

``wandb.integration.keras`` imports TensorFlow, so it cannot serve a PyTorch loop; this callback
does the same job from kerasish's hooks. What it logs:

- config: your ``config`` plus ``optimizer``, ``learning_rate``, ``loss``, ``metrics``,
  ``batch_size``, ``epochs``, ``precision``, ``num_parameters`` (keys you set are kept as you set
  them, so a sweep's values are never overwritten);
- one row per epoch with the epoch logs under their own keys and ``epoch`` as their x axis;
- with ``log_freq=N``, one row every N batches: ``batch/<key>`` against ``batch/step``;
- with ``watch``, histograms ``gradients/<param>`` / ``parameters/<param>`` every ``watch_freq``
  batches, taken at the batch end (no hook runs on every backward, unlike ``wandb.watch``);
- summary ``best_<monitor>`` and ``best_epoch``; with ``save_model``, model artifacts.

Rows are logged without an explicit ``step`` so W&B's step only increases and no row is dropped,
even when your own code logs to the same run. If W&B fails mid-training the callback warns once and
stops logging; training goes on.
"""

from __future__ import annotations

import math
import os
import string
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kerasish.callbacks.base import Callback
from kerasish.callbacks.monitor_callback import monitor_direction

_WATCH = (None, "gradients", "parameters", "all")
_HISTOGRAM_BINS = 64


def _import_wandb():
    try:
        import wandb
    except ImportError as error:
        raise ImportError(
            "WandbCallback needs the wandb package: pip install kerasish[wandb] (or pip install wandb)."
        ) from error
    return wandb


class WandbCallback(Callback):
    """Logs config, epoch and batch values, histograms, best values and models to W&B.

    Args:
        project, name, config, tags, **init_kwargs: passed to ``wandb.init`` when this callback
            starts the run. It starts one only if ``run`` is not given and no run is active
            (``wandb.run``: your own, or one a sweep agent made), and it finishes only a run it
            started, at the end of each fit.
        run: an existing run to log to (left open).
        log_freq: ``"epoch"`` logs epoch rows only; ``"batch"`` or an integer N also logs a row
            of running batch values every N batches.
        watch: ``"gradients"``, ``"parameters"`` or ``"all"``: histograms every ``watch_freq``
            batches.
        watch_freq: batches between histograms.
        save_model: at the end of training, log each file a ``ModelCheckpoint`` of this fit wrote
            (found through its ``filepath`` template) as an artifact of type ``model`` with
            aliases ``epoch_N`` and, on the last, ``latest``; with no checkpoint callback, the
            final weights (``model.save_weights``) instead. Only files that exist are logged.
        monitor: the epoch log key whose best value and epoch go to the run summary (losses
            lowest, accuracy-like metrics highest, as ModelCheckpoint's ``mode="auto"``).

    Example:
        wb = ks.callbacks.WandbCallback(project="digits", config={"dropout": 0.25},
                                        log_freq=10, watch="all", watch_freq=50)
        model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[wb])
    """

    rank_zero_only = True  # under torchrun only the main process writes

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        run: Any = None,
        log_freq: str | int = "epoch",
        watch: str | None = None,
        watch_freq: int = 100,
        save_model: bool = False,
        monitor: str = "val_loss",
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self._wandb = _import_wandb()
        if log_freq == "batch":
            self._batch_every = 1
        elif log_freq == "epoch":
            self._batch_every = 0
        elif isinstance(log_freq, int) and not isinstance(log_freq, bool) and log_freq > 0:
            self._batch_every = log_freq
        else:
            raise ValueError(f"log_freq must be 'epoch', 'batch' or a positive integer; got {log_freq!r}.")
        if watch not in _WATCH:
            raise ValueError(f"watch must be None, 'gradients', 'parameters' or 'all'; got {watch!r}.")
        if isinstance(watch_freq, bool) or not isinstance(watch_freq, int) or watch_freq < 1:
            raise ValueError(f"watch_freq must be a positive integer; got {watch_freq!r}.")
        self.project, self.name, self.tags = project, name, tags
        self.config = dict(config or {})
        self.log_freq, self.watch, self.watch_freq = log_freq, watch, watch_freq
        self.save_model, self.monitor = save_model, monitor
        self.init_kwargs = init_kwargs
        self.run = run
        self._owns_run = False
        self._failed = False
        self._global_step = 0  # training batches over every fit with this callback
        self._defined: set[str] = set()
        self.best: float | None = None
        self.best_epoch: int | None = None

    # ------------------------------------------------------------------ failure handling

    def _guard(self, action, *args) -> Any:
        """Run one W&B action; on the first failure warn once and stop logging for good."""
        if self._failed:
            return None
        try:
            return action(*args)
        except Exception as error:  # noqa: BLE001 - W&B must never stop training
            self._failed = True
            warnings.warn(
                f"WandbCallback stopped logging: W&B failed ({type(error).__name__}: "
                f"{str(error)[:300]}). Training goes on.", RuntimeWarning, stacklevel=3,
            )
            return None

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        self._epoch_rows: list[tuple[int, dict[str, float]]] = []
        self._fit_callbacks = list(self.model._callbacks) if self.save_model else []
        self._train_start = time.time()
        self._guard(self._start)

    def on_train_batch_end(self, batch, logs=None):
        self._global_step += 1
        if self._failed:
            return
        step = self._global_step
        row: dict[str, Any] = {}
        if self._batch_every and step % self._batch_every == 0:
            row.update({f"batch/{k}": float(v) for k, v in (logs or {}).items()})
            row["batch/learning_rate"] = self.model.learning_rate
        if self.watch and step % self.watch_freq == 0:
            self._guard(self._add_histograms, row)
        if row:
            row["batch/step"] = step
            self._guard(self._log, row)

    def on_epoch_end(self, epoch, logs=None):
        row = {k: float(v) for k, v in (logs or {}).items()}
        if "learning_rate" not in row and self.model.optimizer is not None:
            row["learning_rate"] = self.model.learning_rate
        self._epoch_rows.append((epoch, dict(logs or {})))
        if self._failed:
            return
        row["epoch"] = epoch
        self._guard(self._log, row)
        value = row.get(self.monitor)
        if value is not None and math.isfinite(value) and self._improved(value):
            self.best, self.best_epoch = value, epoch
            self._guard(self._set_summary, {f"best_{self.monitor}": value, "best_epoch": epoch})

    def on_train_end(self, logs=None):
        if self.save_model:
            self._guard(self._log_models)
        if self._owns_run and self.run is not None:
            run, self.run, self._owns_run = self.run, None, False
            self._guard(run.finish)

    # ------------------------------------------------------------------ pieces

    def _start(self) -> None:
        wandb = self._wandb
        if self.run is None or self._run_finished(self.run):
            if wandb.run is not None:
                self.run = wandb.run
            else:
                self.run = wandb.init(project=self.project, name=self.name, config=self.config or None,
                                      tags=self.tags, **self.init_kwargs)
                self._owns_run = True
        self._defined = set()
        if not self._owns_run and self.config:
            self._update_config(self.config)
        self._update_config(self._training_config())
        if "batch_size" not in self.run.config and self.params.get("batch_size") is not None:
            self.run.config.update({"batch_size": self.params["batch_size"]})
        self.run.define_metric("epoch")
        self.run.define_metric("batch/step")
        for pattern in ("batch/*", "gradients/*", "parameters/*"):
            self.run.define_metric(pattern, step_metric="batch/step")

    @staticmethod
    def _run_finished(run) -> bool:
        return bool(getattr(run, "_is_finished", False))

    def _update_config(self, values: Mapping[str, Any]) -> None:
        missing = {k: v for k, v in values.items() if k not in self.run.config}
        if missing:
            self.run.config.update(missing)

    def _training_config(self) -> dict[str, Any]:
        compiled = getattr(self.model, "compile_config", {}) or {}
        config = {
            "optimizer": compiled.get("optimizer"),
            "learning_rate": self.model.learning_rate if self.model.optimizer is not None else None,
            "loss": compiled.get("loss"),
            "metrics": compiled.get("metrics"),
            "epochs": self.params.get("epochs"),
            "precision": compiled.get("precision"),
            "num_parameters": sum(p.numel() for p in self.model.module.parameters()),
        }
        return {k: v for k, v in config.items() if v is not None}

    def _log(self, row: dict[str, Any]) -> None:
        # Epoch keys get epoch as their x axis the first time they appear.
        for key in row:
            if key not in self._defined and key != "epoch" and not key.startswith(
                    ("batch/", "gradients/", "parameters/")):
                self.run.define_metric(key, step_metric="epoch")
                self._defined.add(key)
        self.run.log(row)  # no step=: W&B's own step only increases, so no row is dropped

    def _set_summary(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.run.summary[key] = value

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        # the same "auto" direction as ModelCheckpoint and EarlyStopping; unknown names: lower wins
        if (monitor_direction(self.monitor) or "min") == "max":
            return value > self.best
        return value < self.best

    def _add_histograms(self, row: dict[str, Any]) -> None:
        histogram = self._wandb.Histogram
        for name, param in self.model.module.named_parameters():
            if self.watch in ("parameters", "all"):
                values = _finite_numpy(param)
                if values is not None:
                    row[f"parameters/{name}"] = histogram(values, num_bins=_HISTOGRAM_BINS)
            if self.watch in ("gradients", "all") and param.grad is not None:
                values = _finite_numpy(param.grad)
                if values is not None:
                    row[f"gradients/{name}"] = histogram(values, num_bins=_HISTOGRAM_BINS)

    def _log_models(self) -> None:
        files = self._checkpoint_files()
        if not files:
            last_epoch = self._epoch_rows[-1][0] if self._epoch_rows else 0
            path = Path(self.run.dir) / "model.pt"
            self.model.save_weights(path)
            files = [(path, last_epoch + 1)]
        for index, (path, epoch) in enumerate(files):
            artifact = self._wandb.Artifact(f"model-{self.run.id}", type="model",
                                            metadata={"epoch": epoch, "file": os.fspath(path)})
            artifact.add_file(os.fspath(path))
            aliases = [f"epoch_{epoch}"] + (["latest"] if index == len(files) - 1 else [])
            self.run.log_artifact(artifact, aliases=aliases)

    def _checkpoint_files(self) -> list[tuple[Path, int]]:
        """Files the fit's ModelCheckpoint callbacks wrote, oldest first, with 1-based epochs.

        Each checkpoint's ``filepath`` template is rendered with every epoch's logs; a path that
        several epochs render (``save_best_only``) counts once, at its last epoch. Files that do
        not exist or are older than this fit are skipped.
        """
        found: dict[Path, tuple[float, int]] = {}
        for callback in self._fit_callbacks:
            template = getattr(callback, "filepath", None)
            if callback is self or not isinstance(template, (str, os.PathLike)):
                continue
            template = os.fspath(template)
            for epoch, logs in self._epoch_rows:
                path = _render(template, epoch + 1, logs)
                # only files written during this fit, not older ones the template also matches
                if path is not None and path.is_file() and path.stat().st_mtime >= self._train_start - 1:
                    found[path] = (path.stat().st_mtime, epoch + 1)
        ordered = sorted(found.items(), key=lambda item: (item[1][1], item[1][0]))
        return [(path, epoch) for path, (_, epoch) in ordered]


def _render(template: str, epoch: int, logs: Mapping[str, Any]) -> Path | None:
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if "batch" in fields:
        return None  # batch-level checkpoints cannot be rebuilt from epoch logs
    try:
        return Path(template.format(epoch=epoch, **logs))
    except (KeyError, IndexError, ValueError):
        return None


def _finite_numpy(tensor: torch.Tensor):
    values = tensor.detach().float().flatten()
    values = values[torch.isfinite(values)]
    return values.cpu().numpy() if values.numel() else None
