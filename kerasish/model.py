"""``Model``: Keras's compile / fit / evaluate / predict around any ``torch.nn.Module``.

This file checks arguments and runs the epoch loop; ``data`` turns input into device batches and
``engine`` runs the steps. Following one batch: ``fit`` -> ``EpochIterator.epoch`` (data.py) ->
``Engine.train_step`` (engine.py) -> ``optimizer.step``. Every check that can fail on user input
runs before the first optimizer step, so bad input never changes a weight.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from kerasish import data as data_lib
from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.history import History
from kerasish.callbacks.progbar import ProgbarLogger
from kerasish.distributed import Group, interleave, launched_by_torchrun, local_device
from kerasish.engine import (
    PRECISIONS,
    CompiledLoss,
    CompiledMetrics,
    Engine,
    LazyLogs,
    call_module,
    materialize,
)
from kerasish.io import atomic_torch_save
from kerasish.losses import get_loss
from kerasish.metrics import TorchMetricsAdapter, get_metric
from kerasish.optimizers import get_optimizer
from kerasish.summary import summarize

_FULL_SAVE_FORMAT = "kerasish.full.v1"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` picks cuda, then mps, then cpu."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Model:
    """Wraps a ``torch.nn.Module`` with Keras's training API.

    Args:
        module: any ``torch.nn.Module``; it is moved to ``device``.
        device: ``None`` picks cuda, then mps, then cpu.

    Example:
        model = ks.Model(net).compile("adam", "cross_entropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        test_loss, test_acc = model.evaluate(x_test, y_test)
    """

    def __init__(self, module: torch.nn.Module, device: str | torch.device | None = None):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"Model(module) takes a torch.nn.Module; got {type(module).__name__}. Wrap your "
                "layers in a module first, e.g. ks.Model(torch.nn.Sequential(...))."
            )
        if device is None and launched_by_torchrun():
            device = local_device()  # one process per device: LOCAL_RANK picks it
        self.device = resolve_device(device)
        self.module = module.to(self.device)
        self.optimizer: torch.optim.Optimizer | None = None
        self.history: History | None = None
        self.stop_training = False
        self.compile_config: dict[str, Any] = {}
        self._engine: Engine | None = None
        self._epoch = 0  # the epoch being trained (or the next one): saved with the full state
        self._steps_done = 0  # batches finished in the current epoch (for mid-epoch backups)
        self._data_seed = 0  # seeds this fit's shuffling: epoch e's order comes from seed + e
        # Set by a callback in on_train_begin (BackupAndRestore) to continue a run mid-epoch:
        # (epoch, batches already done in it). fit honours it, then clears it.
        self._resume_point: tuple[int, int] | None = None
        self._group: Group | None = None  # the torchrun process group, joined on first fit
        self._ddp: torch.nn.Module | None = None
        self._loop_clock: Any = None  # set by a LoopTimer callback: time split of the loop
        self._callbacks: list[Callback] = []  # the running fit's callbacks, in dispatch order
        self._example_input: Any = None  # one sample of the last batch seen, for summary()

    # ------------------------------------------------------------------ public training state

    @property
    def epoch(self) -> int:
        """The epoch being trained (0-based); after an epoch ends, the next one."""
        return self._epoch

    @property
    def step_in_epoch(self) -> int:
        """Batches finished in the current epoch."""
        return self._steps_done

    @property
    def optimizer_steps(self) -> int:
        """Optimizer steps taken so far (Keras's ``optimizer.iterations``); no device read."""
        return 0 if self._engine is None else self._engine.optimizer_steps

    @property
    def is_main_process(self) -> bool:
        """False on the non-zero ranks of a torchrun job: only the main process writes or prints."""
        if self._group is not None:
            return self._group.is_main
        return int(os.environ.get("RANK", "0")) == 0

    # ------------------------------------------------------------------ learning rate

    @property
    def learning_rate(self) -> float:
        """The first param group's learning rate; setting it sets every group's."""
        if self.optimizer is None:
            raise ValueError("learning_rate is known after compile(); call model.compile() first.")
        lr = self.optimizer.param_groups[0]["lr"]
        return float(lr)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self.optimizer is None:
            raise ValueError("learning_rate can be set after compile(); call model.compile() first.")
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(float(value))
            else:
                group["lr"] = float(value)

    # ------------------------------------------------------------------ compile

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        *,
        loss_weights: Sequence[float] | Mapping[str, float] | float | None = None,
        weighted_metrics: Any = None,
        jit_compile: bool = False,
        precision: str = "float32",
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        gradient_accumulation_steps: int = 1,
    ) -> Model:
        """Configure training; returns the model so ``Model(net).compile(...)`` chains."""
        if precision not in PRECISIONS:
            raise ValueError(
                f"precision={precision!r} is not known. Use one of {', '.join(PRECISIONS)}."
            )
        if not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 1:
            raise ValueError(
                "gradient_accumulation_steps must be an integer >= 1; got "
                f"{gradient_accumulation_steps!r}."
            )
        for name, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number or None; got {value!r}.")
        self.optimizer = get_optimizer(optimizer, self.module.parameters())
        compiled_loss = None if loss is None else _compile_loss(loss, loss_weights)
        compiled_metrics = CompiledMetrics(
            _metric_entries(metrics, weighted=False) + _metric_entries(weighted_metrics, weighted=True)
        )
        self._engine = Engine(
            self.module, self.optimizer, compiled_loss, compiled_metrics, device=self.device,
            precision=precision, clipnorm=clipnorm, clipvalue=clipvalue,
            gradient_accumulation_steps=gradient_accumulation_steps, jit_compile=jit_compile,
        )
        self.compile_config = {
            "optimizer": type(self.optimizer).__name__,
            "loss": _describe(loss),
            "metrics": list(compiled_metrics.names),
            "precision": precision,
            "jit_compile": jit_compile,
            "clipnorm": clipnorm,
            "clipvalue": clipvalue,
            "gradient_accumulation_steps": gradient_accumulation_steps,
        }
        return self

    @property
    def metrics_names(self) -> list[str]:
        return list(self._require_compiled("metrics_names").result_fns())

    def _require_compiled(self, method: str, need_loss: bool = True) -> Engine:
        if self._engine is None:
            raise ValueError(
                f"You must call compile() before {method}(): "
                "model.compile(optimizer='adam', loss='cross_entropy')."
            )
        if need_loss and self._engine.loss is None:
            raise ValueError(
                f"{method}() needs a loss, but compile() was called with loss=None. Pass "
                "loss=... to compile()."
            )
        return self._engine

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: list[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool | str = True,
        class_weight: Mapping[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
    ) -> History:
        """Train for ``epochs`` epochs; returns the ``History`` (Keras semantics throughout)."""
        engine = self._require_compiled("fit")
        verbose = _check_verbose(verbose)
        for name, value in (("batch_size", batch_size), ("steps_per_epoch", steps_per_epoch),
                            ("validation_batch_size", validation_batch_size),
                            ("validation_steps", validation_steps)):
            _check_positive_int(value, name, allow_none=True)
        for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer; got {value!r}.")
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}.")
        _check_class_weight(class_weight, sample_weight)
        validate_on = _validation_schedule(validation_freq)
        if validation_split:
            _check_validation_split(validation_split, x, needs_arrays=validation_data is None)
            if validation_data is None:  # as in Keras, validation_data wins over the split
                (x, y, sample_weight), validation_data = data_lib.split_for_validation(
                    x, y, sample_weight, validation_split
                )

        group = self._process_group()
        # Shuffling follows torch.manual_seed; a resuming callback may replace the seed. Under
        # torchrun every rank takes rank 0's seed, so all shards come from one permutation.
        self._data_seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        if group is not None:
            self._data_seed = group.broadcast(self._data_seed)
            engine.train_module = self._ddp_module()
        _no_batch_size_for_iterables(x, batch_size)
        source = data_lib.make_source(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                      device=self.device, seed=self._data_seed,
                                      shard=self._shard(group, pad=True))
        train_batches = data_lib.EpochIterator(source, steps_per_epoch)
        val_batches = None
        if validation_data is not None:
            val_source = self._validation_source(validation_data, validation_batch_size or batch_size,
                                                 self._shard(group, pad=False))
            val_batches = data_lib.EpochIterator(val_source, validation_steps)

        engine.set_class_weight(class_weight)
        engine.all_targets = source.targets()
        engine.checked_targets = False
        self.history = History()
        params = {"verbose": verbose, "epochs": epochs, "steps": train_batches.steps,
                  "batch_size": getattr(source, "batch_size", None)}
        cbs = self._callback_list(callbacks, self.history, verbose, params)
        self._callbacks = cbs.callbacks  # what this fit runs (W&B finds ModelCheckpoint files)
        self.stop_training = False
        results = engine.result_fns()

        with _reporting_errors(cbs):
            cbs.on_train_begin({})
            start_epoch, start_step = self._resume_point or (initial_epoch, 0)
            self._resume_point = None
            source.seed = self._data_seed
            epoch_logs: dict[str, float] = {}
            for epoch in range(start_epoch, epochs):
                self._epoch = epoch
                engine.reset_metrics()
                cbs.on_epoch_begin(epoch, {})
                self.module.train()
                first_step, start_step = start_step, 0
                steps_done = self._train_epoch(train_batches.epoch(epoch, first_step), cbs, results,
                                               stop_mid_epoch=group is None)
                if steps_done == 0 and first_step == 0:
                    break  # a one-shot iterator ran out (warned by the iterator)
                epoch_logs = self._epoch_results(results, group)  # the epoch's one host read
                if val_batches is not None and validate_on(epoch):
                    val_logs = self._evaluate_loop(val_batches, cbs, group)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                # The epoch is done: a save from on_epoch_end records that training continues at the next.
                self._epoch, self._steps_done = epoch + 1, 0
                cbs.on_epoch_end(epoch, epoch_logs)
                if group is not None:
                    self.stop_training = group.any(self.stop_training, self.device)
                if self.stop_training or train_batches.exhausted:
                    break
            cbs.on_train_end(epoch_logs)
        self._callbacks = []
        if group is not None:
            group.barrier()  # rank 0 has finished writing before any rank returns
        return self.history

    def _train_epoch(self, batches, cbs: CallbackList, results, stop_mid_epoch: bool) -> int:
        """The step loop of one epoch; returns the number of steps taken.

        Hooks nobody overrides are skipped, batch logs are built only for listeners, and the
        LoopTimer's clock (usually ``None``) is stamped only when attached.
        """
        engine, clock = self._engine, self._loop_clock
        wants_batch_begin = cbs.wants("on_train_batch_begin")
        wants_batch_end = cbs.wants("on_train_batch_end")
        steps_done = 0
        for step, (xb, yb, swb) in batches:
            if clock is not None:
                clock.tick("data")
            if wants_batch_begin:
                cbs.on_train_batch_begin(step, {})
            if clock is not None:
                clock.step_begins()
            engine.train_step(xb, yb, swb)
            if clock is not None:
                clock.step_ends()
            steps_done += 1
            self._steps_done = step + 1
            if wants_batch_end:  # logs are read from the device only if a callback looks
                cbs.on_train_batch_end(step, LazyLogs(results))
            if clock is not None:
                clock.tick("callbacks")
            if self.stop_training and stop_mid_epoch:  # under DDP ranks agree at epoch end
                break
        engine.apply_gradients()  # an unfinished accumulation window still counts
        if steps_done and self._example_input is None:
            self._example_input = data_lib.map_structure(lambda t: t[:1], xb)
        return steps_done

    # ------------------------------------------------------------------ torchrun

    def _process_group(self) -> Group | None:
        """Join the torchrun group on first use; ``None`` in a single-process run."""
        if self._group is None and launched_by_torchrun():
            self._group = Group.join(self.device)
        return self._group

    def _ddp_module(self) -> torch.nn.Module:
        if self._ddp is None:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = DistributedDataParallel(self.module, device_ids=device_ids)
        return self._ddp

    @staticmethod
    def _shard(group: Group | None, pad: bool) -> data_lib.Shard | None:
        return None if group is None else data_lib.Shard(group, pad)

    def _epoch_results(self, results, group: Group | None) -> dict[str, float]:
        if group is not None:
            self._engine.all_reduce_results(group)
        return materialize(results)

    def _validation_source(self, validation_data: Any, batch_size: int | None, shard=None):
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3) and \
                data_lib.is_array_like(validation_data[0]):
            vx, vy, vsw = (*validation_data, None)[:3]
            return data_lib.make_source(vx, vy, vsw, batch_size=batch_size, shuffle=False,
                                        device=self.device, argument="validation_data", shard=shard)
        if isinstance(validation_data, (tuple, list)):
            raise ValueError(
                "validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val) with "
                f"arrays or tensors, or a Dataset/DataLoader; got a {type(validation_data).__name__} "
                f"of length {len(validation_data)}."
            )
        _no_batch_size_for_iterables(validation_data, None)
        return data_lib.make_source(validation_data, None, None, batch_size=batch_size,
                                    shuffle=False, device=self.device, argument="validation_data",
                                    shard=shard)

    def _callback_list(self, callbacks, history: History | None, verbose: int, params: dict):
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be ks.callbacks.Callback instances; got {type(cb).__name__}."
                )
        main_process = self._group is None or self._group.is_main
        if not main_process:  # callbacks that write files or print act on rank 0 only
            callbacks = [cb for cb in callbacks if not getattr(cb, "rank_zero_only", False)]
        extra: list[Callback] = [history] if history is not None else []
        if verbose and main_process:
            extra.append(ProgbarLogger())
        return CallbackList(callbacks + extra, model=self, params=params)

    # ------------------------------------------------------------------ evaluate / predict

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: list[Callback] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """The loss and metrics over the data: a scalar, ``[loss, *metrics]`` or a dict."""
        engine = self._require_compiled("evaluate")
        verbose = _check_verbose(verbose)
        _check_positive_int(batch_size, "batch_size", allow_none=True)
        _check_positive_int(steps, "steps", allow_none=True)
        _no_batch_size_for_iterables(x, batch_size)
        group = self._process_group()
        source = data_lib.make_source(x, y, sample_weight, batch_size=batch_size, shuffle=False,
                                      device=self.device, shard=self._shard(group, pad=False))
        batches = data_lib.EpochIterator(source, steps)
        engine.set_class_weight(None)
        engine.all_targets = source.targets()
        engine.checked_targets = False
        cbs = self._callback_list(callbacks, None, verbose,
                                  {"verbose": verbose, "epochs": 1, "steps": batches.steps})
        with _reporting_errors(cbs):
            logs = self._evaluate_loop(batches, cbs, group)
        return _format_results(logs, return_dict)

    def _evaluate_loop(self, batches: data_lib.EpochIterator, cbs: CallbackList,
                       group: Group | None = None) -> dict[str, float]:
        engine = self._engine
        self.module.eval()
        engine.reset_metrics()
        results = engine.result_fns()
        wants_batch_end = cbs.wants("on_test_batch_end")
        cbs.on_test_begin({})
        for step, (xb, yb, swb) in batches.epoch(0):
            cbs.on_test_batch_begin(step, {})
            engine.test_step(xb, yb, swb)
            if wants_batch_end:
                cbs.on_test_batch_end(step, LazyLogs(results))
        logs = self._epoch_results(results, group)
        cbs.on_test_end(logs)
        return logs

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        steps: int | None = None,
        callbacks: list[Callback] | None = None,
    ) -> Any:
        """The module's outputs in eval mode as NumPy arrays (works without ``compile``)."""
        verbose = _check_verbose(verbose)
        _check_positive_int(batch_size, "batch_size", allow_none=True)
        _check_positive_int(steps, "steps", allow_none=True)
        _no_batch_size_for_iterables(x, batch_size)
        group = self._process_group()
        source = data_lib.make_source(x, None, None, batch_size=batch_size, shuffle=False,
                                      device=self.device, shard=self._shard(group, pad=False))
        batches = data_lib.EpochIterator(source, steps)
        engine = self._predictor()
        cbs = self._callback_list(callbacks, None, verbose,
                                  {"verbose": verbose, "epochs": 1, "steps": batches.steps})
        self.module.eval()
        outputs = []
        with _reporting_errors(cbs):
            cbs.on_predict_begin({})
            for step, (xb, _, _) in batches.epoch(0):
                cbs.on_predict_batch_begin(step, {})
                out = engine.predict_step(xb)
                outputs.append(out)
                cbs.on_predict_batch_end(step, {"outputs": out})
            cbs.on_predict_end({})
        predictions = _concat_to_numpy(outputs)
        if group is not None and isinstance(source, data_lib.ArraySource | data_lib.DatasetSource):
            predictions = interleave(group.gather(predictions))  # every rank gets all, in order
        return predictions

    def _predictor(self) -> Engine:
        if self._engine is not None:
            return self._engine
        return Engine(self.module, None, None, CompiledMetrics([]), device=self.device)

    # ------------------------------------------------------------------ single batches

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: Mapping[int, float] | None = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """One optimizer step on one batch; returns the batch's loss and metrics."""
        engine = self._require_compiled("train_on_batch")
        _check_class_weight(class_weight, sample_weight)
        xb, yb, swb = self._single_batch(x, y, sample_weight)
        engine.set_class_weight(class_weight)
        engine.reset_metrics()
        self.module.train()
        engine.train_step(xb, yb, swb)
        return _format_results(materialize(engine.result_fns()), return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        engine = self._require_compiled("test_on_batch")
        xb, yb, swb = self._single_batch(x, y, sample_weight)
        engine.set_class_weight(None)
        engine.reset_metrics()
        self.module.eval()
        engine.test_step(xb, yb, swb)
        return _format_results(materialize(engine.result_fns()), return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        xb = data_lib.to_device(data_lib.map_structure(data_lib.as_tensor, x), self.device)
        self.module.eval()
        return _concat_to_numpy([self._predictor().predict_step(xb)])

    def _single_batch(self, x, y, sample_weight):
        x, y = data_lib.map_structure(data_lib.as_tensor, x), data_lib.map_structure(data_lib.as_tensor, y)
        sw = None if sample_weight is None else data_lib.as_tensor(sample_weight).float()
        data_lib.check_lengths(x, y, sw)
        return data_lib.to_device((x, y, sw), self.device)

    # ------------------------------------------------------------------ summary

    def summary(self, input_shape: Sequence[int] | None = None,
                print_fn: Callable[[str], Any] | None = None) -> None:
        """Print a Keras-style table of layers, output shapes and parameter counts."""
        example = self._example_input
        if input_shape is not None:
            example = torch.zeros((1, *input_shape), device=self.device)
        text = summarize(self.module, example, call_module)
        (print_fn or print)(text)

    # ------------------------------------------------------------------ weights and saving

    def get_weights(self) -> list[np.ndarray]:
        """Every tensor of the module's state (parameters and buffers) as NumPy arrays."""
        return [t.detach().cpu().numpy().copy() for t in self.module.state_dict().values()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        state = self.module.state_dict()
        if len(weights) != len(state):
            raise ValueError(
                f"set_weights got {len(weights)} arrays but the module has {len(state)} state "
                "tensors (parameters and buffers, in state_dict order); pass get_weights()'s list."
            )
        new_state = {}
        for (key, current), value in zip(state.items(), weights):
            tensor = torch.as_tensor(np.asarray(value))
            if tuple(tensor.shape) != tuple(current.shape):
                raise ValueError(
                    f"set_weights: {key!r} has shape {tuple(current.shape)}, got "
                    f"{tuple(tensor.shape)}."
                )
            new_state[key] = tensor.to(dtype=current.dtype)
        self.module.load_state_dict(new_state)

    def save_weights(self, filepath: str | os.PathLike) -> None:
        """Write the module's ``state_dict`` (loadable with plain ``torch.load`` too)."""
        atomic_torch_save(self.module.state_dict(), filepath)

    def save(self, filepath: str | os.PathLike) -> None:
        """Write the whole training state: weights, optimizer, scaler, epoch, compile settings."""
        engine = self._engine
        state = {
            "format": _FULL_SAVE_FORMAT,
            "module": self.module.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "scaler": None if engine is None else engine.scaler.state_dict(),
            "epoch": self._epoch,
            "compile": dict(self.compile_config),
        }
        atomic_torch_save(state, filepath)

    def load_weights(self, filepath: str | os.PathLike) -> None:
        """Read a ``save`` or ``save_weights`` file; a full save also restores the optimizer."""
        try:
            state = torch.load(filepath, map_location=self.device, weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as error:  # torch raises several types for a damaged file
            raise ValueError(
                f"load_weights could not read {os.fspath(filepath)!r}: the file is corrupt or not a "
                f"torch checkpoint ({type(error).__name__}: {str(error)[:200]})."
            ) from error
        full = isinstance(state, Mapping) and state.get("format") == _FULL_SAVE_FORMAT
        weights = state["module"] if full else state
        if not isinstance(weights, Mapping):
            raise ValueError(
                f"load_weights: {os.fspath(filepath)!r} does not hold a state_dict (found "
                f"{type(weights).__name__})."
            )
        _check_state_matches(self.module, weights, filepath)
        self.module.load_state_dict(weights)
        if full:
            if self.optimizer is not None and state.get("optimizer") is not None:
                self.optimizer.load_state_dict(state["optimizer"])
            if self._engine is not None and state.get("scaler"):
                self._engine.scaler.load_state_dict(state["scaler"])
            self._epoch = int(state.get("epoch", 0))


# ---------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _reporting_errors(cbs: CallbackList) -> Iterator[None]:
    """Any exception in the loop reaches every callback's ``on_exception``, then propagates unchanged."""
    try:
        yield
    except BaseException as error:
        cbs.on_exception(error)
        raise


def _check_state_matches(module: torch.nn.Module, weights: Mapping, filepath) -> None:
    expected = module.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shapes = [
        f"{k}: file {tuple(weights[k].shape)} vs module {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and hasattr(weights[k], "shape") and tuple(weights[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:10]}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:10]}")
        if shapes:
            parts.append(f"shape mismatches {shapes[:10]}")
        raise ValueError(
            f"load_weights: {os.fspath(filepath)!r} does not match this module: "
            + "; ".join(parts)
            + ". Load it into the same architecture it was saved from."
        )


def _compile_loss(loss: Any, loss_weights: Any) -> CompiledLoss:
    if isinstance(loss, Mapping):
        weights = loss_weights or {}
        return CompiledLoss([(k, get_loss(v), float(weights.get(k, 1.0))) for k, v in loss.items()])
    if isinstance(loss, (list, tuple)):
        weights = list(loss_weights) if loss_weights is not None else [1.0] * len(loss)
        if len(weights) != len(loss):
            raise ValueError(
                f"loss_weights has {len(weights)} entries but loss has {len(loss)}; give one "
                "weight per output."
            )
        return CompiledLoss([(i, get_loss(v), float(w)) for i, (v, w) in enumerate(zip(loss, weights))])
    weight = 1.0 if loss_weights is None else float(loss_weights)  # type: ignore[arg-type]
    return CompiledLoss([(None, get_loss(loss), weight)])


def _metric_entries(spec: Any, weighted: bool) -> list:
    argument = "weighted_metrics" if weighted else "metrics"
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        pairs = [(key, value) for key, value in spec.items()]
    elif isinstance(spec, (list, tuple)) and spec and all(isinstance(s, (list, tuple)) for s in spec):
        pairs = list(enumerate(spec))
    elif isinstance(spec, (list, tuple)):
        pairs = [(None, spec)]
    else:
        raise TypeError(
            f"{argument} must be a list (e.g. ['accuracy']), a list of lists or a dict per output; "
            f"got {type(spec).__name__}."
        )
    entries = []
    for key, specs in pairs:
        specs = specs if isinstance(specs, (list, tuple)) else [specs]
        for item in specs:
            metric = get_metric(item)
            if weighted and isinstance(metric, TorchMetricsAdapter):
                raise TypeError(
                    f"weighted_metrics cannot hold the torchmetrics object {metric.name!r}: "
                    "torchmetrics takes no sample weights. Put it in metrics instead."
                )
            entries.append((key, metric, weighted))
    return entries


def _describe(loss: Any) -> Any:
    if isinstance(loss, str) or loss is None:
        return loss
    if isinstance(loss, Mapping):
        return {k: _describe(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_describe(v) for v in loss]
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def _check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose in (0, 1, 2) and not isinstance(verbose, float):
        return int(verbose)
    raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; got {verbose!r}.")


def _check_positive_int(value: Any, name: str, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        allowed = " or None" if allow_none else ""
        raise ValueError(f"{name} must be a positive integer{allowed}; got {value!r}.")


def _check_class_weight(class_weight: Any, sample_weight: Any) -> None:
    if class_weight is None:
        return
    if sample_weight is not None:
        raise ValueError(
            "class_weight and sample_weight cannot be given together; fold the class weights into "
            "sample_weight (sample_weight * class_weight_of_each_label) and pass only that."
        )
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            f"class_weight must be a dict {{class_index: weight}}; got {type(class_weight).__name__}."
        )


def _check_validation_split(validation_split: Any, x: Any, needs_arrays: bool) -> None:
    if not 0.0 < validation_split < 1.0:
        raise ValueError(
            f"validation_split must lie strictly between 0 and 1; got {validation_split}."
        )
    if needs_arrays and not data_lib.is_array_like(x):
        raise ValueError(
            "validation_split needs NumPy arrays or tensors as x (it takes the last fraction of "
            f"them); got {type(x).__name__}. Pass validation_data instead."
        )


def _no_batch_size_for_iterables(x: Any, batch_size: int | None) -> None:
    if batch_size is not None and isinstance(x, torch.utils.data.DataLoader):
        raise ValueError(
            "batch_size must be None when x is a DataLoader: the loader already batches. Set the "
            "batch size on the DataLoader, or pass its Dataset and batch_size instead."
        )


def _validation_schedule(validation_freq: Any) -> Callable[[int], bool]:
    if isinstance(validation_freq, int) and not isinstance(validation_freq, bool):
        if validation_freq < 1:
            raise ValueError(f"validation_freq must be >= 1; got {validation_freq}.")
        return lambda epoch: (epoch + 1) % validation_freq == 0
    if isinstance(validation_freq, (list, tuple, set, range)):
        epochs = set(validation_freq)
        return lambda epoch: (epoch + 1) in epochs
    raise ValueError(
        "validation_freq must be an integer (validate every N epochs) or a list of 1-based epochs; "
        f"got {validation_freq!r}."
    )


def _format_results(logs: dict[str, float], return_dict: bool):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _concat_to_numpy(outputs: list) -> Any:
    if not outputs:
        return np.empty((0,))
    first = outputs[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_concat_to_numpy([o[i] for o in outputs]) for i in range(len(first)))
    if isinstance(first, Mapping):
        return {k: _concat_to_numpy([o[k] for o in outputs]) for k in first}
    joined = torch.cat([o.detach() for o in outputs])
    if joined.dtype in (torch.float16, torch.bfloat16):
        joined = joined.float()  # NumPy has no bfloat16; mixed-precision outputs come back float32
    return joined.cpu().numpy()
