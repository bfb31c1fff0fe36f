"""``Model``: Keras's compile / fit / evaluate / predict around any ``torch.nn.Module``.

This file is the user-facing API: each method checks what it is given, builds what the run needs
and hands over to ``kerasish.trainer``, where the loops are (``trainer/loops.py``: follow one batch
from ``FitLoop.fit``). ``Model`` also inherits the Keras 3 step API and single-batch methods
(``model_steps.py``) and weights, saving, export and summary (``model_saving.py``). ``arguments``
checks what users pass, ``data`` turns input into device batches, ``state`` writes and reads the
training-state file. Every check that can fail on user input runs before the first optimizer
step, so bad input never changes a weight.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from kerasish import arguments as args_lib
from kerasish import checks
from kerasish import data as data_lib
from kerasish import fsdp as fsdp_lib
from kerasish.callbacks.base import Callback
from kerasish.callbacks.history import History
from kerasish.distributed import Group, interleave, local_device, resolve_device, wrap_ddp
from kerasish.fsdp import Distribute
from kerasish.metrics import Metric
from kerasish.model_module import ModuleFace
from kerasish.model_saving import ModelSaving
from kerasish.model_steps import KerasStepAPI
from kerasish.optimizers import get_optimizer
from kerasish.trainer import loops
from kerasish.trainer.engine import PRECISIONS, Engine
from kerasish.trainer.logs import concat_to_numpy, keras_results
from kerasish.trainer.run_state import RunState
from kerasish.types import Inputs, LossSpec, MetricsSpec, OptimizerSpec, SampleWeights, Targets


class Model(KerasStepAPI, ModelSaving, ModuleFace):
    """Wraps a ``torch.nn.Module`` with Keras's training API.

    It is a ``torch.nn.Module`` itself, as a Keras model is on torch (``wandb.watch(model)``,
    ``model.parameters()``; ``kerasish.model_module`` says what differs). Subclass it to customise
    training as in Keras 3: override ``train_step(data)``, ``test_step(data)`` or
    ``predict_step(data)``, and use ``self(x)``, ``self.compute_loss``, ``self.compute_metrics``,
    ``self.optimizer`` and ``self.metrics`` inside.

    Args:
        module: any ``torch.nn.Module``; it is moved to ``device``.
        device: ``None`` picks cuda, then mps, then cpu (under torchrun: ``cuda:LOCAL_RANK``).
        distribute: ``"auto"`` (DDP when torchrun started several processes), ``"ddp"``,
            ``"fsdp"`` (FSDP2: parameters, gradients and optimizer state sharded across ranks;
            ``ks.FSDP(wrap_policy=...)`` to choose the units), or ``None`` (each process trains on
            its own); see ``kerasish.fsdp``. A bad combination is a ``ValueError`` here.

    Attributes:
        module: the wrapped module.
        optimizer: the torch optimizer, after ``compile``.
        history: the ``History`` of the last ``fit``.
        stop_training, stop_evaluating, stop_predicting: set by a callback to end the running
            loop after the current batch.
        loop_clock: an optional clock the loop stamps around data, step and callbacks (set by
            ``ks.callbacks.LoopTimer``; any object with ``tick(phase)``, ``step_begins()`` and
            ``step_ends()``).

    Example:
        model = ks.Model(net).compile("adam", "cross_entropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        test_loss, test_acc = model.evaluate(x_test, y_test)
    """

    def __init__(self, module: torch.nn.Module, device: str | torch.device | None = None,
                 distribute: Distribute = "auto"):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"Model(module) takes a torch.nn.Module; got {type(module).__name__}. Wrap your "
                "layers in a module first, e.g. ks.Model(torch.nn.Sequential(...))."
            )
        if isinstance(module, Model):
            raise TypeError("Model(module) got a ks.Model; wrap its module instead: ks.Model(model.module).")
        self._plan = fsdp_lib.plan(distribute, module)  # checked before anything changes
        if device is None and self._plan.kind is not None:
            device = local_device()  # one process per device: LOCAL_RANK picks it
        self.device = resolve_device(device)
        # A module to shard stays where it is: fully_shard moves each rank's shards to the device.
        self._hold_module(module if self._plan.kind == "fsdp" else module.to(self.device))
        self.optimizer: torch.optim.Optimizer | None = None
        self.history: History | None = None
        self.stop_training = False
        self.stop_evaluating = False
        self.stop_predicting = False
        self.loop_clock: Any = None
        self.compile_config: dict[str, Any] = {}
        self._engine: Engine | None = None
        self._run = RunState()  # the running (or last) fit's position, seed and pending resume
        self._group: Group | None = None  # the torchrun process group, joined on first fit
        self._hold_unregistered("_ddp", None)

    # ------------------------------------------------------------------ public training state

    @property
    def epoch(self) -> int:
        """The epoch being trained (0-based); after an epoch ends, the next one."""
        return self._run.epoch

    @property
    def step_in_epoch(self) -> int:
        """Batches finished in the current epoch."""
        return self._run.step_in_epoch

    @property
    def optimizer_steps(self) -> int:
        """Optimizer steps taken so far (Keras's ``optimizer.iterations``); no device read.

        The default step counts its own steps; with a custom ``train_step`` the steps of
        ``model.optimizer`` are counted.
        """
        return 0 if self._engine is None else self._engine.optimizer_steps

    @property
    def last_step_skipped(self) -> bool:
        """Whether fp16 gradient scaling skipped the last optimizer step (inf/NaN gradients).

        Reads one flag from the device when ``precision="mixed_float16"``; always ``False``
        otherwise, without a read.
        """
        engine = self._engine
        return engine is not None and engine.scaler.is_enabled() and engine.last_step_skipped()

    @property
    def example_input(self) -> Any:
        """One sample (batch dimension 1) of the last training batch seen, or ``None`` before."""
        return self._run.example_input

    @property
    def is_main_process(self) -> bool:
        """False on the non-zero ranks of a torchrun job: only the main process writes or prints."""
        if self._group is not None:
            return self._group.is_main
        return int(os.environ.get("RANK", "0")) == 0

    @property
    def metrics(self) -> list[Metric]:
        """The metrics the model tracks, in Keras's order.

        The loss tracker, the compiled metrics and per-output loss trackers, then every
        ``ks.metrics.Metric`` set as an attribute of a subclass (or in a list attribute). All are
        reset at each epoch start and at the start of ``evaluate``. A subclass may override this
        property to list exactly the metrics its custom step updates.
        """
        found: list[Metric] = [] if self._engine is None else self._engine.keras_order()
        for value in vars(self).values():
            values = value if isinstance(value, (list, tuple)) else (value,)
            found.extend(v for v in values if isinstance(v, Metric) and v not in found)
        return found

    @property
    def metrics_names(self) -> list[str]:
        """The log keys of the compiled loss and metrics, in log order."""
        return list(self._require_compiled("metrics_names", need_loss=False).result_fns())

    def reset_metrics(self) -> None:
        """Reset every metric in ``self.metrics`` (and the compiled ones, if the list omits them)."""
        if self._engine is not None:
            self._engine.reset_metrics()
        for metric in self.metrics:
            metric.reset_state()

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
        if getattr(self.optimizer, "learning_rate_schedule", None) is not None:  # not settable, as Keras
            self.optimizer.learning_rate = value  # type: ignore[attr-defined]  # raises its TypeError
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(float(value))
            else:
                group["lr"] = float(value)

    # ------------------------------------------------------------------ compile

    def compile(  # type: ignore[override]  # Keras's compile, not torch.compile (as in Keras on torch)
        self,
        optimizer: OptimizerSpec = "rmsprop",
        loss: LossSpec = None,
        metrics: MetricsSpec = None,
        *,
        loss_weights: Sequence[float] | Mapping[str, float] | float | None = None,
        weighted_metrics: MetricsSpec = None,
        jit_compile: bool = False,
        precision: str = "float32",
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        gradient_accumulation_steps: int = 1,
    ) -> Model:
        """Configure the model for training; returns the model, so ``Model(net).compile(...)`` chains.

        Names and defaults are Keras's. Losses, metrics and targets are paired with the module's
        outputs on the first batch of ``fit`` or ``evaluate`` (when the outputs are known); a
        mismatch there is an error naming ``loss``, ``metrics`` or ``y``, raised before any weight
        changes. A module without trainable parameters compiles too (``fit`` then warns).

        Args:
            optimizer: a Keras name (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``,
                ``"adagrad"``, ``"adadelta"``, ``"adamax"``, ``"nadam"``) built with Keras's
                default hyper-parameters; a ``ks.optimizers`` or ``keras.optimizers`` object; a
                ``torch.optim.Optimizer`` built on ``model.module``'s parameters, used as it is;
                or a class or function ``params -> Optimizer``, called with the parameters.
            loss: a name (``"mse"``, ``"cross_entropy"``, ``"crossentropy"``, ...; see
                ``ks.losses.KNOWN_LOSSES``), a ``ks.losses`` or Keras loss object, a torch loss
                module, or a callable ``fn(y_pred, y_true)`` (torch's argument order). For
                several outputs: a list (``None`` for an output without a loss), a dict keyed like
                a dict output, or one loss that every output gets. ``None`` is valid when
                overridden steps compute the loss themselves.
            metrics: a list of names (``"accuracy"`` is resolved from the shapes, as in
                Keras 3), ``ks.metrics`` or Keras metric objects, torchmetrics objects, or
                callables ``fn(y_pred, y_true)`` returning one value per sample; for several
                outputs, one list per output or a dict keyed by output. They ignore sample and
                class weights.
            loss_weights: how much each output's loss counts in the total: a list or dict
                matching ``loss``, or one number with a single loss.
            weighted_metrics: like ``metrics``, but weighted by ``sample_weight`` and
                ``class_weight`` (a torchmetrics object takes no weights and is refused here).
            jit_compile: compile the train, test and predict steps with ``torch.compile``.
            precision: ``"float32"``, ``"mixed_float16"`` (autocast and gradient scaling) or
                ``"mixed_bfloat16"`` (autocast); ``"fp16"``, ``"16-mixed"``, ``"bf16"`` and
                ``"bf16-mixed"`` are accepted too.
            clipnorm: clip the gradient of each parameter tensor to this norm (Keras's per-weight
                ``clipnorm``) before the optimizer steps.
            clipvalue: clip every gradient element to ``[-clipvalue, clipvalue]`` first.
            gradient_accumulation_steps: step the optimizer once every N batches, on the mean of
                their gradients; a window an epoch leaves unfinished steps at the epoch's end.

        Returns:
            The model itself.

        Raises:
            ValueError: an unknown precision, optimizer, loss or metric name; a
                ``gradient_accumulation_steps`` that is not an integer >= 1; a ``clipnorm`` or
                ``clipvalue`` that is not positive; ``loss_weights`` of another length than
                ``loss``.
            TypeError: an object ``compile`` cannot use as an optimizer, loss or metric (an
                optimizer factory that returns no ``torch.optim.Optimizer``, a metrics entry of
                an unknown kind), or ``loss_weights`` of another form than ``loss``.

        Example:
            model = ks.Model(net).compile(
                optimizer="adamw", loss="cross_entropy", metrics=["accuracy"],
                precision="mixed_bfloat16", clipnorm=1.0)
        """
        if precision not in PRECISIONS:
            raise ValueError(
                f"precision={precision!r} is not known. Use one of {', '.join(PRECISIONS)}."
            )
        gradient_accumulation_steps = checks.check_int(gradient_accumulation_steps,
                                                       "gradient_accumulation_steps", least=1)
        for name, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue)):
            checks.check_number(value, name, low=0, open_low=True, allow_none=True)
        if self._plan.kind == "fsdp":  # sharded now, with the precision's policy
            fsdp_lib.check_precision(precision)
            self._process_group(precision)
        parameters: list[Any] = self._named_trainable_parameters()  # names: Keras's rules by name
        if not parameters:  # Keras compiles a model without weights (and warns in fit)
            parameters = [torch.nn.Parameter(torch.zeros((), device=self.device), requires_grad=False)]
        self.optimizer = get_optimizer(optimizer, parameters)
        compiled_loss = None if loss is None else args_lib.compile_loss(loss, loss_weights)
        compiled_metrics = args_lib.compile_metrics(metrics, weighted_metrics)
        self._engine = Engine(
            self.module, self.optimizer, compiled_loss, compiled_metrics, device=self.device,
            precision=precision, clipnorm=clipnorm, clipvalue=clipvalue,
            gradient_accumulation_steps=gradient_accumulation_steps, jit_compile=jit_compile,
        )
        # Built here on the trainable parameters (not the user's own instance): one unfrozen or
        # created later (a Keras model without keras.Input) joins it at a run's first batch.
        self._engine.takes_in_new_parameters = not isinstance(optimizer, torch.optim.Optimizer)
        self.compile_config = {
            "optimizer": type(self.optimizer).__name__,
            "loss": args_lib.describe(loss),
            "metrics": list(compiled_metrics.names),
            "precision": precision,
            "jit_compile": jit_compile,
            "clipnorm": clipnorm,
            "clipvalue": clipvalue,
            "gradient_accumulation_steps": gradient_accumulation_steps,
        }
        return self

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        x: Inputs = None,
        y: Targets = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: list[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Inputs = None,
        shuffle: bool | str = True,
        class_weight: Mapping[int, float] | None = None,
        sample_weight: SampleWeights = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
    ) -> History:
        """Train the module for ``epochs`` epochs and return the ``History`` of their logs.

        Every argument is checked, and the first training batch is run through the module and
        checked against the loss and metrics, before the first optimizer step: a wrong argument,
        a feature count the module cannot take, float labels for a class-index loss or labels
        out of range raise with no weight changed. Validation data given as arrays, a
        ``TensorDataset`` or a generator gets the same checks up front; the batches of other
        Datasets and DataLoaders are not checked (a bad label there fails in the loss at the
        first validation). The module is in train mode during the epochs, except the submodules
        you put in eval mode (a frozen BatchNorm base stays frozen; a module left wholly in eval
        mode is put in train mode), and in eval mode during validation, after which every
        submodule's mode is put back. Shuffling follows ``torch.manual_seed``.

        Args:
            x: the inputs: a NumPy array or torch tensor; a tuple or list of them (passed to the
                module as positional arguments) or a dict (keyword arguments); a torch
                ``Dataset`` whose items are ``(x, y)`` or ``(x, y, sample_weight)``, batched by
                kerasish; or a ``DataLoader`` or other iterable (a generator) of such batches,
                used as it comes (a one-shot generator that runs out ends training with a
                warning). A tuple or list is always read as several inputs, never as a sequence
                of batches.
            y: the targets: arrays or tensors (a tuple, list or dict of them for several
                outputs); ``None`` when ``x`` yields them, or for an overridden ``train_step``
                that needs none.
            batch_size: samples per step for arrays and Datasets (default 32). Must be ``None``
                for a ``DataLoader``, which batches itself.
            epochs: the epoch to stop before: training runs epochs ``initial_epoch`` to
                ``epochs - 1`` (0-based), so ``epochs`` is a total, not a count added to
                ``initial_epoch``.
            verbose: ``"auto"`` or 1 (a progress bar, redrawn in place on a terminal or in
                Jupyter), 2 (one line per epoch) or 0 (silent).
            callbacks: ``ks.callbacks.Callback`` objects (a list, or a single one). ``fit`` adds
                a ``History`` and, unless ``verbose=0``, a ``ProgbarLogger``.
            validation_split: a fraction in (0, 1): that last part of ``x``, ``y`` and
                ``sample_weight`` (arrays or tensors only), taken before shuffling, is not
                trained on but evaluated after each epoch. Ignored when ``validation_data`` is
                given.
            validation_data: evaluated after each epoch and logged with a ``val_`` prefix: a
                tuple ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)`` of arrays or
                tensors, or a Dataset, DataLoader or iterable as for ``x``. A one-shot generator
                is read in full at the first validation; later ones see only its first two
                batches, as in Keras 3.15.
            shuffle: ``True`` reorders the samples every epoch, ``"batch"`` reorders whole
                batches, ``False`` keeps the order. Ignored for a ``DataLoader`` or iterable.
            class_weight: ``{class_index: weight}`` weighting each training sample's loss (and
                ``weighted_metrics``) by its label: integer labels, one-hot rows, or 0/1 targets.
                A class it leaves out weighs 1.0. Validation and ``evaluate`` are unweighted.
            sample_weight: one weight per sample, shaped ``(N,)`` or ``(N, 1)``, or one such
                array per output (a dict or tuple). It weights the loss and ``weighted_metrics``.
                With a Dataset, DataLoader or iterable, yield ``(x, y, sample_weight)`` instead.
            initial_epoch: the 0-based epoch to start at, to continue an earlier run; callbacks
                see epochs numbered from it.
            steps_per_epoch: batches per epoch; by default one full pass over the data. When
                given, the data is read on across epochs: an epoch starts where the previous one
                stopped, and a re-iterable source starts a new pass when it runs out.
            validation_steps: batches per validation; by default all of ``validation_data``.
                Each validation starts from the first batch, as in Keras (a one-shot generator
                reads on).
            validation_batch_size: the validation batch size; ``batch_size`` by default.
            validation_freq: validate every N epochs (an integer), or after each of the listed
                1-based epochs (a list).

        Returns:
            The ``History`` callback of this fit, also kept as ``model.history``:
            ``history.history[key]`` holds one value per epoch for ``"loss"``, each metric and
            each ``val_`` key.

        Raises:
            ValueError: ``compile`` not called (or no loss and no overridden ``train_step``);
                an argument out of range (``epochs``, ``batch_size``, ``verbose``, ``shuffle``,
                ``validation_split``, ``validation_freq``, a negative ``class_weight`` key);
                ``class_weight`` together with ``sample_weight``; arrays ``x`` without ``y``;
                inputs, targets and weights of different lengths; ``y`` or ``sample_weight``
                with a Dataset, DataLoader or iterable ``x``, or ``batch_size`` with a
                ``DataLoader``; a loss, metric or target that does not fit the module's outputs.
            TypeError: ``x`` or ``y`` of a kind ``fit`` cannot read, a ``class_weight`` that is
                not a dict, a callback that is not a ``ks.callbacks.Callback``, or float targets
                for a loss that takes class indices.

        Example:
            history = model.fit(x_train, y_train, batch_size=64, epochs=10,
                                validation_split=0.1, class_weight={0: 1.0, 1: 5.0})
            best = min(history.history["val_loss"])
        """
        custom_train = self._custom_step("train_step") is not None
        engine = self._require_compiled("fit", need_loss=not custom_train)
        steps = self._choose_steps(engine)
        # ---- prepare: check every argument, then build the batches and the callbacks
        verbose = args_lib.check_verbose(verbose)
        counts = args_lib.check_fit_counts(batch_size, steps_per_epoch, validation_batch_size,
                                           validation_steps, epochs, initial_epoch)
        batch_size = counts.batch_size
        args_lib.check_shuffle(shuffle)
        args_lib.check_class_weight(class_weight, sample_weight)
        if not steps.custom_train and engine.loss is not None:  # loss=None: a Keras model's own
            args_lib.check_targets_given(x, y, "fit")
        validate_on = args_lib.validation_schedule(validation_freq)
        if validation_split:
            args_lib.check_validation_split(validation_split, x, needs_arrays=validation_data is None)
            if validation_data is None:  # as in Keras, validation_data wins over the split
                (x, y, sample_weight), validation_data = data_lib.split_for_validation(
                    x, y, sample_weight, validation_split)

        group = self._start_process(engine)
        args_lib.no_batch_size_for_iterables(x, batch_size)
        source = data_lib.make_source(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                      device=self.device, seed=self._run.data_seed,
                                      shard=self._plan.data_shard(group, pad=True))
        if isinstance(source, data_lib.ArraySource):
            source.warn_if_not_finite()
        train_batches = data_lib.EpochIterator(source, counts.steps_per_epoch)
        val_batches = None if validation_data is None else loops.validation_batches(
            self, engine, steps, validation_data, counts.validation_batch_size or batch_size,
            counts.validation_steps, self._plan.data_shard(group, pad=False))
        if not steps.custom_train:
            loops.warn_if_nothing_to_train(self.module)

        engine.set_class_weight(class_weight, source.targets())
        engine.expect_first_batch(source.targets())
        self.history = History()
        params = {"verbose": verbose, "epochs": counts.epochs, "steps": train_batches.steps,
                  "batch_size": getattr(source, "batch_size", None),
                  "do_validation": val_batches is not None}
        cbs = loops.callback_list(self, callbacks, self.history, verbose, params)
        self.stop_training = False
        loops.FitLoop(self, engine, self._run, steps, group, self._plan.summing_group(group)).fit(
            cbs, train_batches, val_batches, counts.epochs, counts.initial_epoch, validate_on)
        return self.history

    # ------------------------------------------------------------------ evaluate / predict

    def evaluate(
        self,
        x: Inputs = None,
        y: Targets = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: SampleWeights = None,
        steps: int | None = None,
        callbacks: list[Callback] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """The loss and metrics of the model over ``x`` and ``y``, in eval mode without gradients.

        The metrics are reset first, and class weights never apply (as in Keras). The data gets
        the checks ``fit`` gives its first batch. The values are the means over every batch
        evaluated; with an overridden ``test_step``, what its last call returned. Each
        submodule's train/eval mode is put back afterwards.

        Args:
            x: the inputs, in any form ``fit`` takes; a generator that is already exhausted is a
                ``ValueError``.
            y: the targets, as in ``fit``.
            batch_size: samples per batch for arrays and Datasets (default 32); ``None`` with a
                ``DataLoader``.
            verbose: ``"auto"``, 0, 1 or 2, as in ``fit``.
            sample_weight: as in ``fit``: it weights the loss and ``weighted_metrics``.
            steps: how many batches to evaluate; by default all of ``x``.
            callbacks: callbacks whose ``on_test_*`` hooks run; one that sets
                ``model.stop_evaluating = True`` ends the loop after the current batch.
            return_dict: return ``{log key: float}`` instead of a list.

        Returns:
            With ``return_dict``: the dict. Otherwise the loss as a float when it is the only
            value, else a list in Keras's order, so ``loss, acc = model.evaluate(...)`` unpacks:
            the loss, then a single output's metrics in compile order, or for several outputs
            each output's loss and then the other keys sorted by name.

        Raises:
            ValueError: ``compile`` not called (or no loss and no overridden ``test_step``);
                arrays ``x`` without ``y``; a bad ``batch_size``, ``steps`` or ``verbose``;
                targets that do not fit the loss or metrics.
            TypeError: ``x`` of a kind ``evaluate`` cannot read, or float targets for a loss
                that takes class indices.

        Example:
            test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256)
            logs = model.evaluate(test_loader, return_dict=True)   # {"loss": ..., ...}
        """
        custom_test = self._custom_step("test_step") is not None
        engine = self._require_compiled("evaluate", need_loss=not custom_test)
        step_functions = self._choose_steps(engine)
        verbose, batch_size, steps = args_lib.check_evaluate_predict(x, batch_size, verbose, steps)
        if not custom_test and engine.loss is not None:
            args_lib.check_targets_given(x, y, "evaluate")
        args_lib.check_sample_weight(sample_weight)
        x = data_lib.replayable(x, "x")  # an exhausted generator is an error, as in Keras
        shard = self._plan.data_shard(self._process_group(), pad=False)
        group = None if shard is None else shard.group  # a sum across ranks of sharded data only
        source = data_lib.make_source(x, y, sample_weight, batch_size=batch_size, shuffle=False,
                                      device=self.device, shard=shard)
        batches = data_lib.EpochIterator(source, steps)
        engine.set_class_weight(None)
        engine.expect_first_batch(source.targets())
        cbs = loops.callback_list(self, callbacks, None, verbose,
                                  {"verbose": verbose, "epochs": 1, "steps": batches.steps})
        with loops.ModuleModes(self.module).kept(), loops.reporting_errors(cbs):
            logs = loops.evaluate(self, engine, batches, cbs, group, step_functions)
        return keras_results([m.name for m in self.metrics], logs, return_dict)

    def predict(
        self,
        x: Inputs,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        steps: int | None = None,
        callbacks: list[Callback] | None = None,
    ) -> Any:
        """Run the module on ``x`` batch by batch, in eval mode without gradients; return NumPy.

        Works without ``compile``. The batches' outputs are concatenated along the first
        dimension; float16 and bfloat16 outputs come back as float32. Under torchrun every rank
        returns every sample, in order. Each submodule's train/eval mode is put back afterwards.

        Args:
            x: the inputs, in any form ``fit`` takes; targets that a Dataset, DataLoader or
                iterable yields are ignored.
            batch_size: samples per batch for arrays and Datasets (default 32).
            verbose: as in ``fit``.
            steps: how many batches to run; by default all of ``x``.
            callbacks: callbacks whose ``on_predict_*`` hooks run (the batch-end ``logs`` hold
                the batch's ``"outputs"``); ``model.stop_predicting = True`` stops after the
                current batch.

        Returns:
            A NumPy array, or the module's output structure (tuple, list or dict) of arrays.

        Raises:
            ValueError: a bad ``batch_size``, ``steps`` or ``verbose``, a ``batch_size`` with a
                ``DataLoader``, or empty input.
            TypeError: ``x`` of a kind ``predict`` cannot read.

        Example:
            logits = model.predict(x_test, batch_size=512)
            labels = logits.argmax(axis=-1)
        """
        verbose, batch_size, steps = args_lib.check_evaluate_predict(x, batch_size, verbose, steps)
        shard = self._plan.data_shard(self._process_group(), pad=False)
        group = None if shard is None else shard.group
        source = data_lib.make_source(x, None, None, batch_size=batch_size, shuffle=False,
                                      device=self.device, shard=shard)
        batches = data_lib.EpochIterator(source, steps)
        step_functions = self._choose_steps(self._predictor())
        cbs = loops.callback_list(self, callbacks, None, verbose,
                                  {"verbose": verbose, "epochs": 1, "steps": batches.steps})
        with loops.ModuleModes(self.module).kept():
            outputs = loops.predict(self, batches, cbs, step_functions)
        predictions = concat_to_numpy(outputs)
        if group is not None and isinstance(source, data_lib.ArraySource | data_lib.DatasetSource):
            predictions = interleave(group.gather(predictions))  # every rank gets all, in order
        return predictions

    # ------------------------------------------------------------------ torchrun

    def _process_group(self, precision: str | None = None) -> Group | None:
        """Join the torchrun group on first use (and shard an FSDP module not sharded yet);
        ``None`` in a single-process run or with ``distribute=None``."""
        if self._group is None and self._plan.kind is not None:
            self._group = Group.join(self.device)
        if self._plan.fsdp is not None and not fsdp_lib.is_sharded(self.module):
            fsdp_lib.shard(self.module, self._plan.fsdp, self.device, precision)
        return self._group

    def _start_process(self, engine: Engine) -> Group | None:
        """This process's part of a fit: the torchrun group (``None`` alone), the module DDP
        trains, and the shuffle seed.

        Shuffling follows torch.manual_seed (a pending resume keeps its seed and random states).
        Under torchrun every rank takes rank 0's seed, so all shards come from one permutation.
        """
        group = self._process_group()
        if not self._run.resume_pending:
            self._run.data_seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        if group is not None:
            self._run.data_seed = group.broadcast(self._run.data_seed)
            if self._plan.kind == "ddp":
                ddp = self._ddp or wrap_ddp(self.module, self.device)
                self._hold_ddp(ddp)
                engine.train_module = ddp
        return group
