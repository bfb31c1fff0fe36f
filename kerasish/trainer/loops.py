"""The loops: ``fit``'s epochs, ``evaluate``, ``predict``, and what ``fit`` checks before them.

Following one batch of ``fit``: ``FitLoop.run`` -> ``FitLoop.train_epoch`` ->
``EpochIterator.epoch`` (``kerasish.data``) -> ``steps.train`` (the engine's fused step or the
user's, chosen once in ``step_functions``) -> ``optimizer.step``. The loops use the model's public
state only (its module, metrics, stop flags and clock) and the run's ``RunState``; every check that
can fail on user input runs before the first optimizer step, so bad input never changes a weight.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import torch

from kerasish import arguments as args_lib
from kerasish import data as data_lib
from kerasish import state as state_lib
from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.history import History
from kerasish.callbacks.keras_callback import KerasCallback, is_keras_callback
from kerasish.callbacks.progbar import ProgbarLogger
from kerasish.distributed import Group
from kerasish.optimizers.moving_average import finalize_variable_values
from kerasish.trainer.engine import Engine
from kerasish.trainer.logs import LazyLogs, materialize
from kerasish.trainer.run_state import RunState
from kerasish.trainer.step_functions import StepFunctions, StepResults, counting_optimizer_steps
from kerasish.tree import map_structure

if TYPE_CHECKING:
    from kerasish.model import Model

Logs = dict[str, float]


class ModuleModes:
    """The train/eval mode of every submodule, taken before a loop sets eval mode and put back after.

    A user who froze part of a module with ``submodule.eval()`` (a BatchNorm base being
    fine-tuned) keeps it frozen: ``fit`` trains in the modes the user (or a callback) set, and
    validation, ``evaluate`` and ``predict`` put them back when they end, as Lightning 2.2+ does.
    """

    def __init__(self, module: torch.nn.Module):
        self.modes = [(m, m.training) for m in module.modules()]

    def restore(self) -> None:
        for module, training in self.modes:
            module.training = training

    @contextlib.contextmanager
    def kept(self) -> Iterator[None]:
        """Whatever the loop inside sets, the modes are the user's again afterwards."""
        try:
            yield
        finally:
            self.restore()


class FitLoop:
    """One ``fit``: its epochs, each epoch's steps, and validation after them.

    Hooks nobody overrides are skipped, batch logs are built only for listeners, and the loop
    clock (usually ``None``) is stamped only when attached, so an epoch costs what its steps cost.
    """

    def __init__(self, model: Model, engine: Engine, run: RunState, steps: StepFunctions,
                 group: Group | None, val_group: Group | None = None):
        self.model, self.engine, self.run, self.steps, self.group = model, engine, run, steps, group
        # The group validation sums over: ``None`` when every rank validates on all the data (FSDP).
        self.val_group = val_group

    def fit(self, cbs: CallbackList, train_batches: data_lib.EpochIterator,
            val_batches: data_lib.EpochIterator | None, epochs: int, initial_epoch: int,
            validate_on: Callable[[int], bool]) -> None:
        """Epochs ``initial_epoch`` (or a resume's epoch) to ``epochs - 1``, with their callbacks."""
        model, run, group = self.model, self.run, self.group
        if not model.module.training:  # left in eval mode (e.g. by the user): train it all
            model.module.train()
        with run.running(cbs.callbacks, train_batches), \
                reporting_errors(cbs, cleanup=self.engine.discard_window), \
                counting_optimizer_steps(self.engine, model.optimizer, self.steps.custom_train):
            cbs.on_train_begin({})
            resume = run.take_resume()  # a BackupAndRestore (or any callback) called state.resume
            start_epoch, start_step = self._apply_resume(resume, cbs, train_batches, initial_epoch)
            train_batches.source.seed = run.data_seed
            epoch_logs: Logs = {}
            for epoch in range(start_epoch, epochs):
                run.epoch, run.step_in_epoch = epoch, start_step
                model.reset_metrics()
                if start_step and resume is not None:  # a resumed epoch's running means
                    state_lib.load_metric_states(model.metrics, resume.get("metrics") or {},
                                                 model.device)
                cbs.on_epoch_begin(epoch, {})
                first_step, start_step = start_step, 0
                results = self.train_epoch(train_batches.epoch(epoch, first_step), cbs)
                if results is None and first_step == 0:
                    break  # a one-shot iterator ran out (warned by the iterator)
                if results is None:  # resumed after the epoch's last batch (during validation)
                    results = self._finished_epoch_results(resume)
                epoch_logs = epoch_end_logs(self.engine, results if results is not None else {},
                                            group, reduce=not self.steps.custom_train)
                if val_batches is not None and validate_on(epoch):
                    val_batches.rewind()
                    with self.engine.without_class_weight(), ModuleModes(model.module).kept():
                        val_logs = evaluate(model, self.engine, val_batches, cbs, self.val_group,
                                            self.steps)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                # The epoch is done: a save from on_epoch_end records that training continues at
                # the next one.
                run.epoch, run.step_in_epoch = epoch + 1, 0
                cbs.on_epoch_end(epoch, epoch_logs)
                if group is not None:
                    model.stop_training = group.any(model.stop_training, model.device)
                if model.stop_training or train_batches.exhausted:
                    break
            if epochs > 0:  # use_ema: the weights become their averages first, as Keras's fit
                finalize_variable_values(model.optimizer)
            cbs.on_train_end(epoch_logs)
        if group is not None:
            group.barrier()  # rank 0 has finished writing before any rank returns

    def train_epoch(self, batches: Iterator[tuple[int, data_lib.Batch]],
                    cbs: CallbackList) -> StepResults | None:
        """The step loop of one epoch; returns the last step's results (``None``: no step ran).

        With the fused step the results are the running means, read at epoch end.
        """
        model, run, train_step = self.model, self.run, self.steps.train
        clock = model.loop_clock
        wants_batch_begin = cbs.wants("on_train_batch_begin")
        wants_batch_end = cbs.wants("on_train_batch_end")
        stop_mid_epoch = self.group is None  # under DDP ranks agree at epoch end
        results: StepResults | None = None
        for step, (xb, yb, swb) in batches:
            if clock is not None:
                clock.tick("data")
            if wants_batch_begin:
                cbs.on_train_batch_begin(step, {})
            if clock is not None:
                clock.step_begins()
            results = train_step(xb, yb, swb)
            if clock is not None:
                clock.step_ends()
            run.step_in_epoch, run.last_results = step + 1, results
            if wants_batch_end:  # logs are read from the device only if a callback looks
                cbs.on_train_batch_end(step, LazyLogs(results))
            if clock is not None:
                clock.tick("callbacks")
            if model.stop_training and stop_mid_epoch:
                break
        self.engine.apply_gradients()  # an unfinished accumulation window still counts
        if results is not None and run.example_input is None:
            run.example_input = map_structure(lambda t: t[:1], xb)
        return results

    def _finished_epoch_results(self, resume: Mapping[str, Any] | None) -> StepResults:
        """The logs of an epoch whose batches all ran before the interruption: the restored running
        means for the default step, the saved last results for a custom ``train_step``."""
        if not self.steps.custom_train:
            return self.engine.result_fns()
        return dict((resume or {}).get("last_logs") or {})

    def _apply_resume(self, resume: Mapping[str, Any] | None, cbs: CallbackList,
                      train_batches: data_lib.EpochIterator, initial_epoch: int) -> tuple[int, int]:
        """Where this fit starts: ``initial_epoch``, or the resumed position with its callback
        states handed back (after every ``on_train_begin`` has run) and its data position."""
        if resume is None:
            return initial_epoch, 0
        states = resume.get("callbacks") or {}
        for key, callback in state_lib.keyed(cbs.callbacks).items():
            if key in states:
                callback.load_state_dict(states[key])
        if resume.get("data") is not None:
            train_batches.resume_from(resume["data"])
        return int(resume.get("epoch", 0)), int(resume.get("step_in_epoch", 0))


def evaluate(model: Model, engine: Engine, batches: data_lib.EpochIterator, cbs: CallbackList,
             group: Group | None, steps: StepFunctions) -> Logs:
    """Validation and ``evaluate``: eval mode, every metric reset first, the logs read once."""
    model.module.eval()
    model.reset_metrics()
    model.stop_evaluating = False
    test_step = steps.test
    results: StepResults | None = None
    wants_batch_end = cbs.wants("on_test_batch_end")
    cbs.on_test_begin({})
    for step, (xb, yb, swb) in batches.epoch(0):
        cbs.on_test_batch_begin(step, {})
        results = test_step(xb, yb, swb)
        if wants_batch_end:
            cbs.on_test_batch_end(step, LazyLogs(results))
        if model.stop_evaluating:
            break
    if results is None:
        results = {} if steps.custom_test else engine.result_fns()
    logs = epoch_end_logs(engine, results, group, reduce=not steps.custom_test)
    cbs.on_test_end(logs)
    return logs


def predict(model: Model, batches: data_lib.EpochIterator, cbs: CallbackList,
            steps: StepFunctions) -> list[Any]:
    """``predict``'s loop: each batch's outputs, in eval mode, with the predict callbacks."""
    model.module.eval()
    model.stop_predicting = False
    predict_step = steps.predict
    outputs = []
    with reporting_errors(cbs):
        cbs.on_predict_begin({})
        for step, (xb, _, _) in batches.epoch(0):
            cbs.on_predict_batch_begin(step, {})
            out = predict_step(xb)
            outputs.append(out)
            cbs.on_predict_batch_end(step, {"outputs": out})
            if model.stop_predicting:
                break
        cbs.on_predict_end({})
    return outputs


def epoch_end_logs(engine: Engine, results: StepResults, group: Group | None, reduce: bool) -> Logs:
    """The epoch's one host read; the default step's running results agree across ranks."""
    if group is not None and reduce:
        engine.all_reduce_results(group)
    return materialize(results)


@contextlib.contextmanager
def reporting_errors(cbs: CallbackList, cleanup: Callable[[], None] | None = None) -> Iterator[None]:
    """Any exception in the loop reaches every callback's ``on_exception``, then propagates unchanged.

    ``cleanup`` runs first (the engine forgets a half-filled accumulation window), so the next
    ``fit`` starts clean.
    """
    try:
        yield
    except BaseException as error:
        if cleanup is not None:
            cleanup()
        cbs.on_exception(error)
        raise


# ---------------------------------------------------------------------------- before the loop

def callback_list(model: Model, callbacks: Any,
                  history: History | None, verbose: int, params: dict[str, Any]) -> CallbackList:
    """The user's callbacks, checked, plus ``History`` and the progress bar; rank 0's only ones
    are dropped on the other ranks."""
    if isinstance(callbacks, Callback) or is_keras_callback(callbacks):
        callbacks = [callbacks]  # Keras takes a single callback as well as a list
    callbacks = [KerasCallback(cb) if is_keras_callback(cb) else cb for cb in callbacks or []]
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks must be ks.callbacks.Callback (or keras.callbacks.Callback) instances; "
                f"got {type(cb).__name__}."
            )
    main_process = model.is_main_process
    if not main_process:  # callbacks that write files or print act on rank 0 only
        callbacks = [cb for cb in callbacks
                     if not cb.rank_zero_only or cb.saves_sharded and model.is_sharded]
    extra: list[Callback] = [history] if history is not None else []
    if verbose and main_process:
        extra.append(ProgbarLogger())
    return CallbackList(callbacks + extra, model=model, params=params)


def validation_batches(model: Model, engine: Engine, steps: StepFunctions, validation_data: Any,
                       batch_size: int | None, validation_steps: int | None,
                       shard: data_lib.Shard | None) -> data_lib.EpochIterator:
    """``fit``'s validation batches, checked up front when the default test step will run them."""
    source = validation_source(validation_data, batch_size, model.device, shard)
    if not steps.custom_test and engine.loss is not None:
        check_validation_data(model, engine, source)
    return data_lib.EpochIterator(source, validation_steps)


def validation_source(validation_data: Any, batch_size: int | None, device: torch.device,
                      shard: data_lib.Shard | None = None) -> Any:
    """``validation_data`` as a source: arrays as a tuple, or a Dataset, DataLoader or iterable."""
    if isinstance(validation_data, tuple) and len(validation_data) in (2, 3) and \
            data_lib.is_array_like(validation_data[0]):
        vx, vy, vsw = (*validation_data, None)[:3]
        return data_lib.make_source(vx, vy, vsw, batch_size=batch_size, shuffle=False,
                                    device=device, argument="validation_data", shard=shard)
    if isinstance(validation_data, (tuple, list)):
        raise ValueError(
            "validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val) with "
            f"arrays or tensors, or a Dataset/DataLoader; got a {type(validation_data).__name__} "
            f"of length {len(validation_data)}."
        )
    args_lib.no_batch_size_for_iterables(validation_data, None)
    # A generator's batches are kept, so that every validation is a full pass (Keras 3.15.1
    # validates later epochs on its first two batches); an empty one is an error, as in Keras.
    validation_data = data_lib.replayable(validation_data, "validation_data", keep_all=True)
    return data_lib.make_source(validation_data, None, None, batch_size=batch_size,
                                shuffle=False, device=device, argument="validation_data",
                                shard=shard)


def check_validation_data(model: Model, engine: Engine, source: Any) -> None:
    """The default test step's checks on ``validation_data``, run before the first optimizer step.

    The module runs on the first validation batch (eval mode, no gradient: nothing changes), then
    the targets (the whole arrays when known) are checked against its outputs, as the first
    training batch is: a wrong feature count, float labels for a class-index loss, out-of-range
    labels (-100 included) fail here, naming ``validation_data``. Sources that cannot give a
    batch without side effects (a Dataset or a DataLoader) are not checked here: a bad one fails
    at the first validation, after an epoch of training, with torch's own error.
    """
    batch = data_lib.first_batch(source)
    if batch is None:
        return
    xb, yb, _ = batch
    modes = ModuleModes(model.module)
    model.module.eval()
    try:
        with engine.inference():
            try:
                y_pred = engine.outputs(xb)
            except torch.cuda.OutOfMemoryError:
                raise
            except (RuntimeError, ValueError, TypeError, IndexError, KeyError) as error:
                raise ValueError(
                    "validation_data does not fit the model: calling the module on its first batch "
                    f"raised {type(error).__name__}: {error}"
                ) from error
            if engine.loss is not None:
                engine.loss.assign(y_pred)  # errors in the compile arguments are named as such
            engine.metrics.build(y_pred)
            targets = source.targets()
            try:
                engine.check_targets(yb, y_pred, yb if targets is None else targets)
            except (ValueError, TypeError) as error:
                raise type(error)(f"validation_data: {error}") from error
    finally:
        modes.restore()


def warn_if_nothing_to_train(module: torch.nn.Module) -> None:
    """Keras's default train step warns when no weight can change (a Keras model not built yet
    gets its weights at its first call, so it is not warned about)."""
    if not getattr(module, "built", True) or any(p.requires_grad for p in module.parameters()):
        return
    warnings.warn(
        "The model does not have any trainable weights: fit reports the loss and metrics but "
        "changes no weight (every parameter has requires_grad=False, or there is none).",
        UserWarning, stacklevel=3,
    )
