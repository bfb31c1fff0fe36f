"""``Model``: Keras's compile / fit / evaluate / predict around any ``torch.nn.Module``.

This file is the user-facing API and the epoch loop; ``arguments`` checks what users pass,
``data`` turns input into device batches, ``engine`` runs the default steps and ``state`` saves and
loads. Following one batch: ``fit`` -> ``EpochIterator.epoch`` (data.py) -> ``Engine.train_step``
(engine.py) -> ``optimizer.step``. A subclass that overrides ``train_step``, ``test_step`` or
``predict_step`` gets its own step called instead, with Keras 3's semantics; one that does not pays
nothing for the hook. Every check that can fail on user input runs before the first optimizer
step, so bad input never changes a weight.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from kerasish import arguments as args_lib
from kerasish import checks, console
from kerasish import data as data_lib
from kerasish import state as state_lib
from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.history import History
from kerasish.callbacks.progbar import ProgbarLogger
from kerasish.distributed import Group, interleave, launched_by_torchrun, local_device
from kerasish.engine import (
    PRECISIONS,
    CompiledMetrics,
    Engine,
    LazyLogs,
    batch_size_of,
    call_module,
    is_keras_model,
    materialize,
)
from kerasish.io import atomic_torch_save
from kerasish.metrics import Metric
from kerasish.optimizers import get_optimizer
from kerasish.summary import DtypeSpec, ShapeSpec, build_example, summarize
from kerasish.tree import map_structure, map_together
from kerasish.types import Inputs, LossSpec, MetricsSpec, Nested, OptimizerSpec, SampleWeights, Targets
from kerasish.utils import pack_x_y_sample_weight, unpack_x_y_sample_weight

Logs = dict[str, float]
StepResults = Mapping[str, Any]  # what a step returns: log key -> 0-d tensor, number, or getter


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

    Subclass it to customise training as in Keras 3: override ``train_step(data)``,
    ``test_step(data)`` or ``predict_step(data)``, and use ``self(x)``, ``self.compute_loss``,
    ``self.compute_metrics``, ``self.optimizer`` and ``self.metrics`` inside.

    Args:
        module: any ``torch.nn.Module``; it is moved to ``device``.
        device: ``None`` picks cuda, then mps, then cpu.

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
        self.stop_evaluating = False
        self.stop_predicting = False
        self.loop_clock: Any = None
        self.compile_config: dict[str, Any] = {}
        self._engine: Engine | None = None
        self._epoch = 0  # the epoch being trained (or the next one): saved with the full state
        self._steps_done = 0  # batches finished in the current epoch (for mid-epoch backups)
        self._data_seed = 0  # seeds this fit's shuffling: epoch e's order comes from seed + e
        # Set by state.resume (BackupAndRestore) in on_train_begin to continue a run mid-epoch:
        # the saved state, whose position, data, callback and metric states fit then applies.
        self._resume: Mapping[str, Any] | None = None
        self._train_batches: data_lib.EpochIterator | None = None  # the running fit's data
        self._group: Group | None = None  # the torchrun process group, joined on first fit
        self._ddp: torch.nn.Module | None = None
        self._callbacks: list[Callback] = []  # the running fit's callbacks, saved with the state
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
        return self._example_input

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
        found: list[Metric] = []
        engine = self._engine
        if engine is not None:
            found.append(engine.loss_tracker)
            found.extend(metric for _, metric, _ in engine.metrics.entries)
            found.extend(engine.loss.trackers if engine.loss is not None else [])
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
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(float(value))
            else:
                group["lr"] = float(value)

    # ------------------------------------------------------------------ compile

    def compile(
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
        parameters = self._trainable_parameters()
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

    @property
    def _eng(self) -> Engine:
        """The compiled engine, where ``_require_compiled`` has already been checked."""
        assert self._engine is not None, "compile() first"
        return self._engine

    def _trainable_parameters(self) -> list[torch.nn.Parameter]:
        """What the optimizer gets: float (or complex) parameters; of a Keras model, its trainable ones.

        Integer state (a Keras model's seed generator) can never be trained, and would keep the
        fused Adam kernel from being used.
        """
        keras = is_keras_model(self.module)
        return [p for p in self.module.parameters()
                if (p.is_floating_point() or p.is_complex()) and (p.requires_grad or not keras)]

    def _require_compiled(self, method: str, need_loss: bool = True) -> Engine:
        if self._engine is None:
            raise ValueError(
                f"You must call compile() before {method}(): "
                "model.compile(optimizer='adam', loss='cross_entropy')."
            )
        if need_loss and self._engine.loss is None:
            raise ValueError(
                f"{method}() needs a loss, but compile() was called with loss=None. Pass "
                "loss=... to compile(), or override the step to compute your own loss."
            )
        return self._engine

    # ------------------------------------------------------------------ the steps (Keras 3)

    def __call__(self, x: Any, training: bool | None = None) -> Any:
        """The module's outputs for ``x`` (a tuple spreads into arguments, a dict into keywords).

        The module runs in its current mode (``fit`` sets train mode, ``evaluate`` and
        ``predict`` eval mode; a torch module ignores ``training``, which Keras code passes), under
        autocast when a mixed precision is compiled, and through DistributedDataParallel under
        torchrun. A wrapped Keras model gets ``x`` as its one ``inputs`` and Keras's ``training``
        flag (by default: whether it is in train mode).
        """
        module = self._ddp if self._ddp is not None else self.module
        if self._engine is None:
            keras = is_keras_model(self.module)
            return call_module(module, x, (self.module.training if training is None else training)
                               if keras else None)
        return self._engine.raw_outputs(x, module, training)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> torch.Tensor:
        """The compiled loss of ``y_pred`` against ``y``; also updates the loss tracker.

        The first call of a fit checks the targets against the outputs (one host read).

        Args:
            x: the inputs (unused by the compiled loss; Keras passes them for overrides).
            y: the targets.
            y_pred: the model's outputs.
            sample_weight: optional per-sample weights.
            training: whether the step trains (Keras's argument; the loss is the same).

        Returns:
            The loss, a 0-d tensor that can be back-propagated.
        """
        engine = self._require_compiled("compute_loss")
        y_pred = engine.named(y_pred)  # a Keras model's list outputs, for losses keyed by name
        if not engine.checked_targets:
            engine.check_targets(y, y_pred)
        assert engine.loss is not None  # _require_compiled("compute_loss") checked it
        loss = engine.loss(y, y_pred, sample_weight)
        engine.loss_tracker.update(loss, batch_size_of(y_pred))
        return loss

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, Any]:
        """Update the compiled metrics and return every tracked metric's result.

        Args:
            x: the inputs (unused by the compiled metrics; Keras passes them for overrides).
            y: the targets.
            y_pred: the model's outputs.
            sample_weight: per-sample weights, applied to ``weighted_metrics`` only.

        Returns:
            ``{log key: 0-d tensor}`` for the loss, the compiled metrics (with their log keys) and
            the other metrics in ``self.metrics``; the values stay on the device.
        """
        engine = self._require_compiled("compute_metrics", need_loss=False)
        y_pred = engine.named(y_pred)
        if engine.metrics.entries:
            engine.metrics.update(y, y_pred, sample_weight)
        return self._metric_results()

    def _metric_results(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        if self._engine is not None:
            results.update((k, fn()) for k, fn in self._engine.result_fns().items())
        compiled = set() if self._engine is None else set(self._engine.metric_objects())
        for metric in self.metrics:
            if metric not in compiled:
                results.setdefault(metric.name, metric.result())
        return results

    def train_step(self, data: Any) -> dict[str, Any]:
        """One training step on ``data`` (Keras 3 semantics); override it to customise ``fit``.

        The default is forward, ``compute_loss``, backward, the optimizer step (with the compiled
        precision, accumulation and clipping) and ``compute_metrics``. When it is not overridden
        ``fit`` runs the engine's fused equivalent of it, which skips these Python frames.

        Args:
            data: the batch on the device: ``(x, y)``, ``(x, y, sample_weight)`` or ``x``; split it
                with ``ks.utils.unpack_x_y_sample_weight``.

        Returns:
            The batch logs: ``{name: value}``; 0-d tensors are read only when a callback looks.
        """
        engine = self._require_compiled("train_step")
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self._compute_loss(x, y, y_pred, sample_weight, training=True)
        engine.backward_and_step(loss)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data: Any) -> dict[str, Any]:
        """One evaluation step on ``data``; override it to customise ``evaluate`` and validation.

        Args:
            data: as for ``train_step``.

        Returns:
            The batch logs; the last step's values become ``evaluate``'s results.
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self._compute_loss(x, y, y_pred, sample_weight, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The outputs for one batch; override it to customise ``predict``.

        Args:
            data: the batch's inputs as Keras passes them (``x``, or ``(x,)`` for tuple inputs).

        Returns:
            Tensors (or a tuple/dict of them) with the batch as first dimension.
        """
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _overridden(self, step: str) -> Callable[..., Any] | None:
        """The step ``fit``/``evaluate``/``predict`` must call, or ``None`` for the fused default.

        A subclass's own ``train_step``/``test_step`` is called; so is the default one (written
        with ``compute_loss`` and ``compute_metrics``) when the subclass overrides one of those,
        as Keras's default steps call them.
        """
        hooks = (step,) if step == "predict_step" else (step, "compute_loss", "compute_metrics")
        if all(getattr(type(self), hook) is getattr(Model, hook) for hook in hooks):
            return None
        return getattr(self, step)

    def _compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool):
        """``compute_loss``, also when an override predates Keras's ``training`` argument."""
        if "training" in inspect.signature(self.compute_loss).parameters:
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def zero_grad(self) -> None:
        """Set the module's gradients to ``None`` (Keras's torch-backend ``self.zero_grad()``)."""
        self.module.zero_grad(set_to_none=True)

    @property
    def trainable_weights(self) -> list[torch.nn.Parameter]:
        """The parameters the optimizer trains (Keras's name)."""
        return [p for p in self._trainable_parameters() if p.requires_grad]

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
        first validation). The module is in train mode during the epochs and in eval mode during
        validation. Shuffling follows ``torch.manual_seed``.

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
        train_step, test_step = self._overridden("train_step"), self._overridden("test_step")
        engine = self._require_compiled("fit", need_loss=train_step is None)
        # ---- prepare: check every argument, then build the batches and the callbacks
        verbose = args_lib.check_verbose(verbose)
        batch_size, steps_per_epoch, validation_batch_size, validation_steps = (
            checks.check_int(value, name, least=1, allow_none=True) for name, value in (
                ("batch_size", batch_size), ("steps_per_epoch", steps_per_epoch),
                ("validation_batch_size", validation_batch_size), ("validation_steps", validation_steps)))
        epochs = checks.check_int(epochs, "epochs", least=0)
        initial_epoch = checks.check_int(initial_epoch, "initial_epoch", least=0)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}.")
        args_lib.check_class_weight(class_weight, sample_weight)
        if train_step is None:
            args_lib.check_targets_given(x, y, "fit")
        validate_on = args_lib.validation_schedule(validation_freq)
        if validation_split:
            args_lib.check_validation_split(validation_split, x, needs_arrays=validation_data is None)
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
        args_lib.no_batch_size_for_iterables(x, batch_size)
        source = data_lib.make_source(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                      device=self.device, seed=self._data_seed,
                                      shard=self._shard(group, pad=True))
        if isinstance(source, data_lib.ArraySource):
            source.warn_if_not_finite()
        train_batches = data_lib.EpochIterator(source, steps_per_epoch)
        val_batches = None
        if validation_data is not None:
            val_source = self._validation_source(validation_data, validation_batch_size or batch_size,
                                                 self._shard(group, pad=False))
            if test_step is None and engine.loss is not None:  # the default test step's checks
                _check_validation_data(self, val_source)
            val_batches = data_lib.EpochIterator(val_source, validation_steps)
        if train_step is None and not any(p.requires_grad for p in self.module.parameters()):
            _warn_nothing_to_train()  # as Keras's default train step does

        engine.set_class_weight(class_weight, source.targets())
        engine.all_targets = source.targets()
        engine.checked_targets = False
        self.history = History()
        params = {"verbose": verbose, "epochs": epochs, "steps": train_batches.steps,
                  "batch_size": getattr(source, "batch_size", None),
                  "do_validation": val_batches is not None}
        cbs = self._callback_list(callbacks, self.history, verbose, params)
        self.stop_training = False

        # ---- the epoch loop
        with self._running(cbs, train_batches), _reporting_errors(cbs, cleanup=engine.discard_window), \
                self._counting_optimizer_steps(train_step is not None):
            cbs.on_train_begin({})
            resume, self._resume = self._resume, None
            start_epoch, start_step = initial_epoch, 0
            if resume is not None:  # a BackupAndRestore (or any callback) called state.resume
                start_epoch, start_step = int(resume.get("epoch", 0)), int(resume.get("step_in_epoch", 0))
                self._hand_back_callback_states(cbs, resume.get("callbacks") or {})
                if resume.get("data") is not None:
                    train_batches.resume_from(resume["data"])
            source.seed = self._data_seed
            epoch_logs: Logs = {}
            for epoch in range(start_epoch, epochs):
                self._epoch, self._steps_done = epoch, start_step
                self.reset_metrics()
                if start_step and resume is not None:  # a resumed epoch's running means
                    state_lib.load_metric_states(self.metrics, resume.get("metrics") or {}, self.device)
                cbs.on_epoch_begin(epoch, {})
                self.module.train()
                first_step, start_step = start_step, 0
                results = self._train_epoch(train_batches.epoch(epoch, first_step), cbs, train_step,
                                            stop_mid_epoch=group is None)
                if results is None and first_step == 0:
                    break  # a one-shot iterator ran out (warned by the iterator)
                epoch_logs = self._epoch_logs(results if results is not None else {}, group,
                                              reduce=train_step is None)
                if val_batches is not None and validate_on(epoch):
                    val_batches.rewind()
                    val_logs = self._evaluate_loop(val_batches, cbs, group, test_step)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                # The epoch is done: a save from on_epoch_end records that training continues at
                # the next one.
                self._epoch, self._steps_done = epoch + 1, 0
                cbs.on_epoch_end(epoch, epoch_logs)
                if group is not None:
                    self.stop_training = group.any(self.stop_training, self.device)
                if self.stop_training or train_batches.exhausted:
                    break
            cbs.on_train_end(epoch_logs)
        if group is not None:
            group.barrier()  # rank 0 has finished writing before any rank returns
        return self.history

    def _train_epoch(self, batches, cbs: CallbackList, train_step: Callable[..., Any] | None,
                     stop_mid_epoch: bool) -> StepResults | None:
        """The step loop of one epoch; returns the last step's results (``None``: no step ran).

        Without a custom ``train_step`` the engine's fused step runs and the results are its
        running means. Hooks nobody overrides are skipped, batch logs are built only for
        listeners, and the loop clock (usually ``None``) is stamped only when attached.
        """
        engine, clock = self._eng, self.loop_clock
        wants_batch_begin = cbs.wants("on_train_batch_begin")
        wants_batch_end = cbs.wants("on_train_batch_end")
        running = engine.result_fns() if train_step is None else {}
        results: StepResults | None = None
        for step, (xb, yb, swb) in batches:
            if clock is not None:
                clock.tick("data")
            if wants_batch_begin:
                cbs.on_train_batch_begin(step, {})
            if clock is not None:
                clock.step_begins()
            if train_step is None:
                engine.train_step(xb, yb, swb)
                results = running
            else:  # Keras folds class weights into the sample weights before the step
                data = pack_x_y_sample_weight(xb, yb, engine.class_sample_weight(yb, swb))
                results = _step_logs(train_step(data), "train_step")
            if clock is not None:
                clock.step_ends()
            self._steps_done = step + 1
            if wants_batch_end:  # logs are read from the device only if a callback looks
                cbs.on_train_batch_end(step, LazyLogs(results))
            if clock is not None:
                clock.tick("callbacks")
            if self.stop_training and stop_mid_epoch:  # under DDP ranks agree at epoch end
                break
        engine.apply_gradients()  # an unfinished accumulation window still counts
        if results is not None and self._example_input is None:
            self._example_input = map_structure(lambda t: t[:1], xb)
        return results

    def _epoch_logs(self, results: StepResults, group: Group | None, reduce: bool) -> Logs:
        """The epoch's one host read; the default step's running results agree across ranks."""
        if group is not None and reduce:
            self._eng.all_reduce_results(group)
        return materialize(results)

    def _hand_back_callback_states(self, cbs: CallbackList, states: Mapping[str, Any]) -> None:
        """Give resumed callbacks their saved state, after every ``on_train_begin`` has run."""
        for key, callback in state_lib.keyed(cbs.callbacks).items():
            if key in states:
                callback.load_state_dict(states[key])

    @contextlib.contextmanager
    def _running(self, cbs: CallbackList, batches: data_lib.EpochIterator) -> Iterator[None]:
        """While a fit runs, its callbacks and data position belong to the saved training state."""
        self._callbacks, self._train_batches = cbs.callbacks, batches
        try:
            yield
        finally:
            self._callbacks, self._train_batches = [], None

    @contextlib.contextmanager
    def _counting_optimizer_steps(self, custom_step: bool) -> Iterator[None]:
        """With a custom ``train_step``, count ``model.optimizer``'s steps for ``optimizer_steps``."""
        engine = self._eng
        if not custom_step or self.optimizer is None:
            yield
            return

        def count(*_):
            engine.optimizer_steps += 1

        engine.counts_steps = False  # a super().train_step() call is counted by the hook alone
        handle = self.optimizer.register_step_post_hook(count)
        try:
            yield
        finally:
            handle.remove()
            engine.counts_steps = True

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
        args_lib.no_batch_size_for_iterables(validation_data, None)
        # A generator is read in full on the first validation and gives its first two batches on
        # the later ones, as in Keras 3.15.1 (an empty one is an error now, as in Keras).
        validation_data = data_lib.replayable(validation_data, "validation_data")
        return data_lib.make_source(validation_data, None, None, batch_size=batch_size,
                                    shuffle=False, device=self.device, argument="validation_data",
                                    shard=shard)

    def _callback_list(self, callbacks, history: History | None, verbose: int, params: dict):
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]  # Keras takes a single callback as well as a list
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be ks.callbacks.Callback instances; got {type(cb).__name__}."
                )
        main_process = self.is_main_process
        if not main_process:  # callbacks that write files or print act on rank 0 only
            callbacks = [cb for cb in callbacks if not cb.rank_zero_only]
        extra: list[Callback] = [history] if history is not None else []
        if verbose and main_process:
            extra.append(ProgbarLogger())
        return CallbackList(callbacks + extra, model=self, params=params)

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
        evaluated; with an overridden ``test_step``, what its last call returned.

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
        test_step = self._overridden("test_step")
        engine = self._require_compiled("evaluate", need_loss=test_step is None)
        verbose, batch_size, steps = args_lib.check_evaluate_predict(x, batch_size, verbose, steps)
        if test_step is None:
            args_lib.check_targets_given(x, y, "evaluate")
        x = data_lib.replayable(x, "x")  # an exhausted generator is an error, as in Keras
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
            logs = self._evaluate_loop(batches, cbs, group, test_step)
        return _keras_results(self, logs, return_dict)

    def _evaluate_loop(self, batches: data_lib.EpochIterator, cbs: CallbackList,
                       group: Group | None, test_step: Callable[..., Any] | None) -> Logs:
        """Validation and ``evaluate``: every metric reset, class weights off (as in Keras)."""
        engine = self._eng
        self.module.eval()
        self.reset_metrics()
        self.stop_evaluating = False
        running = engine.result_fns()
        results: StepResults | None = None
        wants_batch_end = cbs.wants("on_test_batch_end")
        class_weight, engine.class_weight = engine.class_weight, None  # training only
        try:
            cbs.on_test_begin({})
            for step, (xb, yb, swb) in batches.epoch(0):
                cbs.on_test_batch_begin(step, {})
                if test_step is None:
                    engine.test_step(xb, yb, swb)
                    results = running
                else:
                    with torch.no_grad():
                        results = _step_logs(test_step(pack_x_y_sample_weight(xb, yb, swb)), "test_step")
                if wants_batch_end:
                    cbs.on_test_batch_end(step, LazyLogs(results))
                if self.stop_evaluating:
                    break
        finally:
            engine.class_weight = class_weight
        if results is None:
            results = running if test_step is None else {}
        logs = self._epoch_logs(results, group, reduce=test_step is None)
        cbs.on_test_end(logs)
        return logs

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
        returns every sample, in order.

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
        predict_step = self._overridden("predict_step")
        verbose, batch_size, steps = args_lib.check_evaluate_predict(x, batch_size, verbose, steps)
        group = self._process_group()
        source = data_lib.make_source(x, None, None, batch_size=batch_size, shuffle=False,
                                      device=self.device, shard=self._shard(group, pad=False))
        batches = data_lib.EpochIterator(source, steps)
        engine = self._predictor()
        cbs = self._callback_list(callbacks, None, verbose,
                                  {"verbose": verbose, "epochs": 1, "steps": batches.steps})
        self.module.eval()
        self.stop_predicting = False
        outputs = []
        with _reporting_errors(cbs):
            cbs.on_predict_begin({})
            for step, (xb, _, _) in batches.epoch(0):
                cbs.on_predict_batch_begin(step, {})
                if predict_step is None:
                    out = engine.predict_step(xb)
                else:
                    with torch.no_grad():
                        out = predict_step(pack_x_y_sample_weight(xb))
                outputs.append(out)
                cbs.on_predict_batch_end(step, {"outputs": out})
                if self.stop_predicting:
                    break
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

    def train_on_batch(self, x: Nested, y: Targets = None, sample_weight: SampleWeights = None,
                       class_weight: Mapping[int, float] | None = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Train on one batch: forward, loss, backward and an optimizer step, in train mode.

        The metrics are reset first, so the results describe this batch alone (as in Keras), and
        the batch is checked against the loss and metrics before the step. With
        ``gradient_accumulation_steps=N`` the batch joins the accumulation window and the
        optimizer steps on every N-th call. An overridden ``train_step`` is called with the
        batch (class weights folded into its sample weights).

        Args:
            x: the batch's inputs: an array or tensor, or a tuple, list or dict of them.
            y: the batch's targets; ``None`` only for an overridden ``train_step``.
            sample_weight: one weight per sample of the batch, as in ``fit``.
            class_weight: ``{class_index: weight}``, as in ``fit``; not with ``sample_weight``.
            return_dict: return ``{log key: float}`` instead of a list.

        Returns:
            The batch's loss and metrics, formatted as ``evaluate`` formats its results.

        Raises:
            ValueError: ``compile`` not called (or no loss and no overridden ``train_step``),
                arrays ``x`` without ``y``, inputs and targets of different lengths, a bad
                ``class_weight``, or targets that do not fit the loss.

        Example:
            for x_batch, y_batch in batches:
                logs = model.train_on_batch(x_batch, y_batch, return_dict=True)
        """
        train_step = self._overridden("train_step")
        engine = self._require_compiled("train_on_batch", need_loss=train_step is None)
        args_lib.check_class_weight(class_weight, sample_weight)
        xb, yb, swb = self._single_batch(engine, "train_on_batch", train_step, x, y, sample_weight,
                                         class_weight)
        if train_step is None and not any(p.requires_grad for p in self.module.parameters()):
            _warn_nothing_to_train()  # as Keras's default train step does
        self.module.train()
        if train_step is None:
            engine.train_step(xb, yb, swb)
            results: StepResults = engine.result_fns()
        else:
            with self._counting_optimizer_steps(True):
                data = pack_x_y_sample_weight(xb, yb, engine.class_sample_weight(yb, swb))
                results = _step_logs(train_step(data), "train_step")
        return _keras_results(self, materialize(results), return_dict)

    def test_on_batch(self, x: Nested, y: Targets = None, sample_weight: SampleWeights = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """The loss and metrics of one batch, in eval mode without gradients; no weight changes.

        The metrics are reset first, so the results describe this batch alone; class weights do
        not apply. An overridden ``test_step`` is called with the batch.

        Args:
            x: the batch's inputs, as for ``train_on_batch``.
            y: the batch's targets; ``None`` only for an overridden ``test_step``.
            sample_weight: one weight per sample of the batch.
            return_dict: as in ``evaluate``.

        Returns:
            As ``evaluate``: a float, a list in Keras's order, or a dict.

        Raises:
            ValueError: ``compile`` not called (or no loss and no overridden ``test_step``),
                arrays ``x`` without ``y``, or targets that do not fit the loss.

        Example:
            val_loss, val_accuracy = model.test_on_batch(x_val[:256], y_val[:256])
        """
        test_step = self._overridden("test_step")
        engine = self._require_compiled("test_on_batch", need_loss=test_step is None)
        xb, yb, swb = self._single_batch(engine, "test_on_batch", test_step, x, y, sample_weight)
        self.module.eval()
        if test_step is None:
            engine.test_step(xb, yb, swb)
            results: StepResults = engine.result_fns()
        else:
            with torch.no_grad():
                results = _step_logs(test_step(pack_x_y_sample_weight(xb, yb, swb)), "test_step")
        return _keras_results(self, materialize(results), return_dict)

    def predict_on_batch(self, x: Nested) -> Any:
        """The module's outputs for one batch as NumPy arrays, in eval mode without gradients.

        Works without ``compile``; an overridden ``predict_step`` is called when there is one.

        Args:
            x: the batch's inputs: an array or tensor, or a tuple, list or dict of them, passed
                to the module as ``fit`` passes them.

        Returns:
            As ``predict``: an array, or the module's output structure of arrays.

        Example:
            probabilities = model.predict_on_batch(x_test[:8])
        """
        xb = data_lib.to_device(map_structure(data_lib.as_tensor, x), self.device)
        self.module.eval()
        predict_step = self._overridden("predict_step")
        if predict_step is None:
            return _concat_to_numpy([self._predictor().predict_step(xb)])
        with torch.no_grad():
            return _concat_to_numpy([predict_step(pack_x_y_sample_weight(xb))])

    def _single_batch(self, engine: Engine, method: str, custom_step: Any, x: Any, y: Any,
                      sample_weight: Any, class_weight: Any = None) -> tuple[Any, Any, Any]:
        """What ``train_on_batch`` and ``test_on_batch`` do before their step: check the batch,
        put it on the device, set its class weights, and start from fresh metrics."""
        if custom_step is None:
            args_lib.check_targets_given(x, y, method)
        x, y = map_structure(data_lib.as_tensor, x), map_structure(data_lib.as_tensor, y)
        sw = data_lib.sample_weights(sample_weight)
        data_lib.check_lengths(x, y, sw)
        xb, yb, swb = data_lib.to_device((x, y, sw), self.device)
        engine.set_class_weight(class_weight, yb)
        engine.all_targets, engine.checked_targets = None, False  # this batch is checked itself
        self.reset_metrics()
        return xb, yb, swb

    # ------------------------------------------------------------------ export

    def export(self, filepath: str | os.PathLike, format: str = "onnx",  # noqa: A002 - Keras's name
               input_signature: Any = None, verbose: bool = True) -> list[str]:
        """Export the module for inference as one ONNX file with its weights inside (Keras 3's name).

        Args:
            filepath: the ``.onnx`` file to write.
            format: ``"onnx"``.
            input_signature: the input shapes (``None`` for a dynamic dimension) or example
                tensors; ``None`` uses ``example_input``, a sample of the last batch ``fit`` saw.
            verbose: print what was written.

        Returns:
            The files written.

        Example:
            model.export("model.onnx", input_signature=(None, 1, 28, 28))
        """
        from kerasish.export import export

        return export(self, filepath, format=format, input_signature=input_signature, verbose=verbose)

    # ------------------------------------------------------------------ summary

    def summary(self, input_shape: ShapeSpec | None = None,
                print_fn: Callable[[str], Any] | None = None, *,
                input_dtype: DtypeSpec = torch.float32, example_input: Any = None) -> None:
        """Print a Keras-style table of layers, output shapes and parameter counts.

        A wrapped Keras model prints Keras's own summary. For a torch module, output shapes come
        from one forward pass in eval mode without gradients, on
        ``example_input``, else on zeros of ``input_shape``, else on one sample of the last batch
        ``fit`` saw; without any, they show as "?".

        Args:
            input_shape: the shape of one sample, without the batch dimension; a list of shapes
                for several positional inputs, a dict of shapes for keyword inputs.
            print_fn: called with the whole table; by default it is printed (nothing on non-zero
                torchrun ranks, ASCII rules where stdout cannot encode Keras's).
            input_dtype: the dtype of the zeros (``torch.long`` for token ids into an
                ``Embedding``): one, or a list / dict matching ``input_shape``.
            example_input: a real batch, passed to the module as ``fit`` passes ``x``.

        Raises:
            ValueError: a malformed ``input_shape`` / ``input_dtype``, or a forward pass that
                failed (the message says which argument to pass).

        Example:
            model.summary(input_shape=(16,), input_dtype=torch.long)
        """
        if is_keras_model(self.module):  # Keras's own table of its layers, as keras_model.summary()
            lines: list[str] = []
            keras_summary = getattr(self.module, "summary")  # noqa: B009 - Keras's, unknown to torch's types
            keras_summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
            text = "\n".join(lines)
        else:
            example = build_example(input_shape, input_dtype, example_input,
                                    seen_input=self._example_input, device=self.device)
            text = summarize(self.module, example, call_module)
        if print_fn is None:
            console.print_line(text, model=self)
        else:
            print_fn(text)

    # ------------------------------------------------------------------ weights and saving

    def get_weights(self) -> list[np.ndarray]:
        """Every tensor of the module's state (parameters and buffers) as NumPy arrays."""
        return [t.detach().cpu().numpy().copy() for t in self.module.state_dict().values()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Set the module's parameters and buffers from a list of arrays: ``get_weights``'s inverse.

        Args:
            weights: one array (or tensor) per entry of the module's ``state_dict``, in its order
                and with its shapes, as ``get_weights()`` returns them; each is cast to the
                entry's dtype.

        Raises:
            ValueError: a different number of arrays, or an array whose shape differs (named by
                its ``state_dict`` key). The module is left unchanged.

        Example:
            twin = ks.Model(make_net())
            twin.set_weights(model.get_weights())
        """
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
        """Write the module's ``state_dict`` (parameters and buffers) and nothing else.

        The file is a plain ``torch.save`` of it, so ``module.load_state_dict(torch.load(path))``
        reads it without kerasish; ``load_weights`` reads it too. It is written atomically, like
        every kerasish file.

        Args:
            filepath: the file to write; any suffix, and missing folders are created.

        Example:
            model.save_weights("weights/final.pt")
        """
        atomic_torch_save(self.module.state_dict(), filepath)

    def save(self, filepath: str | os.PathLike) -> None:
        """Write the whole training state to one torch file, in the format ``BackupAndRestore`` writes.

        The file holds the weights, the optimizer and gradient-scaler states, the epoch and the
        batches done in it, the optimizer steps, the shuffle seed, the random-number states, the
        running metric states, a half-filled accumulation window, the compile settings and, when
        called from inside ``fit`` (a callback), each callback's ``state_dict()``. It is written to
        a temporary file and moved into place, so a crash never leaves a torn file.

        Args:
            filepath: where to write; any suffix, and missing folders are created.

        Example:
            model.save("run/state.pt")
            restored = ks.Model(make_net()).compile("adam", "cross_entropy")
            restored.load_weights("run/state.pt")   # weights, optimizer, scaler, epoch
        """
        state_lib.save(self, filepath)

    def load_weights(self, filepath: str | os.PathLike) -> None:
        """Load a file written by ``save``, ``save_weights``, ``BackupAndRestore`` or ``torch.save``.

        The weights always load. A full training state also sets ``model.epoch`` and, on a
        compiled model, restores the optimizer and gradient-scaler states and
        ``model.optimizer_steps``; the next ``fit`` still starts at its ``initial_epoch`` (pass
        ``initial_epoch=model.epoch`` to continue, or resume with ``BackupAndRestore``). Files of
        earlier kerasish versions load too. Everything is checked before anything changes.

        Args:
            filepath: the file to read: a kerasish state, or a bare ``state_dict``.

        Raises:
            FileNotFoundError: there is no file at ``filepath``.
            ValueError: the file is damaged, holds no ``state_dict`` or comes from a newer
                kerasish; its keys or shapes do not match the module; or its optimizer state
                does not fit the compiled optimizer. The model is left as it was.

        Example:
            model.load_weights("ckpt/best.pt")
        """
        try:
            state = state_lib.read(filepath, map_location=self.device)
        except ValueError as error:
            raise ValueError(f"load_weights: {error}") from error.__cause__
        try:
            state_lib.load_into(self, state, filepath)
        except ValueError as error:
            raise ValueError(f"load_weights: {error}") from error


# ---------------------------------------------------------------------------- helpers

def _step_logs(results: Any, step: str) -> StepResults:
    """A step's returned logs, nested dicts flattened as Keras does (``None`` counts as empty)."""
    if results is None:
        return {}
    if not isinstance(results, Mapping):
        raise TypeError(
            f"{step} must return a dict of logs ({{'loss': loss, ...}}); got "
            f"{type(results).__name__}."
        )
    if not any(isinstance(v, Mapping) for v in results.values()):
        return results
    flat: dict[str, Any] = {}
    for key, value in results.items():
        if isinstance(value, Mapping):
            flat.update(_step_logs(value, step))
        else:
            flat[key] = value
    return flat


@contextlib.contextmanager
def _reporting_errors(cbs: CallbackList, cleanup: Callable[[], None] | None = None) -> Iterator[None]:
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


def _concat_to_numpy(outputs: list) -> Any:
    if not outputs:
        return np.empty((0,))
    return map_together(_concat_leaf, outputs)


def _concat_leaf(outputs: Sequence[torch.Tensor]) -> np.ndarray:
    """One output's per-batch tensors as one NumPy array, on the host."""
    joined = torch.cat([o.detach() for o in outputs])
    if joined.dtype in (torch.float16, torch.bfloat16):
        joined = joined.float()  # NumPy has no bfloat16; mixed-precision outputs come back float32
    return joined.cpu().numpy()


def _keras_results(model: Model, logs: dict[str, float], return_dict: bool):
    """``evaluate``/``*_on_batch`` results: the logs, or a list in Keras 3's order.

    Keras lists the values of ``model.metrics`` by name (the loss, a single output's metrics in
    compile order, the per-output losses, ...), then every other log key sorted by name: for a
    multi-output model ``loss, output_0_loss, output_1_loss`` and then the per-output metrics
    alphabetically. A name listed twice gives its value once (Keras 3.15.1 repeats it).
    """
    if return_dict:
        return logs
    names = list(dict.fromkeys(metric.name for metric in model.metrics))
    values = [logs[name] for name in names if name in logs]
    values += [logs[key] for key in sorted(logs) if key not in names]
    return values[0] if len(values) == 1 else values


def _warn_nothing_to_train() -> None:
    warnings.warn(
        "The model does not have any trainable weights: fit reports the loss and metrics but "
        "changes no weight (every parameter has requires_grad=False, or there is none).",
        UserWarning, stacklevel=3,
    )


def _check_validation_data(model: Model, source: Any) -> None:
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
    engine = model._eng
    modes = [(m, m.training) for m in model.module.modules()]
    model.module.eval()
    saved_targets = engine.all_targets
    try:
        with torch.inference_mode():
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
            engine.all_targets = source.targets()
            try:
                engine.check_targets(yb, y_pred)
            except (ValueError, TypeError) as error:
                raise type(error)(f"validation_data: {error}") from error
    finally:
        engine.all_targets, engine.checked_targets = saved_targets, False
        for module, training in modes:
            module.training = training
