"""``TensorBoardCallback`` (alias ``TensorBoard``): Keras's TensorBoard logs, written by PyTorch.

Keras's own callback needs TensorFlow; this one writes the same layout with
``torch.utils.tensorboard.SummaryWriter``, so ``tensorboard --logdir logs`` shows a ported script's
runs as it showed the Keras ones:

    logs/train/        epoch_loss, epoch_accuracy, epoch_learning_rate, batch_* , histograms, graph
    logs/validation/   epoch_loss, epoch_accuracy (val_ prefix stripped), evaluation_*_vs_iterations
    logs/              the HParams tab's hyper-parameters and final metrics (when ``hparams`` is set)

Batch values are read from the device only on the batches that are written (``update_freq``).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from kerasish.callbacks.base import Callback


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
    """Writes scalars, histograms, the model graph and hyper-parameters for TensorBoard.

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
            ``batch_<key>`` every N batches, at the global batch step (which continues across fits).
        hparams: a dict of hyper-parameters; at the end of training they are written with the
            final epoch values to ``log_dir`` itself for TensorBoard's HParams tab.

    Example:
        tb = ks.callbacks.TensorBoard("logs/run1", histogram_freq=1, update_freq=50)
        model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[tb])
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
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._writer_class = _summary_writer_class()
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"histogram_freq must be a non-negative integer; got {histogram_freq!r}.")
        if update_freq == "batch":
            batch_every = 1
        elif update_freq == "epoch":
            batch_every = 0
        elif isinstance(update_freq, int) and not isinstance(update_freq, bool) and update_freq > 0:
            batch_every = update_freq
        else:
            raise ValueError(
                f"update_freq must be 'epoch', 'batch' or a positive integer; got {update_freq!r}."
            )
        if hparams is not None and not isinstance(hparams, Mapping):
            raise TypeError(f"hparams must be a dict of hyper-parameters; got {type(hparams).__name__}.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.hparams = dict(hparams) if hparams is not None else None
        self._batch_every = batch_every
        self._writers: dict[str, Any] = {}
        self._global_step = 0  # training batches seen by this callback, over every fit
        self._graph_written = False
        self._first_input: _FirstInput | None = None
        self._in_fit = False

    # ------------------------------------------------------------------ writers

    def _writer(self, run: str):
        """The ``train`` / ``validation`` writer, opened on first use (no empty event files)."""
        if run not in self._writers:
            self._writers[run] = self._writer_class(log_dir=os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._epoch_batches = 0
        self._window_start = time.perf_counter()
        if self.write_graph and not self._graph_written:
            self._first_input = _FirstInput(self.model.module)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._global_step += 1
        self._epoch_batches += 1
        if self._first_input is not None:
            self._write_graph()
        if self._batch_every and self._global_step % self._batch_every == 0:
            writer = self._writer("train")
            for key, value in (logs or {}).items():  # the only batch-log read: one device sync
                writer.add_scalar(f"batch_{key}", float(value), self._global_step)
            if self.write_steps_per_second:
                now = time.perf_counter()
                rate = self._batch_every / max(now - self._window_start, 1e-9)
                writer.add_scalar("batch_steps_per_second", rate, self._global_step)
                self._window_start = now

    def on_test_end(self, logs=None):
        # Keras also plots each validation pass against the training step it happened at.
        if self._in_fit and logs:
            writer = self._writer("validation")
            for key, value in logs.items():
                writer.add_scalar(f"evaluation_{key}_vs_iterations", float(value), self._global_step)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[len("val_"):]: v for k, v in logs.items() if k.startswith("val_")}
        if "learning_rate" not in train and getattr(self.model, "optimizer", None) is not None:
            train["learning_rate"] = self.model.learning_rate
        if self.write_steps_per_second:
            elapsed = max(time.perf_counter() - self._epoch_start, 1e-9)
            train["steps_per_second"] = self._epoch_batches / elapsed
        writer = self._writer("train")
        for key, value in train.items():
            writer.add_scalar(f"epoch_{key}", float(value), epoch)
        if validation:
            val_writer = self._writer("validation")
            for key, value in validation.items():
                val_writer.add_scalar(f"epoch_{key}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)
        for w in self._writers.values():
            w.flush()
        self._last_epoch, self._last_logs = epoch, logs

    def on_train_end(self, logs=None):
        if self._first_input is not None:
            self._first_input.remove()
            self._first_input = None
        if self.hparams is not None:
            self._write_hparams(getattr(self, "_last_logs", None) or dict(logs or {}))
        self._close_writers()
        self._in_fit = False

    # ------------------------------------------------------------------ pieces

    def _write_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for name, param in self.model.module.named_parameters():
            values = param.detach()
            writer.add_histogram(f"{name}/histogram", _finite(values), epoch)
            if param.grad is not None:  # the epoch's last batch (grads are zeroed at step start)
                writer.add_histogram(f"{name}/gradient", _finite(param.grad.detach()), epoch)
            if self.write_images:
                image = _weight_image(values)
                if image is not None:
                    writer.add_images(f"{name}/image", image, epoch, dataformats="NCHW")

    def _write_graph(self) -> None:
        first, self._first_input = self._first_input, None
        first.remove()
        if first.args is None:
            return  # the module was not called through its forward (nothing seen yet)
        self._graph_written = True
        module = self.model.module
        if first.kwargs:
            warnings.warn(
                "TensorBoardCallback: the model graph is not written because the module takes "
                "keyword inputs, which torch.jit.trace cannot record. Pass write_graph=False to "
                "silence this.", stacklevel=2,
            )
            return
        args = first.args[0] if len(first.args) == 1 else first.args
        was_training = module.training
        module.eval()  # no batch-norm statistics updated, no dropout randomness used
        try:
            # torch prints its tracing errors; they come back below as one warning instead
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    torch.random.fork_rng(devices=_rng_devices(module)):
                warnings.simplefilter("ignore")  # tracer warnings are about the trace, not the user
                self._writer("train").add_graph(module, args)
        except Exception as error:  # noqa: BLE001 - any tracing failure: warn, keep training
            warnings.warn(
                f"TensorBoardCallback could not trace the module to write its graph "
                f"({type(error).__name__}: {str(error)[:300]}). Training goes on; pass "
                "write_graph=False to skip the graph.", stacklevel=2,
            )
        finally:
            module.train(was_training)

    def _write_hparams(self, logs: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        values = {k: _hparam_value(v) for k, v in self.hparams.items() if v is not None}
        metrics = {f"hparams/{k}": float(v) for k, v in logs.items()}
        experiment, start, end = hparams_summaries(values, metrics)
        step = getattr(self, "_last_epoch", 0)
        with self._writer_class(log_dir=self.log_dir) as writer:
            for summary in (experiment, start, end):
                writer.file_writer.add_summary(summary, step)
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, step)


TensorBoard = TensorBoardCallback


class _FirstInput:
    """Records the inputs of the module's next forward call, then removes itself.

    One forward pre-hook for one call: the first training batch's inputs, cut to one sample, for
    tracing the graph. Nothing stays attached to later steps.
    """

    def __init__(self, module: torch.nn.Module):
        self.args: tuple | None = None
        self.kwargs: dict = {}
        self._handle = module.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        if self.args is None:
            self.args = tuple(_one_sample(a) for a in args)
            self.kwargs = {k: _one_sample(v) for k, v in kwargs.items()}
        self.remove()

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def _one_sample(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach()[:1].clone() if value.dim() else value.detach().clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_one_sample(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _one_sample(v) for k, v in value.items()}
    return value


def _rng_devices(module: torch.nn.Module) -> list:
    devices = {p.device for p in module.parameters() if p.device.type == "cuda"}
    return sorted(d.index or 0 for d in devices)


def _finite(tensor: torch.Tensor) -> torch.Tensor:
    """The finite values as float32 on the CPU (a histogram of inf/nan would fail to write)."""
    values = tensor.float().flatten()
    finite = values[torch.isfinite(values)]
    return (finite if finite.numel() else torch.zeros(1, device=values.device)).cpu()


def _weight_image(weight: torch.Tensor) -> torch.Tensor | None:
    """A weight as NCHW greyscale images in [0, 1]: a bias as one row, a matrix as itself (wide
    side horizontal), a convolution kernel as one small image per (out, in) channel pair."""
    w = weight.detach().float().cpu()
    if w.dim() == 1:
        w = w.reshape(1, 1, 1, -1)
    elif w.dim() == 2:
        if w.shape[0] > w.shape[1]:
            w = w.t()
        w = w.reshape(1, 1, *w.shape)
    elif w.dim() >= 3:
        w = w.reshape(-1, 1, w.shape[-2], w.shape[-1])
    else:
        return None
    low, high = w.min(), w.max()
    return (w - low) / (high - low) if high > low else torch.zeros_like(w)


def _hparam_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return str(value)
