"""The Keras 3 step API of ``ks.Model``: ``self(x)``, ``compute_loss``, the three steps, and the
single-batch methods. ``Model`` inherits it (``model.py``); the loops that call the steps live in
``kerasish.trainer``.

A subclass that overrides ``train_step``, ``test_step`` or ``predict_step`` (or the
``compute_loss``/``compute_metrics`` the default steps call) gets its own step called, with Keras
3's semantics; one that does not runs the engine's fused step and pays nothing for the hook. Which
one runs is decided once per fit, evaluate or predict (``_choose_steps``).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from kerasish import arguments as args_lib
from kerasish import data as data_lib
from kerasish.model_parts import ModelParts
from kerasish.trainer import loops
from kerasish.trainer import step_functions as steps_lib
from kerasish.trainer.compile_utils import CompiledMetrics, batch_size_of
from kerasish.trainer.engine import Engine, call_module, is_keras_model
from kerasish.trainer.layer_losses import no_compiled_loss
from kerasish.trainer.logs import concat_to_numpy, keras_results, materialize
from kerasish.tree import map_structure
from kerasish.types import Nested, SampleWeights, Targets
from kerasish.utils import unpack_x_y_sample_weight

if TYPE_CHECKING:
    from kerasish.metrics import Metric


class KerasStepAPI(ModelParts):
    """Keras 3's step hooks and single-batch methods; see ``ks.Model``."""

    # ------------------------------------------------------------------ what the steps call

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

        For a wrapped Keras model the total also holds ``model.losses`` (``add_loss`` calls and
        regularizers from the model's last call), each summed, as Keras 3's ``compute_loss`` adds
        them; the loss tracker logs that total, as Keras's steps do. The first call of a fit checks
        the targets against the outputs (one host read).

        Args:
            x: the inputs (unused by the compiled loss; Keras passes them for overrides).
            y: the targets.
            y_pred: the model's outputs.
            sample_weight: optional per-sample weights.
            training: whether the step trains (Keras's argument; the loss is the same).

        Returns:
            The total loss, a 0-d tensor that can be back-propagated.
        """
        engine = self._require_compiled("compute_loss")
        y_pred = engine.named(y_pred)  # a Keras model's list outputs, for losses keyed by name
        if engine.first_batch is not None:
            engine.check_first_batch(y, y_pred)
        loss = engine.loss(y, y_pred, sample_weight) if engine.loss is not None else (
            no_compiled_loss(None, y_pred, None))  # compile(loss=None): a Keras model's own losses
        if engine.layer_losses is not None:  # a Keras model's own losses
            loss = engine.layer_losses.add_to(loss)
        engine.loss_tracker.update_from_compute_loss(loss, batch_size_of(y_pred))
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
        compiled: set[Metric] = set()
        if self._engine is not None:
            tracked = self._engine.tracked()
            results.update((named.name, named.metric.result()) for named in tracked)
            compiled = {named.metric for named in tracked}
        for metric in self.metrics:
            if getattr(metric, "compiled", metric) not in compiled:  # a PlainMetricView's metric
                results.setdefault(metric.name, metric.result())
        return results

    # ------------------------------------------------------------------ the steps

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

    def _compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool):
        """``compute_loss``, also when an override predates Keras's ``training`` argument."""
        if "training" in inspect.signature(self.compute_loss).parameters:
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the module's gradients (Keras's torch-backend ``self.zero_grad()``).

        Args:
            set_to_none: set them to ``None`` (the default, as torch), else to zeros.
        """
        self.module.zero_grad(set_to_none=set_to_none)

    @property
    def trainable_weights(self) -> list[torch.nn.Parameter]:
        """The parameters the optimizer trains (Keras's name)."""
        return [p for p in self._trainable_parameters() if p.requires_grad]

    # ------------------------------------------------------------------ decided once per run

    def _custom_step(self, step: str) -> Callable[..., Any] | None:
        """The user's step a loop must call, or ``None`` for the engine's fused default.

        A subclass's own ``train_step``/``test_step`` is called; so is the default one (written
        with ``compute_loss`` and ``compute_metrics``) when the subclass overrides one of those,
        as Keras's default steps call them.
        """
        hooks = (step,) if step == "predict_step" else (step, "compute_loss", "compute_metrics")
        if all(getattr(type(self), hook) is getattr(KerasStepAPI, hook) for hook in hooks):
            return None
        return getattr(self, step)

    def _choose_steps(self, engine: Engine) -> steps_lib.StepFunctions:
        """The steps this run calls, fused or the user's: chosen here, once, for the whole loop."""
        refuse_keras_step_overrides(self.module)
        return steps_lib.choose(engine, self._custom_step("train_step"),
                                self._custom_step("test_step"), self._custom_step("predict_step"))

    def _require_compiled(self, method: str, need_loss: bool = True) -> Engine:
        if self._engine is None:
            raise ValueError(
                f"You must call compile() before {method}(): "
                "model.compile(optimizer='adam', loss='cross_entropy')."
            )
        if need_loss and self._engine.loss is None and not self._engine.layer_losses_only:
            raise ValueError(
                f"{method}() needs a loss, but compile() was called with loss=None. Pass "
                "loss=... to compile(), or override the step to compute your own loss."
            )
        return self._engine

    def _predictor(self) -> Engine:
        """The compiled engine, or one made to predict with an uncompiled model."""
        if self._engine is not None:
            return self._engine
        return Engine(self.module, None, None, CompiledMetrics([]), device=self.device)

    def _trainable_parameters(self) -> list[torch.nn.Parameter]:
        """What the optimizer gets: float (or complex) parameters; of a Keras model, its trainable ones.

        Integer state (a Keras model's seed generator) can never be trained, and would keep the
        fused Adam kernel from being used.
        """
        return [p for _, p in self._named_trainable_parameters()]

    def _named_trainable_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        """``_trainable_parameters`` with their names, for the rules Keras applies by variable
        name (``exclude_from_weight_decay(var_names=...)``, Muon's): torch's qualified names, and
        a Keras model's variable paths (``dense/kernel``), as Keras matches them."""
        keras = is_keras_model(self.module)
        paths = {id(v.value): v.path for v in getattr(self.module, "variables", ())} if keras else {}
        return [(paths.get(id(p), name), p) for name, p in self.module.named_parameters()
                if (p.is_floating_point() or p.is_complex()) and (p.requires_grad or not keras)]

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
        custom = self._custom_step("train_step") is not None
        engine = self._require_compiled("train_on_batch", need_loss=not custom)
        steps = self._choose_steps(engine)
        args_lib.check_class_weight(class_weight, sample_weight)
        xb, yb, swb = self._single_batch(engine, "train_on_batch", custom, x, y, sample_weight,
                                         class_weight)
        if not custom:
            loops.warn_if_nothing_to_train(self.module)
        self.module.train()
        with steps_lib.counting_optimizer_steps(engine, self.optimizer, custom):
            results = steps.train(xb, yb, swb)
        return keras_results([m.name for m in self.metrics], materialize(results), return_dict)

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
        custom = self._custom_step("test_step") is not None
        engine = self._require_compiled("test_on_batch", need_loss=not custom)
        steps = self._choose_steps(engine)
        xb, yb, swb = self._single_batch(engine, "test_on_batch", custom, x, y, sample_weight)
        self.module.eval()
        results = steps.test(xb, yb, swb)
        return keras_results([m.name for m in self.metrics], materialize(results), return_dict)

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
        return concat_to_numpy([self._choose_steps(self._predictor()).predict(xb)])

    def _single_batch(self, engine: Engine, method: str, custom_step: bool, x: Any, y: Any,
                      sample_weight: Any, class_weight: Any = None) -> tuple[Any, Any, Any]:
        """What ``train_on_batch`` and ``test_on_batch`` do before their step: check the batch,
        put it on the device, set its class weights, and start from fresh metrics."""
        if not custom_step and engine.loss is not None:
            args_lib.check_targets_given(x, y, method)
        x, y = map_structure(data_lib.as_tensor, x), map_structure(data_lib.as_tensor, y)
        sw = data_lib.sample_weights(sample_weight)
        data_lib.check_lengths(x, y, sw)
        xb, yb, swb = data_lib.to_device((x, y, sw), self.device)
        engine.set_class_weight(class_weight, yb)
        engine.expect_first_batch()  # this batch is checked itself
        self.reset_metrics()
        return xb, yb, swb


KERAS_STEP_HOOKS = ("train_step", "test_step", "predict_step", "compute_loss", "compute_metrics")


def refuse_keras_step_overrides(module: torch.nn.Module) -> None:
    """A wrapped ``keras.Model`` subclass overriding a step hook: a ``TypeError`` before any step.

    ``ks.Model`` runs its own steps, never the Keras model's, so such an override would be
    silently ignored (Keras's "customizing fit" guide writes one); the fix is to move it to a
    ``ks.Model`` subclass (docs/porting_guides.md).
    """
    if not is_keras_model(module):
        return
    keras_model = sys.modules["keras"].Model
    if not isinstance(module, keras_model):
        return
    overridden = [hook for hook in KERAS_STEP_HOOKS
                  if getattr(type(module), hook, None) is not getattr(keras_model, hook, None)]
    if overridden:
        raise TypeError(
            f"{type(module).__name__} overrides {', '.join(overridden)}, which ks.Model does not "
            "call (it runs its own steps). Move the override to a ks.Model subclass wrapping the "
            f"Keras model: class {type(module).__name__}(ks.Model) with the same methods, "
            "model = ...(keras_model) (docs/porting_guides.md)."
        )
