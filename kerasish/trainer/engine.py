"""The step runner: one training, test and predict step for a compiled model.

Autocast, backward, gradient accumulation, clipping and fp16 gradient scaling live here, and
everything follows one rule: a step never waits for the host. The loss and metrics accumulate in
device tensors (``LossTracker``, ``ks.metrics``) and become Python floats only when something
reads them (``trainer.logs``), at most once per epoch unless a callback asks for batch values.
"""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from kerasish.checks import check_sample_weight_form, first_forward_error
from kerasish.metrics import Metric
from kerasish.trainer import compile_utils as cu
from kerasish.trainer import rank_sums
from kerasish.trainer.compile_utils import CompiledLoss, CompiledMetrics, LossTracker, batch_size_of
from kerasish.trainer.layer_losses import LayerLosses, no_compiled_loss
from kerasish.trainer.owned_metrics import owned_metrics

PRECISIONS = {
    "float32": None,
    "32": None,
    "mixed_float16": torch.float16,
    "fp16": torch.float16,
    "16-mixed": torch.float16,
    "mixed_bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "bf16-mixed": torch.bfloat16,
}


def call_module(module: torch.nn.Module, x: Any, training: bool | None = None) -> Any:
    """A tuple/list ``x`` is passed as positional arguments, a dict as keywords (docs/reference.md).

    A Keras model (``training`` given) takes ``x`` whole as its one ``inputs`` argument, with
    Keras's ``training`` flag, as ``keras.Model.fit`` calls it.
    """
    if training is not None:
        return module(x, training=training)
    if type(x) is torch.Tensor:  # the common case first: no ABC isinstance on the hot path
        return module(x)
    if isinstance(x, (tuple, list)):
        return module(*x)
    if isinstance(x, Mapping):
        return module(**x)
    return module(x)


def scale_tensor(scaler: torch.amp.GradScaler) -> torch.Tensor:
    """The gradient scaler's current scale as a device tensor: the one read of a torch private.

    ``GradScaler.get_scale()`` is public but returns a Python float, a host sync per step; the
    tensor behind it is ``_scale``. ``tests/test_private_apis.py`` fails loudly if torch renames it.
    """
    return scaler._scale  # type: ignore[return-value]  # private: torch's GradScaler


def is_keras_model(module: torch.nn.Module) -> bool:
    """Whether ``module`` is a Keras 3 layer or model (a ``torch.nn.Module`` under the torch backend).

    Keras is looked up only if the user already imported it: kerasish never imports it.
    """
    keras = sys.modules.get("keras")
    layer = getattr(keras, "Layer", None) if keras is not None else None
    return isinstance(layer, type) and isinstance(module, layer)


class NamedMetric(NamedTuple):
    """A compiled metric with its log key."""

    name: str
    metric: Metric


@dataclass(frozen=True)
class FirstBatchCheck:
    """A run whose first batch is still to be checked against the losses and metrics.

    ``targets`` are the whole target arrays when known (every label is checked, one host read),
    else ``None`` and the first batch's own targets are checked.
    """

    targets: Any


def _no_loss(y_true: Any, y_pred: Any, sample_weight: Any) -> torch.Tensor:
    raise ValueError("compile() was called with loss=None: the default steps need a loss.")


class Engine:
    """Runs train/test/predict steps for one compiled model.

    The training step, top to bottom: zero the gradients at the start of an accumulation window
    (set_to_none, as Keras does, so they are still there for callbacks at batch end), forward under
    autocast, the loss scaled for fp16 and divided by the accumulation steps, backward, and on the
    window's last batch: unscale, clip, step. Then the running results are updated on the device.
    """

    def __init__(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                 loss: CompiledLoss | None, metrics: CompiledMetrics, *, device: torch.device,
                 precision: str = "float32", clipnorm: float | None = None,
                 clipvalue: float | None = None, gradient_accumulation_steps: int = 1,
                 jit_compile: bool = False):
        self.module = module
        self.train_module = module  # the DistributedDataParallel wrapper under torchrun
        self.keras = is_keras_model(module)  # called Keras's way: one inputs, training flag
        self.optimizer = optimizer
        self.loss = loss
        # One unweighted loss is called directly, skipping CompiledLoss's dispatch.
        # compile(loss=None) on a Keras model: it trains on its add_loss/regularizer losses, as Keras.
        self.layer_losses_only = loss is None and self.keras
        self._loss_fn: Callable[..., Any] = (loss.single or loss) if loss is not None else (
            no_compiled_loss if self.layer_losses_only else _no_loss)
        self.metrics = metrics
        self.device = device
        self.autocast_dtype = PRECISIONS[precision]
        self._direct_call = self.autocast_dtype is None and not self.keras
        # A Keras model with several outputs: its outputs are named (in its own order) for the loss
        # and metrics, as Keras does: `<name>_loss` logs, dict targets and specs keyed by name.
        names = list(getattr(module, "output_names", None) or []) if self.keras else []
        self.output_names = names if len(names) > 1 else None
        # No output names (a subclassed Keras model): logs named as Keras does (differences.md).
        self.keras_unnamed = self.keras and not names
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.accumulation = gradient_accumulation_steps
        if gradient_accumulation_steps > 1 and getattr(optimizer, "moving_average", None) is not None:
            raise ValueError(
                "compile(gradient_accumulation_steps=...) with an optimizer made with use_ema=True is not "
                "supported: Keras updates the moving average at every batch of a window, kerasish's "
                "optimizer sees only the window's step. Use one of the two, or accumulate by hand with "
                "the optimizer's own gradient_accumulation_steps and apply_gradients.")
        self.loss_tracker = LossTracker("loss")
        use_scaler = self.autocast_dtype == torch.float16 and device.type in ("cuda", "cpu")
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.class_weight: torch.Tensor | None = None
        self._window = 0  # batches accumulated since the last optimizer step
        self.optimizer_steps = 0  # optimizer steps attempted (a Python count: no device read)
        self.counts_steps = True  # False while a custom step's optimizer steps are counted by a hook
        self._skipped: torch.Tensor | None = None  # did the scaler skip the last step (fp16)
        self._params = [p for p in module.parameters() if p.requires_grad]
        from torch.distributed.tensor import DTensor

        # Without gradients: inference mode, except for a sharded (FSDP) module, whose gathered
        # parameters live in buffers that training later updates in place.
        self.inference = torch.no_grad if any(isinstance(p, DTensor) for p in self._params) \
            else torch.inference_mode
        # Set by Model when it built the optimizer: parameters that become trainable later join it.
        self.takes_in_new_parameters = False
        self._plain = not use_scaler and self.accumulation == 1 and clipnorm is None and clipvalue is None
        # Armed by expect_first_batch at the start of every fit/evaluate/single batch: the first
        # batch then pairs and checks losses, metrics, outputs and targets before any step.
        self.first_batch: FirstBatchCheck | None = None
        self._running: dict[str, Callable[[], torch.Tensor]] = {}  # result_fns(), refreshed
        # A Keras model's own losses (add_loss, regularizers) join its loss, as in Keras; a torch
        # module keeps the plain forward and pays nothing for them.
        self.layer_losses = LayerLosses(module) if self.keras else None
        self._forward = self._keras_forward_and_loss if self.keras else self._forward_and_loss
        self._predict = self.raw_outputs
        self.owned: list[Metric] = []  # metrics the module's layers keep (owned_metrics)
        self.find_owned_metrics()
        self._step_optimizer = self._optimizer_step
        if jit_compile:
            self._forward = torch.compile(self._forward)
            self._predict = torch.compile(self.raw_outputs)
            # A compiled step fuses the per-parameter update loops into one kernel: on a small
            # model it is most of what compiling saves. A changed learning rate recompiles once,
            # after which torch treats it as a dynamic input.
            self._step_optimizer = torch.compile(self._optimizer_step)
        self.result_fns()

    # ------------------------------------------------------------------ pieces

    @property
    def _optim(self) -> torch.optim.Optimizer:
        """The optimizer, in the training paths (a predict-only engine has none)."""
        assert self.optimizer is not None, "training needs compile(optimizer=...)"
        return self.optimizer

    def outputs(self, x, module=None, training: bool | None = None):
        """The outputs the loss and metrics see: ``raw_outputs``, named when the compile keys them."""
        return self.named(self.raw_outputs(x, module, training))

    def named(self, y_pred: Any) -> Any:
        """A Keras model's list outputs as ``{output name: output}``, when losses or metrics are
        keyed by name; anything else as it is."""
        if self.output_names is None or not isinstance(y_pred, (list, tuple)):
            return y_pred
        return OrderedDict(zip(self.output_names, y_pred))

    def raw_outputs(self, x, module=None, training: bool | None = None):
        """The module's outputs for ``x``, under autocast when a mixed precision is compiled.

        A Keras model gets ``training`` (default: whether the module is in train mode), so its
        Dropout and BatchNorm behave as in ``keras.Model.fit`` / ``evaluate``.
        """
        module = self.module if module is None else module
        if self.keras:
            training = self.module.training if training is None else training
        else:
            training = None
        if self.autocast_dtype is None:
            return call_module(module, x, training)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return call_module(module, x, training)

    def _forward_and_loss(self, module, x, y, sample_weight):
        """Forward and loss: the part ``jit_compile=True`` hands to ``torch.compile``."""
        if self._direct_call and type(x) is torch.Tensor:
            y_pred = module(x)  # the common case, without the helper frames
        else:
            y_pred = self.outputs(x, module)
        if self.class_weight is not None:
            sample_weight = self.class_weight[_class_labels(y)]
        return y_pred, self._loss_fn(y, y_pred, sample_weight), sample_weight

    def _keras_forward_and_loss(self, module, x, y, sample_weight):
        """``_forward_and_loss`` for a Keras model: its loss includes ``model.losses`` (Keras's
        ``compute_loss``), so the step trains on it and the loss tracker logs it."""
        y_pred, loss, sample_weight = self._forward_and_loss(module, x, y, sample_weight)
        assert self.layer_losses is not None  # built for every Keras model
        return y_pred, self.layer_losses.add_to(loss), sample_weight

    def _checked_forward_and_loss(self, module, x, y, sample_weight):
        """The first batch: everything that can fail on user input runs before the optimizer step.

        The targets are checked against the outputs (one host read), the loss is computed and the
        compiled metrics are updated with this batch here, so a loss, target or metric that does not
        fit raises while the weights are untouched (``CompiledMetrics.update_checked``); the step
        does not update the metrics again with this batch.
        """
        try:
            y_pred = self.outputs(x, module)
        except (RuntimeError, TypeError, ValueError) as error:
            clear = first_forward_error(error, x, self.module)
            if clear is None:
                raise
            raise clear from error
        check_sample_weight_form(sample_weight, y_pred)
        self.check_first_batch(y, y_pred)
        if self.class_weight is not None and isinstance(y_pred, torch.Tensor) and y_pred.dim() > 0:
            classes = y_pred.shape[-1] if y_pred.shape[-1] > 1 else 2  # (N, 1) outputs: labels 0/1
            if classes > self.class_weight.numel():  # classes class_weight leaves out weigh 1.0
                pad = torch.ones(classes - self.class_weight.numel(), device=self.class_weight.device)
                self.class_weight = torch.cat([self.class_weight, pad])
        sample_weight = self.class_sample_weight(y, sample_weight)
        loss = self._loss_fn(y, y_pred, sample_weight)
        if self.layer_losses is not None:  # a Keras model's own losses, as in the later steps
            loss = self.layer_losses.add_to(loss)
        if self.metrics.entries:
            self.metrics.update_checked(y, y_pred, sample_weight)
        return y_pred, loss, sample_weight

    def expect_first_batch(self, targets: Any = None) -> None:
        """Arm the first-batch check for the run that starts now (``targets``: the whole target
        arrays when known, so every label is checked; ``None``: the batch's own targets)."""
        self.first_batch = FirstBatchCheck(targets)

    def check_first_batch(self, y: Any, y_pred: Any) -> None:
        """Run the armed first-batch check on this batch, once (``check_targets``).

        Training takes in the parameters that became trainable since compile first (one unfrozen,
        or created by this first call of a Keras model built without ``keras.Input``), before the
        optimizer steps: the fused step and a custom step's ``compute_loss`` both come here.
        """
        if torch.is_grad_enabled():
            self.take_in_new_parameters()
        check = self.first_batch
        self.check_targets(y, y_pred, y if check is None or check.targets is None else check.targets)
        self.first_batch = None

    def check_targets(self, y: Any, y_pred: Any, targets: Any) -> None:
        """Pair losses, metrics, outputs and targets, and check ``targets`` against the outputs.

        Runs on the first batch's outputs, with the whole target arrays when they are known (one host
        read). Every mismatch is a ``ValueError``/``TypeError`` naming ``loss``, ``metrics`` or ``y``.
        """
        if targets is None and self.loss is not None:
            raise ValueError(
                "y is None, but the compiled loss needs targets: pass y=... with array x, or data "
                "that yields (x, y) batches."
            )
        if self.loss is None:
            self.check_layer_losses_only(y_pred, targets)
            return
        outputs = CompiledLoss.output_keys(y_pred)
        assigned = self.loss.assign(y_pred, by_loss=self.keras_unnamed)
        wanted = {a.output for a in assigned} | set(self.metrics.build(
            y_pred, prefix_positions=not self.keras_unnamed))
        true_keys = CompiledLoss.target_keys(targets, y_pred, [k for k in outputs if k in wanted])
        self.loss.bind(assigned, true_keys, targets, y_pred)
        self.metrics.bind(true_keys, {key: i for i, key in enumerate(outputs)})
        loss_fn: Callable[..., Any] = self.loss.single or self.loss
        if not any(p.requires_grad for p in self.module.parameters()):
            # Nothing to train (Keras warns and still reports the loss): the loss gets a gradient
            # of its own so that backward() runs, and the optimizer finds no gradient to apply.
            def loss_fn(y_true, y_pred, sample_weight, compute=loss_fn):
                value = compute(y_true, y_pred, sample_weight)
                if value.requires_grad or not torch.is_grad_enabled():
                    return value
                return value.detach().requires_grad_()
        self._loss_fn = loss_fn
        self.find_owned_metrics()  # a layer built by this first call may have made its tracker
        self.result_fns()  # the running results' keys follow the pairing just made

    def check_layer_losses_only(self, y_pred: Any, targets: Any) -> None:
        """The first batch of ``compile(loss=None)`` on a Keras model: its own losses must exist
        (Keras: "No loss to compute"), and compiled metrics pair with the outputs as usual."""
        assert self.layer_losses is not None  # layer_losses_only: a Keras model
        if not self.layer_losses.model.losses:
            raise ValueError(
                "No loss to compute: compile() was called with loss=None and the model added no "
                "loss (add_loss, kernel_regularizer=...) in its call. Pass loss=... to compile()."
            )
        needed = self.metrics.build(y_pred, prefix_positions=not self.keras_unnamed)
        if needed:
            outputs = CompiledLoss.output_keys(y_pred)
            true_keys = CompiledLoss.target_keys(targets, y_pred, [k for k in outputs if k in needed])
            self.metrics.bind(true_keys, {key: i for i, key in enumerate(outputs)})
        self.find_owned_metrics()
        self.result_fns()

    def _optimizer_step(self) -> None:
        # Looked up at each call: a torch LR scheduler built later wraps optimizer.step.
        self._optim.step()

    def set_class_weight(self, class_weight: Mapping[int, float] | None, targets: Any = None) -> None:
        """The class weights as a table indexed by class; a class missing from it weighs 1.0.

        The table covers every class ``targets`` (the whole target array, when known) holds, and is
        widened to the output's classes on the first batch. Keys are checked by
        ``arguments.check_class_weight`` before.
        """
        if not class_weight:
            self.class_weight = None
            return
        size = max(int(k) for k in class_weight) + 1
        if isinstance(targets, torch.Tensor) and targets.numel():
            size = max(size, int(_class_labels(targets).max()) + 1)  # one host read per fit
        table = torch.ones(size, dtype=torch.float32)
        for label, weight in class_weight.items():
            table[int(label)] = float(weight)
        self.class_weight = table.to(self.device)

    @contextlib.contextmanager
    def without_class_weight(self) -> Iterator[None]:
        """Validation inside ``fit`` is unweighted, as in Keras: class weights weigh training only."""
        class_weight, self.class_weight = self.class_weight, None
        try:
            yield
        finally:
            self.class_weight = class_weight

    # ------------------------------------------------------------------ steps

    def train_step(self, x, y, sample_weight) -> dict[str, Callable[[], torch.Tensor]]:
        """The fused default training step: what ``Model.train_step`` does, without its frames.

        Returns the running results (``result_fns()``), read only when someone looks.
        """
        first = self.first_batch is not None
        forward = self._checked_forward_and_loss if first else self._forward
        if self._plain:
            # No scaler, accumulation or clipping: exactly the hand-written loop.
            self._optim.zero_grad(set_to_none=True)
            y_pred, loss, sample_weight = forward(self.train_module, x, y, sample_weight)
            loss.backward()
            self._step_optimizer()
            self.optimizer_steps += self.counts_steps
        else:
            # Under DDP, only the window's last backward all-reduces the gradients.
            last = self._window + 1 == self.accumulation
            no_sync = getattr(self.train_module, "no_sync", None)
            with contextlib.nullcontext() if last or no_sync is None else no_sync():
                y_pred, loss, sample_weight = forward(self.train_module, x, y, sample_weight)
                self.backward_and_step(loss)
        self.loss_tracker.update(loss, batch_size_of(y_pred))
        if self.metrics.entries and not first:  # the first batch updated them when checked
            self.metrics.update(y, y_pred, sample_weight)
        return self._running

    def backward_and_step(self, loss: torch.Tensor) -> None:
        """Backward of ``loss`` into the accumulation window; the optimizer steps when it is full.

        Gradients are zeroed when a window starts (they are still there at batch end for
        callbacks), the loss is scaled for fp16 and divided by the accumulation steps.
        """
        if self._window == 0:
            self._optim.zero_grad(set_to_none=True)
        scaled = loss / self.accumulation if self.accumulation > 1 else loss
        self.scaler.scale(scaled).backward()
        self._window += 1
        if self._window == self.accumulation:
            self.apply_gradients()

    def class_sample_weight(self, y: torch.Tensor, sample_weight: Any) -> Any:
        """Sample weights from ``class_weight`` (Keras folds them in before the step), else as given."""
        if self.class_weight is None:
            return sample_weight
        return self.class_weight[_class_labels(y)]

    def take_in_new_parameters(self) -> None:
        """Take the module's trainable parameters again (at each run's first training batch).

        One unfrozen after compile, or created by a Keras model's first call (a model built
        without ``keras.Input``), is clipped, accumulated and saved with the others and, when the
        optimizer is kerasish's own (``takes_in_new_parameters``), joins it with its first group's
        settings, before the first optimizer step, as Keras builds its optimizer at the first fit.
        """
        self._params = [p for p in self.module.parameters() if p.requires_grad]
        if not self.takes_in_new_parameters or self.optimizer is None:
            return
        known = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        new = [p for p in self._params if (p.is_floating_point() or p.is_complex()) and id(p) not in known]
        if new:
            settings = {k: v for k, v in self.optimizer.param_groups[0].items() if k != "params"}
            self.optimizer.add_param_group({**settings, "params": new})

    def state_dict(self) -> dict[str, Any]:
        """What a saved training state holds of the engine: the scaler, the step count, and a
        half-filled accumulation window."""
        return {"scaler": self.scaler.state_dict(), "optimizer_steps": self.optimizer_steps,
                "accumulation": self.window_state()}

    def window_state(self) -> dict[str, Any] | None:
        """A half-filled accumulation window (its count and gradients), for a mid-epoch backup."""
        if self._window == 0:
            return None
        return {"window": self._window, "grads": [p.grad for p in self._params]}

    def load_window_state(self, state: Mapping[str, Any] | None) -> None:
        """Take back ``window_state()``: the resumed run finishes the window the saved one began."""
        if not state:
            self._window = 0
            return
        if len(state["grads"]) != len(self._params):
            raise ValueError("the saved accumulation window does not match this model's parameters.")
        for param, grad in zip(self._params, state["grads"]):
            param.grad = None if grad is None else grad.to(param.device, param.dtype)
        self._window = int(state["window"])

    def discard_window(self) -> None:
        """Forget a half-filled accumulation window (after an error): the next fit starts clean."""
        if self._window:
            self._optim.zero_grad(set_to_none=True)
        self._window = 0

    def apply_gradients(self) -> None:
        """Unscale, clip and step; called at the end of an accumulation window (or epoch)."""
        if self._window == 0:
            return
        if self._window < self.accumulation and hasattr(self.train_module, "no_sync"):
            rank_sums.average_gradients(self._params)  # an epoch's unfinished window
        if self.clipnorm is not None or self.clipvalue is not None:
            self.scaler.unscale_(self._optim)
            grads = [p.grad for p in self._params if p.grad is not None]
            if self.clipvalue is not None:
                torch._foreach_clamp_min_(grads, -self.clipvalue)
                torch._foreach_clamp_max_(grads, self.clipvalue)
            if self.clipnorm is not None:
                # Keras's clipnorm clips each weight's gradient on its own (global_clipnorm would
                # clip them together); the factors stay on the device.
                norms = torch._foreach_norm(grads)
                factors = [(self.clipnorm / (n + 1e-6)).clamp(max=1.0) for n in norms]
                torch._foreach_mul_(grads, factors)
        if self.scaler.is_enabled():
            # update() halves the scale exactly when the step was skipped for inf/NaN gradients;
            # keep that verdict on the device until someone asks (last_step_skipped).
            scale_before = scale_tensor(self.scaler).clone()
            self.scaler.step(self._optim)
            self.scaler.update()
            self._skipped = scale_tensor(self.scaler) < scale_before
        else:
            self._step_optimizer()
        self.optimizer_steps += self.counts_steps
        self._window = 0

    def last_step_skipped(self) -> bool:
        """Whether fp16 gradient scaling skipped the last optimizer step (inf/NaN gradients).

        Reads one flag from the device, so callers ask only when a scaler is in use; without one
        no step is ever skipped.
        """
        return self._skipped is not None and bool(self._skipped)

    def test_step(self, x, y, sample_weight) -> dict[str, Callable[[], torch.Tensor]]:
        """The fused default test step; returns the running results, as ``train_step``."""
        with self.inference():
            return self._test_step(x, y, sample_weight)

    def _test_step(self, x, y, sample_weight) -> dict[str, Callable[[], torch.Tensor]]:
        first = self.first_batch is not None
        forward = self._checked_forward_and_loss if first else self._forward
        y_pred, loss, sample_weight = forward(self.module, x, y, sample_weight)
        self.loss_tracker.update(loss, batch_size_of(y_pred))
        if not first:
            self.metrics.update(y, y_pred, sample_weight)
        return self._running

    def predict_step(self, x) -> Any:
        with self.inference():
            return self._predict(x)

    # ------------------------------------------------------------------ results

    # The one list of what a compiled model tracks. Everything that needs "all metrics" (the
    # logs, reset, the sum across ranks, Model.metrics) asks these two methods.

    def loss_trackers(self) -> list[LossTracker]:
        """The total loss's tracker, then one per output loss when there are several."""
        return [self.loss_tracker, *(self.loss.trackers if self.loss is not None else [])]

    def tracked(self) -> list[NamedMetric]:
        """Every compiled metric under its log key, in log order: the loss trackers, then the metrics."""
        named = [NamedMetric(tracker.name, tracker) for tracker in self.loss_trackers()]
        named += [NamedMetric(name, entry.metric)
                  for name, entry in zip(self.metrics.names, self.metrics.entries)]
        named += [NamedMetric(metric.name, metric) for metric in self.owned]
        return named

    def find_owned_metrics(self) -> None:
        """Find the metrics the module's layers own (once per engine and per run's first batch)."""
        self.owned = owned_metrics(self.module, self.keras,
                                   [entry.metric for entry in self.metrics.entries], self.owned)

    def keras_order(self) -> list[Metric]:
        """The compiled metrics in Keras's ``model.metrics`` order: the loss tracker, the compiled
        metrics (a plain one through a view that takes no sample weights, as Keras's
        ``compile_metrics`` gives it none), the per-output loss trackers, then the metrics the
        module's layers own."""
        trackers = self.loss_trackers()
        compiled = [entry.metric if entry.weighted else cu.PlainMetricView(entry.metric)
                    for entry in self.metrics.entries]
        return [trackers[0], *compiled, *trackers[1:], *self.owned]

    def reset_metrics(self) -> None:
        for named in self.tracked():
            named.metric.reset_state()

    def all_reduce_results(self, group) -> None:
        """Sum the running totals over all ranks (epoch end only), so logs agree everywhere."""
        rank_sums.sum_running_results(self.loss_trackers(), self.tracked(), self.device, group)

    def result_fns(self) -> dict[str, Callable[[], torch.Tensor]]:
        """Log key -> a function returning the running value as a 0-d tensor (no host read).

        Every call returns the same dict, refreshed: the first batch settles which output each
        metric belongs to (and so its key), and a loop that took the dict before it sees the keys.
        """
        fns = self._running
        fns.clear()
        fns.update((named.name, named.metric.result) for named in self.tracked())
        return fns


def _class_labels(y: torch.Tensor) -> torch.Tensor:
    """Class indices for ``class_weight``: integer labels, one-hot rows, or 0/1 binary targets."""
    if y.dim() > 1 and y.shape[-1] > 1:
        return y.argmax(dim=-1)
    if y.dim() > 1:
        y = y.squeeze(-1)
    return y.long() if not y.is_floating_point() else y.round().long()


