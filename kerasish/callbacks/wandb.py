"""``WandbCallback``: log a kerasish fit to Weights & Biases, without TensorFlow.

``wandb.integration.keras`` imports TensorFlow, so it cannot serve a PyTorch loop; this callback
does the same job from kerasish's hooks. What it logs:

- config: your ``config`` plus ``optimizer``, ``learning_rate``, ``loss``, ``metrics``,
  ``batch_size``, ``epochs``, ``precision``, ``num_parameters``. Keys already in the run's config
  (your run's, or a sweep's) are never overwritten, and every one whose value differs from what
  training really uses gives a warning;
- one row per epoch with the epoch logs under their own keys and ``epoch`` as their x axis, and
  the learning rate: ``learning_rate`` for one param group, ``learning_rate/group_N`` for each
  of several (``batch/learning_rate...`` in batch rows);
- with ``log_freq=N``, one row every N batches: ``batch/<key>`` against ``batch/step``;
- with ``watch``, histograms ``gradients/<param>`` / ``parameters/<param>`` every ``watch_freq``
  batches, taken at the batch end (no hook runs on every backward, unlike ``wandb.watch``);
- with your own ``run.watch(model, log_freq=N)`` (a ``ks.Model`` is a ``torch.nn.Module``; or
  ``run.watch(model.module)``), a row with ``batch/step`` at every batch, which
  commits the histograms W&B's hooks left pending, so they land at their batch every N batches;
- ``evaluate(..., callbacks=[wb])``: ``test/<key>`` against ``batch/step``, in the summary too;
- summary ``best_<monitor>`` and ``best_epoch``; with ``save_model``, model artifacts.

Rows are logged without an explicit ``step`` so W&B's step only increases and no row is dropped,
even when your own code logs to the same run. If W&B fails mid-training the callback warns once,
finishes the run it started as failed, and stops logging; training goes on.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kerasish.callbacks.base import Callback
from kerasish.callbacks.model_checkpoint import ModelCheckpoint, SavedFile
from kerasish.callbacks.monitor_callback import is_improvement, monitor_direction, warn_missing_monitor
from kerasish.callbacks.save_schedule import batch_interval
from kerasish.callbacks.tracking import (
    BatchValues,
    StepCounter,
    finite_values,
    learning_rates,
    numbers,
    optimizer_params,
)
from kerasish.checks import check_int
from kerasish.user_warnings import warn_user

_WATCH = (None, "gradients", "parameters", "all")
_HISTOGRAM_BINS = 64
_OWNER = "WandbCallback"
# Config keys whose value training decides; a run config holding another value gets a warning.
_FIT_ONLY_KEYS = ("epochs", "batch_size")
# Names a run config (a sweep's) often uses for what training reports under another key.
_ALIASES = {"lr": "learning_rate"}


def import_wandb(owner: str = _OWNER):
    """``wandb``, or an ImportError naming the extra to install."""
    try:
        import wandb
    except ImportError as error:
        raise ImportError(
            f"{owner} needs the wandb package: pip install kerasish[wandb] (or pip install wandb)."
        ) from error
    return wandb


def run_is_finished(run: Any) -> bool:
    """Whether a W&B run object has been finished.

    W&B has no public property for this; its ``Run`` keeps ``_is_finished`` (wandb 0.16 to 0.31).
    This is the one place kerasish reads it, and ``tests/test_wandb.py`` checks it on a real run,
    so a wandb release that changes it fails that test loudly instead of changing behaviour here.
    """
    return bool(getattr(run, "_is_finished", False))


def run_is_watching(run: Any) -> bool:
    """Whether ``wandb.watch`` hooks are on a module of this run (``run.watch(model.module)``).

    Those hooks log their histograms without committing a row (``commit=False``), so they reach
    the run only with the next committed row: without one per batch, one row per epoch. W&B has no
    public way to ask; its ``Run._torch._hook_handles`` holds the hooks (wandb 0.16 to 0.31). This
    is the one place kerasish reads it; ``tests/test_private_apis.py`` checks it on a real run.
    """
    history = getattr(run, "_torch", None)  # private: wandb's TorchHistory of the run
    return bool(getattr(history, "_hook_handles", None))  # private: wandb's watch hooks


def same_config_value(a: Any, b: Any) -> bool:
    """Whether two config values mean the same: numbers within float precision, names in any
    case (``"adam"`` and ``"Adam"``), lists element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_config_value(x, y) for x, y in zip(a, b))
    return a == b


class WandbCallback(Callback):
    """Logs config, epoch and batch values, histograms, evaluations, best values and models to W&B.

    Runs: the callback logs to ``run`` if given, else to the active run (``wandb.run``: your own,
    or one a sweep agent made), else it starts one with ``wandb.init``, when the first epoch
    begins. A run it started is finished at the end of each ``fit`` (and each ``evaluate``), and
    continued (``wandb.init(id=..., resume="allow")``) by the next ``fit`` or ``evaluate`` with the
    same callback, so staged training (``fit(epochs=5)`` then ``fit(epochs=10, initial_epoch=5)``)
    is one run with ``batch/step`` going on. ``state_dict()`` holds the run id and steps, so a fit
    resumed by ``BackupAndRestore`` continues the same run. When ``fit`` raises, the run it
    started is finished with exit code 1 and the next fit starts a new run.

    In offline mode W&B writes a continued run as a new folder with the same run id
    (``offline-run-<time>-<id>-1``); ``wandb sync`` uploads both to that one run.

    Args:
        project, name, config, tags, **init_kwargs: passed to ``wandb.init`` when this callback
            starts the run.
        run: an existing run to log to (left open).
        log_freq: ``"epoch"`` logs epoch rows only; ``"batch"`` or an integer N also logs a row
            of batch values every N batches.
        watch: ``"gradients"``, ``"parameters"`` or ``"all"``: histograms every ``watch_freq``
            batches.
        watch_freq: batches between histograms.
        save_model: ``True`` logs the final weights (``model.save_weights``) as an artifact of
            type ``model`` at the end of training. A ``ModelCheckpoint`` (or a list of them)
            instead logs each file it writes, as it is written (aliases ``epoch_N``, 1-based, or
            ``epoch_N_batch_M``, and ``latest``).
        monitor: the epoch log key whose best value and epoch go to the run summary (losses
            lowest, accuracy-like metrics highest, as ModelCheckpoint's ``mode="auto"``). A key
            missing from the logs warns once, except ``"val_loss"`` (the default) in a fit
            without validation data.
        log_batch: ``"running"`` logs the batch logs' running means; ``"step"`` logs each logged
            step's own loss.
        log_optimizer_params: with batch rows and epoch rows, also log every param group's
            ``lr``, ``momentum`` and Adam betas (``batch/lr/group_0``, ``lr/group_0``, ...), as
            Ignite's ``attach_opt_params_handler``.

    Example:
        wb = ks.callbacks.WandbCallback(project="digits", config={"dropout": 0.25},
                                        log_freq=10, watch="all", watch_freq=50)
        model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[wb])
        model.evaluate(x_test, y_test, callbacks=[wb])   # test/loss, test/accuracy in the run
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
        save_model: bool | ModelCheckpoint | Sequence[ModelCheckpoint] = False,
        monitor: str = "val_loss",
        *,
        log_batch: str = "running",
        log_optimizer_params: bool = False,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self._wandb = import_wandb()
        batch_every = batch_interval(log_freq, _OWNER, "log_freq")
        if watch not in _WATCH:
            raise ValueError(f"watch must be None, 'gradients', 'parameters' or 'all'; got {watch!r}.")
        watch_freq = check_int(watch_freq, "watch_freq", least=1, owner=_OWNER)
        self._checkpoints = _checkpoints(save_model)
        self.project, self.name, self.tags = project, name, tags
        self.config = dict(config or {})
        self.log_freq, self.watch, self.watch_freq = log_freq, watch, watch_freq
        self.save_model, self.monitor = save_model, monitor
        self.log_batch, self.log_optimizer_params = log_batch, log_optimizer_params
        self.init_kwargs = init_kwargs
        self._batch_values = BatchValues(log_batch, batch_every, _OWNER)
        self._given_run = run
        self.run = run
        self._owns_run = False
        self._run_id: str | None = None  # the run this callback started, continued by later fits
        self._attached = False  # a run is chosen for the current fit / evaluate
        self._failed = False
        self._in_fit = False
        self._watched = False  # the run has wandb.watch hooks: commit a row at every batch
        self._steps = StepCounter()  # training batches over every fit with this callback
        self._written_config: set[str] = set()
        self._defined: set[str] = set()
        self._uploaded: dict[int, int] = {}  # id(checkpoint) -> files of it already logged
        self._last_epoch: int | None = None
        self._warned_monitor = False
        self.best: float | None = None
        self.best_epoch: int | None = None

    # ------------------------------------------------------------------ failure handling

    def _guard(self, action, *args) -> Any:
        """Run one W&B action; on the first failure warn once, finish the run this callback
        started (as failed, so nothing else logs into it) and stop logging."""
        if self._failed:
            return None
        try:
            return action(*args)
        except Exception as error:  # noqa: BLE001 - W&B must never stop training
            self._failed = True
            warn_user(
                f"WandbCallback stopped logging: W&B failed ({type(error).__name__}: "
                f"{str(error)[:300]}). Training goes on.", RuntimeWarning,
            )
            self._finish_own_run(exit_code=1, forget=True)
            return None

    def _finish_own_run(self, exit_code: int, forget: bool) -> None:
        """Finish the run this callback started (quietly: it may have failed already)."""
        if self._owns_run and self.run is not None:
            run, self.run, self._owns_run = self.run, None, False
            try:
                run.finish(exit_code=exit_code)
            except Exception as error:  # noqa: BLE001 - nothing more can be done for this run
                warn_user(f"WandbCallback could not finish the W&B run ({type(error).__name__}: "
                              f"{str(error)[:200]}).", RuntimeWarning)
        if forget:
            self._run_id = None
        self._attached = False

    # ------------------------------------------------------------------ resuming

    def state_dict(self) -> dict[str, Any]:
        """The run to continue and the steps and best value so far (for ``BackupAndRestore``)."""
        return {"run_id": self._run_id or "", "global_step": self._steps.for_backup(self.model),
                "best": self.best, "best_epoch": self.best_epoch,
                "written_config": sorted(self._written_config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the backed-up run (its id) and steps; call before the resumed epoch begins."""
        run_id = state.get("run_id") or None
        if self._owns_run and self.run is not None and run_id is not None and self.run.id != run_id:
            self._finish_own_run(exit_code=0, forget=True)  # started too early: not the one to log to
        if run_id is not None:
            self._run_id = run_id
        self._steps.value = int(state["global_step"])
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self._written_config |= set(state.get("written_config", []))


    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._failed = False
        self._attached = False
        self._steps.value = max(self._steps.value, int(getattr(self.model, "optimizer_steps", 0) or 0))

    def on_epoch_begin(self, epoch, logs=None):
        self._attach()  # after a resume's load_state_dict, so a resumed run continues

    def on_train_batch_end(self, batch, logs=None):
        step = self._steps.count(self.model)
        if self._failed:
            return
        row: dict[str, Any] = {}
        if self._batch_values.due(step) or self._batch_values.mode == "step":
            values = self._batch_values.at_batch_end(step, batch, logs, self.params.get("steps"), self.model)
            if values:
                row.update({f"batch/{k}": v for k, v in values.items()})
            if self._batch_values.due(step) and self.model.optimizer is not None:
                row.update({f"batch/{k}": v for k, v in learning_rates(self.model.optimizer).items()})
                if self.log_optimizer_params:
                    row.update({f"batch/{k}": v for k, v in optimizer_params(self.model.optimizer).items()})
        if self.watch and step % self.watch_freq == 0:
            self._guard(self._add_histograms, row)
        if (row or self._watched) and self._attach():
            row["batch/step"] = step  # under wandb.watch, each batch commits its histograms
            self._guard(self._log, row)
        if self._checkpoints:
            self._guard(self._log_new_checkpoints)

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if self._failed or not self._attach():
            return
        row: dict[str, Any] = numbers(logs)  # a string in the logs is left out, never fatal
        if "learning_rate" not in row and self.model.optimizer is not None:
            row.update(learning_rates(self.model.optimizer))  # one per param group
        if self.log_optimizer_params and self.model.optimizer is not None:
            row.update(optimizer_params(self.model.optimizer))
        row["epoch"] = epoch
        self._guard(self._log, row)
        value = row.get(self.monitor)
        # The default monitor of a fit without validation data is not the user's choice: no warning.
        default_unavailable = self.monitor == "val_loss" and not self.params.get("do_validation", True)
        if value is None and not self._warned_monitor and not default_unavailable:
            self._warned_monitor = True  # once per callback: every epoch would repeat it
            warn_missing_monitor(_OWNER, self.monitor, logs, f"the run summary gets no "
                                 f"best_{self.monitor} or best_epoch")
        direction = monitor_direction(self.monitor) or "min"  # unknown names: lower wins
        if value is not None and math.isfinite(value) and is_improvement(value, self.best, direction):
            self.best, self.best_epoch = value, epoch
            self._guard(self._set_summary, {f"best_{self.monitor}": value, "best_epoch": epoch})
        if self._checkpoints:
            self._guard(self._log_new_checkpoints)

    def on_test_begin(self, logs=None):
        if not self._in_fit:  # evaluate(): a clean slate, steps as a fit would have them
            self._failed = False
            self._attached = False
            self._steps.value = max(self._steps.value, int(getattr(self.model, "optimizer_steps", 0) or 0))

    def on_test_end(self, logs=None):
        if self._in_fit:
            return  # validation during fit: the epoch row has it as val_<key>
        if logs and self._attach():
            values = {f"test/{k}": v for k, v in numbers(logs).items()}
            self._guard(self._log, {**values, "batch/step": self._steps.value})
            self._guard(self._set_summary, values)
        self._finish_own_run(exit_code=0, forget=False)

    def on_train_end(self, logs=None):
        if not self._failed and self._attached:
            if self._checkpoints:
                self._guard(self._log_new_checkpoints)
            elif self.save_model:
                self._guard(self._log_final_weights)
        self._in_fit = False
        self._finish_own_run(exit_code=0, forget=False)

    def on_exception(self, exception):
        """Training failed: finish the run this callback started as failed (exit code 1)."""
        self._in_fit = False
        self._finish_own_run(exit_code=1, forget=True)

    # ------------------------------------------------------------------ the run

    def _attach(self) -> bool:
        """Choose (or start) the run for this fit or evaluate, once; False when W&B failed."""
        if self._failed:
            return False
        if self._attached and self.run is not None:
            return True
        return bool(self._guard(self._start))

    def _start(self) -> bool:
        wandb = self._wandb
        self._owns_run = False
        if self._given_run is not None and not run_is_finished(self._given_run):
            self.run = self._given_run
        elif wandb.run is not None:
            self.run = wandb.run
        else:
            resume = {"id": self._run_id, "resume": "allow"} if self._run_id else {}
            self.run = wandb.init(project=self.project, name=self.name, config=self.config or None,
                                  tags=self.tags, **{**self.init_kwargs, **resume})
            self._owns_run = True
            self._run_id = self.run.id
            self._written_config |= set(self.config)
        self._attached = True
        self._watched = run_is_watching(self.run)  # decided once per fit / evaluate
        self._defined = set()
        self._sync_config()
        self.run.define_metric("epoch")
        self.run.define_metric("batch/step")
        for pattern in ("batch/*", "gradients/*", "parameters/*", "test/*"):
            self.run.define_metric(pattern, step_metric="batch/step")
        return True

    def _sync_config(self) -> None:
        """Add what training uses to the run config; warn about every key that disagrees.

        Keys this callback wrote itself are updated (a second fit may use more epochs); keys
        that were already there (your run's, a sweep's) are kept, and a different value warns,
        because then the run would report a value training did not use.
        """
        config = self.run.config
        actual = {**self.config, **self._training_config()}
        new: dict[str, Any] = {}
        changed: dict[str, Any] = {}
        for key, value in actual.items():
            if key not in config:
                new[key] = value
            elif key in self._written_config:
                if not same_config_value(config[key], value):
                    changed[key] = value
            elif not same_config_value(config[key], value):
                self._warn_mismatch(key, config[key], key, value)
        for alias, key in _ALIASES.items():
            if alias in config and alias not in self._written_config and key in actual \
                    and not same_config_value(config[alias], actual[key]):
                self._warn_mismatch(alias, config[alias], key, actual[key])
        for key, value in self._optimizer_extras().items():
            mine = key in self._written_config
            if key in config and not mine and not same_config_value(config[key], value):
                self._warn_mismatch(key, config[key], key, value)
        if new:
            config.update(new)
        if changed:
            config.update(changed, allow_val_change=True)
        self._written_config |= set(new) | set(changed)

    def _warn_mismatch(self, key: str, logged: Any, actual_key: str, actual: Any) -> None:
        warn_user(
            f"WandbCallback: the run's config has {key}={logged!r}, but training uses "
            f"{actual_key}={actual!r}. The run config is left as it is (it may be a sweep's); pass "
            f"the config's value to compile/fit (e.g. from wandb.config) so the run reports what "
            "training does.", UserWarning,
        )

    def _training_config(self) -> dict[str, Any]:
        compiled = getattr(self.model, "compile_config", {}) or {}
        config = {
            # Keras's name for a Keras rule (compile("sgd") trains Keras's SGD: "SGD", not "KerasSGD").
            "optimizer": getattr(type(self.model.optimizer), "keras_name", None) or compiled.get("optimizer"),
            "learning_rate": self.model.learning_rate if self.model.optimizer is not None else None,
            "loss": compiled.get("loss"),
            "metrics": compiled.get("metrics"),
            "precision": compiled.get("precision"),
            "num_parameters": sum(p.numel() for p in self.model.module.parameters()),
        }
        if self._in_fit:
            config["epochs"] = self.params.get("epochs")
            config["batch_size"] = self.params.get("batch_size")
        return {k: v for k, v in config.items() if v is not None}

    def _optimizer_extras(self) -> dict[str, Any]:
        """Hyper-parameters a config may name that training reports nowhere else (first group)."""
        optimizer = getattr(self.model, "optimizer", None)
        groups = getattr(optimizer, "param_groups", None)
        if not groups:
            return {}
        group = groups[0]
        return {k: float(group[k]) for k in ("momentum", "weight_decay") if group.get(k) is not None}

    def _log(self, row: dict[str, Any]) -> None:
        # Epoch keys get epoch as their x axis the first time they appear.
        for key in row:
            if key not in self._defined and key != "epoch" and not key.startswith(
                    ("batch/", "gradients/", "parameters/", "test/")):
                self.run.define_metric(key, step_metric="epoch")
                self._defined.add(key)
        self.run.log(row)  # no step=: W&B's own step only increases, so no row is dropped

    def _set_summary(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.run.summary[key] = value

    def _add_histograms(self, row: dict[str, Any]) -> None:
        histogram = self._wandb.Histogram
        for name, param in self.model.module.named_parameters():
            tensors = []
            if self.watch in ("parameters", "all"):
                tensors.append(("parameters", param))
            if self.watch in ("gradients", "all") and param.grad is not None:
                tensors.append(("gradients", param.grad))
            for kind, tensor in tensors:
                values = finite_values(tensor)
                if values is not None:
                    row[f"{kind}/{name}"] = histogram(values.numpy(), num_bins=_HISTOGRAM_BINS)

    # ------------------------------------------------------------------ models

    def _log_new_checkpoints(self) -> None:
        """Log each file the given ModelCheckpoints wrote since the last look, as it appears."""
        if not self._attached or self.run is None:
            return
        for checkpoint in self._checkpoints:
            done = self._uploaded.get(id(checkpoint), 0)
            for saved in checkpoint.saved[done:]:
                if os.path.isfile(saved.path):
                    self._log_model_file(saved)
            self._uploaded[id(checkpoint)] = len(checkpoint.saved)

    def _log_final_weights(self) -> None:
        epoch = self._last_epoch if self._last_epoch is not None else 0
        path = Path(self.run.dir) / "model.pt"
        self.model.save_weights(path)
        self._log_model_file(SavedFile(os.fspath(path), epoch))

    def _log_model_file(self, saved: SavedFile) -> None:
        alias = f"epoch_{saved.epoch + 1}" + ("" if saved.batch is None else f"_batch_{saved.batch + 1}")
        artifact = self._wandb.Artifact(f"model-{self.run.id}", type="model",
                                        metadata={"epoch": saved.epoch + 1, "file": saved.path,
                                                  "logged_at": time.time()})
        artifact.add_file(saved.path)
        self.run.log_artifact(artifact, aliases=[alias, "latest"])


def _checkpoints(save_model: Any) -> list[ModelCheckpoint]:
    if isinstance(save_model, bool) or save_model is None:
        return []
    items = list(save_model) if isinstance(save_model, (list, tuple)) else [save_model]
    if not items or not all(isinstance(item, ModelCheckpoint) for item in items):
        raise TypeError(
            f"{_OWNER}: save_model must be True/False, a ModelCheckpoint or a list of them (each "
            f"file it writes is logged as it is written); got {save_model!r}."
        )
    return items
