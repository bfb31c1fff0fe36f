"""``TensorBoardCallback`` (alias ``TensorBoard``): Keras's TensorBoard logs, written by PyTorch.

Keras's own callback needs TensorFlow; this one writes the same layout with
``torch.utils.tensorboard.SummaryWriter``, so ``tensorboard --logdir logs`` shows a ported script's
runs as it showed the Keras ones:

    logs/train/        epoch_loss, epoch_accuracy, epoch_learning_rate (/group_N for several param
                       groups), batch_*, histograms, graph, embeddings, profiler traces
    logs/validation/   epoch_loss, epoch_accuracy (val_ prefix stripped), evaluation_*_vs_iterations
    logs/              the HParams tab's hyper-parameters and final metrics (when ``hparams`` is set)

Steps never go backwards in a log directory: batch steps continue across fits (and from the
model's ``optimizer_steps``, and after what the directory already holds), epoch steps are the
epochs ``fit`` reports, shifted past the epochs already written when a fit would repeat them.
A fresh run (epoch 0, no optimizer step yet) on a log directory that already holds a run, such as
a script run twice, writes to ``log_dir/run-2`` (``run-3``, ...) instead, from step 0, so two
runs are two curves. (Keras's own callback writes the second run into the same folders from step
0, which TensorBoard draws as one curve running back.)
Batch values are read from the device only on the batches that are written (``update_freq``).
A write that fails (unwritable folder, full disk) warns once and training goes on; the writers'
background threads print no traceback of their own (their failure is that one warning).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kerasish.callbacks.base import Callback
from kerasish.callbacks.save_schedule import batch_interval
from kerasish.callbacks.tensorboard_parts import (
    FirstInput,
    histogram_values,
    hparam_value,
    profile_range,
    rng_devices,
    steps_on_disk,
    weight_image,
)
from kerasish.callbacks.tracking import (
    BatchValues,
    StepCounter,
    as_number,
    learning_rates,
    numbers,
    optimizer_params,
)
from kerasish.checks import check_int
from kerasish.io import quiet_writer_threads
from kerasish.user_warnings import warn_user

_OWNER = "TensorBoardCallback"


def _summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:  # torch.utils.tensorboard imports the tensorboard package
        raise ImportError(
            "TensorBoardCallback needs the tensorboard package: pip install kerasish[tensorboard] "
            "(or pip install tensorboard)."
        ) from error
    return SummaryWriter


class TensorBoardCallback(Callback):
    """Writes scalars, histograms, the model graph, embeddings, profiles and hyper-parameters.

    ``evaluate(..., callbacks=[tb])`` writes ``evaluation_<metric>_vs_iterations`` to the
    validation run at the current training step, as Keras does (writers open for it and close
    after). One callback object used for several fits (``fit(epochs=5)`` then
    ``fit(epochs=10, initial_epoch=5)``) continues its steps; a new object on a log directory that
    already holds a run continues after that run's last steps when its fit continues training
    (``initial_epoch`` or a model with optimizer steps; a warning when it has to shift the
    epochs), and a fresh run goes to a new ``log_dir/run-N``, so curves never run backwards.
    ``state_dict()`` keeps the steps (and the run folder) for ``BackupAndRestore``; a resumed fit
    hides what the interrupted one wrote after the backup (TensorBoard's ``purge_step``).

    Args:
        log_dir: where to write; runs go to ``log_dir/train`` and ``log_dir/validation``.
        histogram_freq: every this many epochs, histograms of every parameter
            (``<name>/histogram``) and of its gradient from the epoch's last batch
            (``<name>/gradient``). 0 writes none.
        write_graph: trace the module on the first training batch and write its graph. A module
            that cannot be traced (data-dependent control flow, keyword inputs) gives a warning,
            never an error.
        write_images: with ``histogram_freq``, also write each weight as an image
            (``<name>/image``).
        write_steps_per_second: also write ``epoch_steps_per_second`` (and
            ``batch_steps_per_second`` with batch-level logging).
        update_freq: ``"epoch"`` writes epoch values only; ``"batch"`` or an integer N also writes
            ``batch_<key>`` every N batches, at the global batch step.
        profile_batch: profile these training batches (1-based, global) with ``torch.profiler``:
            an integer for one batch, a pair ``(start, stop)`` or the string ``"start,stop"``; 0
            profiles none. The trace goes to ``log_dir/train`` (TensorBoard's PyTorch profiler
            plugin, ``pip install torch-tb-profiler``, shows it).
        embeddings_freq: every this many epochs, write the weights of every ``nn.Embedding`` to
            the projector (0: never).
        embeddings_metadata: a file with one label per row for every embedding, or a dict from
            an embedding's module name to such a file.
        hparams: a dict of hyper-parameters; at the end of training they are written with the
            final epoch values to ``log_dir`` itself for TensorBoard's HParams tab.
        log_batch: ``"running"`` writes the batch logs' running means over the epoch;
            ``"step"`` writes each written step's own loss (see ``update_freq``).
        log_optimizer_params: at each batch write and epoch end, also write every param group's
            ``lr``, ``momentum`` and Adam ``beta1``/``beta2`` (``batch_lr/group_0``, ...), as
            Ignite's ``attach_opt_params_handler``.

    Example:
        tb = ks.callbacks.TensorBoard("logs/run1", histogram_freq=1, update_freq=50)
        model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[tb])
        model.evaluate(x_test, y_test, callbacks=[tb])   # evaluation_loss_vs_iterations
        # then: tensorboard --logdir logs
    """

    rank_zero_only = True  # under torchrun only the main process writes

    def __init__(
        self,
        log_dir: str | os.PathLike = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int | str | tuple[int, int] = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: str | os.PathLike | Mapping[str, str] | None = None,
        *,
        hparams: Mapping[str, Any] | None = None,
        log_batch: str = "running",
        log_optimizer_params: bool = False,
    ) -> None:
        super().__init__()
        self._writer_class = _summary_writer_class()
        batch_every = batch_interval(update_freq, _OWNER, "update_freq", action="write")
        if hparams is not None and not isinstance(hparams, Mapping):
            raise TypeError(f"hparams must be a dict of hyper-parameters; got {type(hparams).__name__}.")
        if embeddings_metadata is not None and not isinstance(embeddings_metadata, (str, os.PathLike,
                                                                                     Mapping)):
            raise TypeError(
                f"{_OWNER}: embeddings_metadata must be a file path or a dict from embedding name "
                f"to file path; got {type(embeddings_metadata).__name__}."
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = check_int(histogram_freq, "histogram_freq", least=0, owner=_OWNER)
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.profile_batch = profile_batch
        self.embeddings_freq = check_int(embeddings_freq, "embeddings_freq", least=0, owner=_OWNER)
        self.embeddings_metadata = embeddings_metadata
        self.hparams = dict(hparams) if hparams is not None else None
        self.log_batch = log_batch
        self.log_optimizer_params = log_optimizer_params
        self._batch_values = BatchValues(log_batch, batch_every, _OWNER)
        self.profile_range = profile_range(profile_batch)
        self._writers: dict[str, Any] = {}
        self._run_dir = self.log_dir  # log_dir, or log_dir/run-N for a new run on a used log_dir
        self._run_chosen = False  # decided at the first epoch of the first fit, or by a restore
        self._steps = StepCounter()  # training batches written against, over every fit of this object
        self._step_known = False  # the step base is set by the first fit/evaluate or a restore
        self._last_epoch_step: int | None = None  # the last epoch step in log_dir
        self._epoch_offset = 0  # epoch step = epoch + offset (non-zero only to avoid going back)
        self._offset_checked = False
        self._purge_step: int | None = None
        self._purge_pending: set[str] = set()
        self._graph_written = False
        self._first_input: FirstInput | None = None
        self._profiler: Any = None
        self._in_fit = False
        self._failed = False
        self._last_logs: dict[str, Any] | None = None
        self._last_epoch_written: int | None = None

    # ------------------------------------------------------------------ writers and failures

    def _writer(self, run: str):
        """The ``train`` / ``validation`` writer, opened on first use (no empty event files)."""
        if run not in self._writers:
            # After a resume, each run's first writer hides what followed the backup, once.
            purge_step = self._purge_step if run in self._purge_pending else None
            with quiet_writer_threads():  # a failure comes back from the writer's next call
                self._writers[run] = self._writer_class(log_dir=os.path.join(self._run_dir, run),
                                                        purge_step=purge_step)
            self._purge_pending.discard(run)
        return self._writers[run]

    def _close_writers(self) -> None:
        """Close every writer; a close that fails (its final flush) is a failed write."""
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            try:
                writer.close()
            except Exception as error:  # noqa: BLE001 - warns once, unless a failure already did
                self._fail(error)

    def _safely(self, action, *args) -> None:
        """Run one write; the first failure warns once, closes the writers and stops writing."""
        if self._failed:
            return
        try:
            action(*args)
        except Exception as error:  # noqa: BLE001 - TensorBoard must never stop training
            self._fail(error)

    def _fail(self, error: Exception) -> None:
        if self._failed:
            return
        self._failed = True
        self._close_writers()
        warn_user(
            f"{_OWNER} stopped writing to {self.log_dir!r}: {type(error).__name__}: "
            f"{str(error)[:300]}. Training goes on.", RuntimeWarning,
        )

    # ------------------------------------------------------------------ steps

    def _sync_steps(self) -> None:
        """Set the batch step base once; afterwards only let the model's count push it on."""
        optimizer_steps = int(getattr(self.model, "optimizer_steps", 0) or 0)
        if not self._step_known:
            last_epoch, last_batch = steps_on_disk(self.log_dir)
            self._last_epoch_step = last_epoch
            self._steps.value = max(optimizer_steps, last_batch if last_batch is not None else 0)
            self._step_known = True
        else:
            self._steps.value = max(self._steps.value, optimizer_steps)

    def _epoch_step(self, epoch: int) -> int:
        if not self._offset_checked:
            self._offset_checked = True
            last = self._last_epoch_step
            if last is not None and epoch + self._epoch_offset <= last:
                self._epoch_offset = last + 1 - epoch
                warn_user(
                    f"{_OWNER}: {self.log_dir!r} already holds epoch steps up to {last}, so this "
                    f"fit's epochs are written from step {last + 1} (epoch {epoch} at step "
                    f"{epoch + self._epoch_offset}) to keep the curves going forward. Pass "
                    "initial_epoch to fit to continue a run, or use a new log_dir to start at 0.",
                    UserWarning,
                )
        return epoch + self._epoch_offset

    def _choose_run(self, epoch: int) -> None:
        """A fresh run (epoch 0, no optimizer step yet, not resumed) on a log_dir that already
        holds a run gets its own folder, ``log_dir/run-2`` (then ``run-3``, ...), starting at step
        0: two runs of the same script are two curves, not one stitched with a jump. A fit that
        continues (``initial_epoch``, loaded weights with their steps) writes on in ``log_dir``."""
        self._run_chosen = True
        fresh = epoch == 0 and not int(getattr(self.model, "optimizer_steps", 0) or 0)
        if not fresh or (self._last_epoch_step is None and not self._steps.value):
            return
        number = 2
        while os.path.exists(os.path.join(self.log_dir, f"run-{number}")):
            number += 1
        self._close_writers()
        self._run_dir = os.path.join(self.log_dir, f"run-{number}")
        self._steps.value, self._last_epoch_step = 0, None

    def state_dict(self) -> dict[str, Any]:
        """The steps to continue from after a resume (``BackupAndRestore``)."""
        return {"global_step": self._steps.for_backup(self.model), "epoch_offset": self._epoch_offset,
                "run": os.path.relpath(self._run_dir, self.log_dir),
                "last_epoch_step": -1 if self._last_epoch_step is None else self._last_epoch_step,
                "graph_written": self._graph_written}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a backup's steps; what was written after the backup is hidden."""
        self._steps.value = int(state["global_step"])
        self._epoch_offset = int(state["epoch_offset"])
        last = int(state["last_epoch_step"])
        self._last_epoch_step = None if last < 0 else last
        self._graph_written = self._graph_written or bool(state.get("graph_written", False))
        self._step_known = self._offset_checked = self._run_chosen = True
        self._run_dir = os.path.normpath(os.path.join(self.log_dir, str(state.get("run", "."))))
        self._purge_step = self._steps.value + 1  # TensorBoard hides events from this step on
        self._purge_pending = {"train", "validation"}
        self._close_writers()  # reopened with purge_step on the next write

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._failed = False
        self._offset_checked = False
        self._sync_steps()
        self._epoch_batches = 0
        self._window_start = time.perf_counter()
        if self.write_graph and not self._graph_written:
            self._first_input = FirstInput(self.model.module)
        if self.profile_range is not None and self.profile_range[0] <= self._steps.value + 1 \
                <= self.profile_range[1]:
            self._start_profiler()

    def on_epoch_begin(self, epoch, logs=None):
        if not self._run_chosen:
            self._choose_run(epoch)
        self._epoch_start = time.perf_counter()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        step = self._steps.count(self.model)
        self._epoch_batches += 1
        if self._first_input is not None:
            first, self._first_input = self._first_input, None
            self._write_graph(first)
        if self.profile_range is not None:
            self._profile_at(step, self.profile_range)
        due = self._batch_values.due(step)
        values = self._batch_values.at_batch_end(step, batch, logs, self.params.get("steps"), self.model)
        if due and not self._failed:
            self._safely(self._write_batch, step, values or {})

    def on_test_begin(self, logs=None):
        if not self._in_fit:  # evaluate(): steps as a fit would have them, a clean slate
            self._failed = False
            self._sync_steps()

    def on_test_end(self, logs=None):
        # Keras plots each evaluation (validation in fit, or evaluate) against the training step.
        if logs:
            self._safely(self._write_scalars, "validation",
                         {f"evaluation_{k}_vs_iterations": v for k, v in logs.items()},
                         self._steps.value)
        if not self._in_fit:
            self._close_writers()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        step = self._epoch_step(epoch)
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[len("val_"):]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if not any(k.startswith("learning_rate") for k in train) and optimizer is not None:
            train.update(learning_rates(optimizer))  # one per param group / MultiOptimizer part
        if self.write_steps_per_second:
            elapsed = max(time.perf_counter() - self._epoch_start, 1e-9)
            train["steps_per_second"] = self._epoch_batches / elapsed
        if self.log_optimizer_params and getattr(self.model, "optimizer", None) is not None:
            train.update(optimizer_params(self.model.optimizer))
        self._safely(self._write_scalars, "train", {f"epoch_{k}": v for k, v in train.items()}, step)
        if validation:
            self._safely(self._write_scalars, "validation",
                         {f"epoch_{k}": v for k, v in validation.items()}, step)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._safely(self._write_weights, step)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._safely(self._write_embeddings, step)
        self._safely(self._flush)
        self._last_epoch_step = step
        self._last_epoch_written, self._last_logs = step, logs

    def on_train_end(self, logs=None):
        self._release()
        if self.hparams is not None:
            self._safely(self._write_hparams, self.hparams, self._last_logs or dict(logs or {}))
        self._close_writers()

    def on_exception(self, exception):
        """Training failed: stop tracing and profiling, flush and close the writers."""
        self._release()
        self._close_writers()

    def _release(self) -> None:
        self._in_fit = False
        if self._first_input is not None:
            self._first_input.remove()
            self._first_input = None
        if self._profiler is not None:
            profiler, self._profiler = self._profiler, None
            self._safely(profiler.stop)

    # ------------------------------------------------------------------ pieces

    def _flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    def _write_scalars(self, run: str, values: Mapping[str, Any], step: int) -> None:
        writer = self._writer(run)
        for tag, value in values.items():
            number = as_number(value)
            if number is not None:  # a string in the logs is left out, not a failed write
                writer.add_scalar(tag, number, step)

    def _write_batch(self, step: int, values: Mapping[str, float]) -> None:
        scalars = {f"batch_{k}": v for k, v in values.items()}
        if self.write_steps_per_second:
            now = time.perf_counter()
            scalars["batch_steps_per_second"] = self._batch_values.every / max(now - self._window_start,
                                                                               1e-9)
            self._window_start = now
        if self.log_optimizer_params and getattr(self.model, "optimizer", None) is not None:
            scalars.update({f"batch_{k}": v for k, v in optimizer_params(self.model.optimizer).items()})
        self._write_scalars("train", scalars, step)

    def _write_weights(self, step: int) -> None:
        writer = self._writer("train")
        for name, param in self.model.module.named_parameters():
            values = param.detach()
            writer.add_histogram(f"{name}/histogram", histogram_values(values), step)
            if param.grad is not None:  # the epoch's last batch (grads are zeroed at step start)
                writer.add_histogram(f"{name}/gradient", histogram_values(param.grad), step)
            if self.write_images:
                image = weight_image(values)
                if image is not None:
                    writer.add_images(f"{name}/image", image, step, dataformats="NCHW")

    def _write_embeddings(self, step: int) -> None:
        writer = self._writer("train")
        for name, module in self.model.module.named_modules():
            if isinstance(module, torch.nn.Embedding):
                metadata = self._embedding_metadata(name, module.num_embeddings)
                writer.add_embedding(module.weight.detach().float().cpu(), metadata=metadata,
                                     global_step=step, tag=name or "embedding")

    def _embedding_metadata(self, name: str, rows: int) -> list[str] | None:
        source = self.embeddings_metadata
        if isinstance(source, Mapping):
            source = source.get(name)
        if source is None:
            return None
        labels = Path(source).read_text(encoding="utf-8").splitlines()
        if len(labels) != rows:
            raise ValueError(f"embeddings_metadata {os.fspath(source)!r} has {len(labels)} rows; "
                             f"embedding {name!r} has {rows}.")
        return labels

    def _start_profiler(self) -> None:
        def start():
            handler = torch.profiler.tensorboard_trace_handler(os.path.join(self._run_dir, "train"))
            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            profiler = torch.profiler.profile(activities=activities, on_trace_ready=handler)
            profiler.start()
            self._profiler = profiler

        self._safely(start)

    def _profile_at(self, step: int, profile_range: tuple[int, int]) -> None:
        start, stop = profile_range
        if self._profiler is not None and step >= stop:
            profiler, self._profiler = self._profiler, None
            self._safely(profiler.stop)  # writes the trace
        elif self._profiler is None and step + 1 == start:
            self._start_profiler()

    def _write_graph(self, first: FirstInput) -> None:
        first.remove()
        if first.args is None:
            return  # the module was not called through its forward (nothing seen yet)
        self._graph_written = True
        module = self.model.module
        if first.kwargs:
            warn_user(
                "TensorBoardCallback: the model graph is not written because the module takes "
                "keyword inputs, which torch.jit.trace cannot record. Pass write_graph=False to "
                "silence this.",
            )
            return
        args = first.args[0] if len(first.args) == 1 else first.args
        was_training = module.training
        module.eval()  # no batch-norm statistics updated, no dropout randomness used
        try:
            writer = self._writer("train")
        except Exception as error:  # noqa: BLE001 - an unwritable folder: one warning, below
            self._safely(_raise, error)
            module.train(was_training)
            return
        try:
            # torch prints its tracing errors; they come back below as one warning instead
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    torch.random.fork_rng(devices=rng_devices(module)):
                warnings.simplefilter("ignore")  # tracer warnings are about the trace, not the user
                writer.add_graph(module, args)
        except Exception as error:  # noqa: BLE001 - any tracing failure: warn, keep training
            warn_user(
                f"TensorBoardCallback could not trace the module to write its graph "
                f"({type(error).__name__}: {str(error)[:300]}). Training goes on; pass "
                "write_graph=False to skip the graph.",
            )
        finally:
            module.train(was_training)

    def _write_hparams(self, hparams: Mapping[str, Any], logs: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        values = {k: hparam_value(v) for k, v in hparams.items() if v is not None}
        metrics = {f"hparams/{k}": v for k, v in numbers(logs).items()}
        experiment, start, end = hparams_summaries(values, metrics)
        step = self._last_epoch_written or 0
        with quiet_writer_threads():
            hparams_writer = self._writer_class(log_dir=self._run_dir)
        with hparams_writer as writer:
            for summary in (experiment, start, end):
                writer.file_writer.add_summary(summary, step)
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, step)


TensorBoard = TensorBoardCallback


def _raise(error: BaseException) -> None:
    raise error
