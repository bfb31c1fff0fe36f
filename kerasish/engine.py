"""The step loop's inner parts: one training, test and predict step, and the running results.

Everything that runs once per batch lives here and follows one rule: it never waits for the host.
The loss and metrics accumulate in device tensors (``LossTracker``, ``ks.metrics``) and become
Python floats only when something reads them, at most once per epoch unless a callback asks for
batch values.
"""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

import torch

from kerasish.losses import Loss
from kerasish.metrics import Metric

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
    return scaler._scale  # type: ignore[return-value]


def is_keras_model(module: torch.nn.Module) -> bool:
    """Whether ``module`` is a Keras 3 layer or model (a ``torch.nn.Module`` under the torch backend).

    Keras is looked up only if the user already imported it: kerasish never imports it.
    """
    keras = sys.modules.get("keras")
    layer = getattr(keras, "Layer", None) if keras is not None else None
    return isinstance(layer, type) and isinstance(module, layer)


class LossTracker(Metric):
    """Running, batch-size-weighted mean of the loss, kept on the device (Keras's loss tracker).

    One fused ``add_`` per step; the sample count is a Python int because it is known on the host.
    It is a ``ks.metrics.Metric``, so it appears in ``model.metrics`` and a custom step may call
    ``update_state(loss, sample_weight=batch_size)`` on it as Keras's guide does.
    """

    def __init__(self, name: str = "loss"):
        super().__init__(name)
        self.total: torch.Tensor | None = None
        self.count = 0

    def update(self, loss: torch.Tensor, batch_size: int) -> None:
        if self.total is None:
            self.total = torch.zeros((), device=loss.device)
        self.total.add_(loss.detach(), alpha=batch_size)
        self.count += batch_size

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        """Add a loss value; ``sample_weight`` is its weight (Keras passes the batch size)."""
        weight = 1 if sample_weight is None else sample_weight
        if isinstance(weight, torch.Tensor):
            weight = int(weight.sum().item()) if weight.numel() > 1 else weight.item()
        self.update(torch.as_tensor(values).float().mean(), int(weight))

    def result(self) -> torch.Tensor:
        if self.total is None:
            return torch.zeros(())
        return self.total / max(self.count, 1)

    def reset_state(self) -> None:
        self.total = None
        self.count = 0


class CompiledLoss:
    """The total loss over one or several outputs, with ``loss_weights`` (Keras's CompileLoss).

    ``compile`` gives the loss as it was written (``arguments.compile_loss``): one loss for the
    output (``form="one"``), a list pairing losses with the outputs in order (``"list"``), or a dict
    keyed like a dict output (``"dict"``); each output holds zero (``None``), one or several
    ``(loss, weight)`` leaves. The model's output structure is known only once it has run, so
    ``assign`` and ``bind`` pair losses, outputs and targets on the first batch of every
    fit/evaluate (``Engine.check_targets``: one host read, before any optimizer step); every step
    after that follows the plan they made.

    When there are several losses, each is also logged unweighted as ``<output>_loss``.
    """

    PER_OUTPUT = (dict, list, tuple)  # a sample_weight of one of these types holds one per output

    def __init__(self, form: str, outputs: Any):
        self.form = form
        self.outputs = outputs  # "one": [(loss, w)]; "list": [[(loss, w), ...]]; "dict": {k: [...]}
        items = self._spec_items()
        # (spec key, loss, weight): key None for "one", the index / dict key otherwise
        self.losses = [(key, loss, weight) for key, leaves in items for loss, weight in leaves]
        self.per_output = len(self.losses) > 1
        self.trackers: list[LossTracker] = (
            [LossTracker(f"{_key_name(key)}_loss") for key, _, _ in self.losses] if self.per_output else []
        )
        # The plan before the first batch: what the spec alone says (remade by ``bind``).
        self._plan = [(key, key, loss, weight, tracker) for (key, loss, weight), tracker
                      in zip(self.losses, self.trackers or [None] * len(self.losses))]  # type: ignore[list-item]  # no tracker: one loss
        self.single: Loss | None = None
        if form == "one" and self.losses[0][2] == 1.0:
            self.single = self.losses[0][1]  # one unweighted loss: called directly

    def _spec_items(self) -> list[tuple[Any, list]]:
        if self.form == "one":
            return [(None, self.outputs)]
        if self.form == "list":
            return list(enumerate(self.outputs))
        return list(self.outputs.items())

    def __call__(self, y_true, y_pred, sample_weight=None) -> torch.Tensor:
        if self.single is not None:
            return self.single(y_true, y_pred, sample_weight)
        n = batch_size_of(y_pred)
        total: Any = 0.0  # a tensor from the first loss on
        per_output_weights = type(sample_weight) in CompiledLoss.PER_OUTPUT
        for pred_key, true_key, loss, weight, tracker in self._plan:
            p = y_pred if pred_key is None else y_pred[pred_key]
            t = y_true if true_key is None else y_true[true_key]
            sw = sample_weight[pred_key] if per_output_weights else sample_weight
            value = loss(t, p, sw)
            if tracker is not None:
                tracker.update(value, n)
            total = total + weight * value
        return total

    # ------------------------------------------------------------------ the first batch

    @staticmethod
    def output_keys(y_pred: Any) -> list[Any]:
        """The model's outputs: ``[None]`` for one tensor, indices for a tuple, keys for a dict.

        A dict's keys come in Keras's order: sorted (an ``OrderedDict`` keeps its own). That order
        pairs a tuple of targets, or a list of losses, with a dict output, as in Keras 3.
        """
        if isinstance(y_pred, (tuple, list)):
            return list(range(len(y_pred)))
        if isinstance(y_pred, Mapping):
            if isinstance(y_pred, OrderedDict):
                return list(y_pred)
            try:
                return sorted(y_pred)
            except TypeError:
                return list(y_pred)
        return [None]

    @staticmethod
    def describe_outputs(y_pred: Any) -> str:
        """How the error messages name the model's outputs."""
        if isinstance(y_pred, (tuple, list)):
            return f"a {type(y_pred).__name__} of {len(y_pred)} outputs"
        if isinstance(y_pred, Mapping):
            return f"a dict of {len(y_pred)} outputs ({', '.join(map(repr, y_pred))})"
        return "a single tensor"

    def assign(self, y_pred: Any) -> list[tuple[Any, Loss, float, LossTracker | None]]:
        """Pair the losses with the outputs of ``y_pred``: ``(output key, loss, weight, tracker)``.

        Raises a ``ValueError`` naming ``loss`` when the spec does not fit the outputs.
        """
        outputs = self.output_keys(y_pred)
        n = len(outputs)
        where = self.describe_outputs(y_pred)
        if self.form == "one":
            if n > 1 and len(self.trackers) != n:  # as in Keras: the one loss applies to each output
                self.trackers = [LossTracker("loss") for _ in outputs]  # renamed per output below
            pairs = [(key, self.outputs) for key in outputs]
        elif self.form == "list":
            if len(self.outputs) != n:
                fix = ("pass the loss itself, not a list" if outputs == [None] else
                       "give one entry per output, None for an output without a loss")
                raise ValueError(
                    f"loss has {len(self.outputs)} entries but the model returns {where}: {fix}."
                )
            pairs = list(zip(outputs, self.outputs))
        else:
            if not isinstance(y_pred, Mapping):
                raise ValueError(
                    f"loss is a dict (keys {list(self.outputs)}) but the model returns {where}, "
                    "which has no names: pass a list with one loss per output, in order."
                )
            unknown = [key for key in self.outputs if key not in y_pred]
            if unknown:
                raise ValueError(
                    f"loss has an entry for {unknown[0]!r}, which is not one of the model's outputs "
                    f"({', '.join(map(repr, outputs))}). Key the loss dict like the dict the module "
                    "returns."
                )
            pairs = list(self.outputs.items())
        trackers = iter(self.trackers)
        assigned = []
        for key, leaves in pairs:
            for loss, weight in leaves:
                tracker = next(trackers, None)
                if tracker is not None:
                    tracker.name = f"{_key_name(key)}_loss"
                assigned.append((key, loss, weight, tracker))
        if not assigned:
            raise ValueError("loss gives no loss for any output (every entry is None); give at least one.")
        return assigned

    def bind(self, assigned, true_keys: Mapping[Any, Any], targets: Any, y_pred: Any) -> None:
        """Make the step plan from ``assign``'s pairs and the target of each output, then check the
        targets (the whole arrays when known) against the first batch's outputs."""
        plan = []
        for pred_key, loss, weight, tracker in assigned:
            true_key = true_keys[pred_key]
            t = targets if true_key is None else targets[true_key]
            p = y_pred if pred_key is None else y_pred[pred_key]
            resolve = getattr(loss, "resolve", None)
            if resolve is not None:  # "crossentropy": the variant follows the shapes
                loss = resolve(t, p)
            loss.check_targets(t, p)
            plan.append((pred_key, true_key, loss, weight, tracker))
        self._plan = plan
        first = plan[0]
        self.single = first[2] if (len(plan) == 1 and first[0] is None and first[1] is None
                                   and first[3] == 1.0 and first[4] is None) else None

    @staticmethod
    def target_keys(targets: Any, y_pred: Any, needed: list[Any]) -> dict[Any, Any]:
        """Where each output's target is in ``y``: output key -> index/key in ``y`` (``None``: all of it).

        As in Keras 3: targets shaped like the outputs pair by position or key; a bare array goes
        with the only output that needs a target; a tuple for a dict output pairs in the outputs'
        order; fewer targets than outputs pair, in order, with the outputs that have a loss or a
        metric. Anything else is a ``ValueError`` naming ``y``.
        """
        outputs = CompiledLoss.output_keys(y_pred)
        if outputs == [None]:
            return {None: None}  # one tensor: y goes to the loss as it is (a custom loss may take any y)
        where = CompiledLoss.describe_outputs(y_pred)
        how = ("pass one target per output: a tuple/list in the outputs' order"
               + (" or a dict keyed like the outputs." if isinstance(y_pred, Mapping) else "."))
        if isinstance(targets, (tuple, list)):
            m = len(targets)
            if outputs == [None]:
                if m == 1:
                    return {None: 0}
                raise ValueError(f"y holds {m} target arrays but the model returns {where}; pass one "
                                 "array as y.")
            if m == len(outputs):
                return {key: i for i, key in enumerate(outputs)}
            if m == len(needed):
                return {key: i for i, key in enumerate(needed)}
            raise ValueError(
                f"y holds {m} target arrays but the model returns {where} ({len(needed)} with a loss "
                f"or metric): the structures differ. {how}"
            )
        if isinstance(targets, Mapping):
            if not isinstance(y_pred, Mapping):
                raise ValueError(
                    f"y is a dict (keys {list(targets)}) but the model returns {where}, which has no "
                    f"names: {how}"
                )
            missing = [key for key in needed if key not in targets]
            if missing:
                raise ValueError(
                    f"y has no target for the output {missing[0]!r} (y's keys: {list(targets)}); "
                    "give every output with a loss or metric its target."
                )
            return {key: key for key in needed}
        if len(needed) == 1:
            return {needed[0]: None}
        raise ValueError(f"y is a single array but the model returns {where} with a loss or metric "
                         f"on {len(needed)} of them: {how}")

    def check_targets(self, y_true, y_pred) -> None:
        """Host-side checks of the targets against the outputs, per loss (``build`` runs them)."""
        for pred_key, true_key, loss, _, _ in self._plan:
            loss.check_targets(y_true if true_key is None else y_true[true_key],
                               y_pred if pred_key is None else y_pred[pred_key])


def _key_name(key: Any) -> str:
    return f"output_{key}" if isinstance(key, int) else str(key)


def batch_size_of(struct: Any) -> int:
    """The batch dimension of the first tensor in a (nested) structure."""
    if type(struct) is torch.Tensor:
        return struct.shape[0]
    while isinstance(struct, (tuple, list)):
        struct = struct[0]
    if isinstance(struct, Mapping):
        return batch_size_of(next(iter(struct.values())))
    return int(struct.shape[0])


class CompiledMetrics:
    """Metrics per output; unweighted ones ignore sample weights, weighted ones apply them.

    ``entries`` are ``(output key or None, metric, weighted)`` and ``names`` their log keys. Log
    names follow Keras 3: ``<output>_<metric>`` for multi-output models (no prefix when the model has
    one output, whatever its structure), a repeated name gets ``_1``, ``_2``, and a weighted metric
    that repeats an unweighted one is ``weighted_<name>``.

    ``forms`` says how each argument was written (``{"metrics": ("flat" | "list" | "dict", size)}``):
    a flat list is one metric per output when the model has that many outputs, as in Keras, so
    the pairing is settled by ``build`` on the first batch. Before that, entries follow the spec.
    """

    def __init__(self, entries: list[tuple[Any, Metric, bool]],
                 forms: Mapping[str, tuple[str, int]] | None = None):
        self.entries = entries  # (output key or None, metric, weighted)
        if forms is None:  # entries made without compile's spec: read the form off their keys
            forms = {}
            for weighted, argument in ((False, "metrics"), (True, "weighted_metrics")):
                keys = [key for key, _, w in entries if w == weighted]
                if all(key is None for key in keys):
                    forms[argument] = ("flat", len(keys))
                elif all(isinstance(key, int) for key in keys):
                    forms[argument] = ("list", max(keys) + 1)
                else:
                    forms[argument] = ("dict", len(set(keys)))
        self.forms = dict(forms)
        self._spec_entries = list(entries)
        self._plan = [(key, key, metric, weighted) for key, metric, weighted in entries]
        self.names = _log_names(entries)

    def update(self, y_true, y_pred, sample_weight) -> None:
        for pred_key, true_key, metric, weighted in self._plan:
            p = y_pred if pred_key is None else y_pred[pred_key]
            t = y_true if true_key is None else y_true[true_key]
            if not weighted:
                metric.update_state(t, p.detach(), None)
            elif type(sample_weight) in CompiledLoss.PER_OUTPUT:  # one weight array per output
                metric.update_state(t, p.detach(), sample_weight[pred_key])
            else:
                metric.update_state(t, p.detach(), sample_weight)

    def update_first(self, y_true, y_pred, sample_weight) -> None:
        """The first batch's update, run before the optimizer steps (Keras builds its metrics first).

        A kerasish metric that cannot take these outputs and targets raises a ``ValueError`` naming
        it; a user's metric raises its own exception unchanged. The step's own update of this batch
        is then skipped once, so the batch counts once.
        """
        per_output_weights = type(sample_weight) in CompiledLoss.PER_OUTPUT
        for (pred_key, true_key, metric, weighted), name in zip(self._plan, self.names):
            p = y_pred if pred_key is None else y_pred[pred_key]
            t = y_true if true_key is None else y_true[true_key]
            sw = None
            if weighted:
                sw = sample_weight[pred_key] if per_output_weights else sample_weight
            try:
                metric.update_state(t, p.detach(), sw)
            except (RuntimeError, IndexError) as error:
                if not self._builtin(metric):
                    raise
                shapes = [tuple(v.shape) if hasattr(v, "shape") else type(v).__name__ for v in (p, t)]
                raise ValueError(
                    f"metric {name!r} cannot compare the model's output of shape {shapes[0]} with "
                    f"targets of shape {shapes[1]}: {error}. Choose a metric that "
                    "fits these targets (e.g. 'accuracy' for class labels), or reshape the targets."
                ) from error
        self.update = self._skip_once  # type: ignore[method-assign]

    @staticmethod
    def _builtin(metric: Metric) -> bool:
        """A metric kerasish defines (not a user's callable, Keras object or torchmetrics object)."""
        from kerasish.metrics import KerasMetric, MeanMetricWrapper, TorchMetric

        if isinstance(metric, (KerasMetric, TorchMetric)):
            return False
        if isinstance(metric, MeanMetricWrapper) and metric.torch_style:
            return False
        return type(metric).__module__ == "kerasish.metrics"

    def _skip_once(self, y_true, y_pred, sample_weight) -> None:
        del self.update  # back to the class's update: no cost on later steps

    def reset(self) -> None:
        self.__dict__.pop("update", None)  # a first-batch skip left by a failed step
        for _, metric, _ in self.entries:
            metric.reset_state()

    def build(self, y_pred: Any) -> list[Any]:
        """Pair the metrics with the outputs of ``y_pred``; returns the output keys they need.

        Keras 3's rules: with one output every metric applies to it, unprefixed; with several, a
        list holds one entry (a metric or a list of them) per output and a dict is keyed by
        output name. Anything else is a ``ValueError`` naming the argument.
        """
        outputs = CompiledLoss.output_keys(y_pred)
        n = len(outputs)
        assigned: list[tuple[Any, Any, Metric, bool]] = []  # (output key, name key, metric, weighted)
        for weighted, argument in ((False, "metrics"), (True, "weighted_metrics")):
            group = [(key, metric) for key, metric, w in self._spec_entries if w == weighted]
            if not group:
                continue
            if n == 1:
                assigned += [(outputs[0], None, metric, weighted) for _, metric in group]
                continue
            form, size = self.forms.get(argument, ("list", None))
            where = CompiledLoss.describe_outputs(y_pred)
            if form == "dict":
                if not isinstance(y_pred, Mapping):
                    raise ValueError(
                        f"Invalid `{argument}`: it is a dict (keys {sorted({k for k, _ in group}, key=str)}) "
                        f"but the model returns {where}, which has no names. Pass a list with one "
                        "entry per output, in order."
                    )
                unknown = [key for key, _ in group if key not in y_pred]
                if unknown:
                    raise ValueError(
                        f"Invalid `{argument}`: it has an entry for {unknown[0]!r}, which is not one "
                        f"of the model's outputs ({', '.join(map(repr, outputs))})."
                    )
                order = {key: i for i, key in enumerate(outputs)}
                group.sort(key=lambda pair: order[pair[0]])  # Keras lists them in output order
                assigned += [(key, key, metric, weighted) for key, metric in group]
                continue
            if size != n:
                raise ValueError(
                    f"Invalid `{argument}`: it has {size} entries but the model returns {where}. "
                    "Give one entry (a metric or a list of metrics) per output, e.g. "
                    f"{argument}=[['mae'], ['accuracy']], or a dict keyed by output name."
                )
            if form == "flat":  # one metric per output
                assigned += [(outputs[i], outputs[i], metric, weighted)
                             for i, (_, metric) in enumerate(group)]
            else:
                assigned += [(outputs[key], outputs[key], metric, weighted) for key, metric in group]
        self._assigned = assigned
        self.entries = [(name_key, metric, weighted) for _, name_key, metric, weighted in assigned]
        self.names = _log_names(self.entries)
        return [pred_key for pred_key, _, _, _ in assigned]

    def bind(self, true_keys: Mapping[Any, Any]) -> None:
        """The step plan: ``build``'s pairs with the place of each output's target in ``y``."""
        self._plan = [(pred_key, true_keys[pred_key], metric, weighted)
                      for pred_key, _, metric, weighted in self._assigned]


def _log_names(entries: list[tuple[Any, Metric, bool]]) -> list[str]:
    counters: dict[str, int] = {"loss": 1}
    names = []
    for key, metric, weighted in entries:
        prefix = "" if key is None else f"{_key_name(key)}_"
        name = prefix + metric.name
        if name in counters and weighted:
            name = f"{prefix}weighted_{metric.name}"
        if name in counters:
            counters[name] += 1
            name = f"{name}_{counters[name] - 1}"
        counters.setdefault(name, 1)
        names.append(name)
    return names


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
        self._loss_fn: Callable[..., Any] | None = None if loss is None else (loss.single or loss)
        self.metrics = metrics
        self.device = device
        self.autocast_dtype = PRECISIONS[precision]
        self._direct_call = self.autocast_dtype is None and not self.keras
        # A Keras model with list outputs, compiled with losses or metrics keyed by output names:
        # its outputs are named (in its own order) for the loss and metrics, as Keras does.
        names = list(getattr(module, "output_names", None) or []) if self.keras else []
        keyed = (loss is not None and loss.form == "dict") or any(
            isinstance(key, str) for key, _, _ in metrics.entries)
        self.output_names = names if len(names) > 1 and keyed else None
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.accumulation = gradient_accumulation_steps
        self.loss_tracker = LossTracker("loss")
        use_scaler = self.autocast_dtype == torch.float16 and device.type in ("cuda", "cpu")
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.class_weight: torch.Tensor | None = None
        self._window = 0  # batches accumulated since the last optimizer step
        self.optimizer_steps = 0  # optimizer steps attempted (a Python count: no device read)
        self.counts_steps = True  # False while a custom step's optimizer steps are counted by a hook
        self._skipped: torch.Tensor | None = None  # did the scaler skip the last step (fp16)
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._plain = not use_scaler and self.accumulation == 1 and clipnorm is None and clipvalue is None
        self.checked_targets = False
        self.all_targets: Any = None  # the whole target arrays, when known, for the label check
        self._forward = self._forward_and_loss
        self._predict = self.raw_outputs
        self._step_optimizer = self._optimizer_step
        if jit_compile:
            self._forward = torch.compile(self._forward_and_loss)
            self._predict = torch.compile(self.raw_outputs)
            # A compiled step fuses the per-parameter update loops into one kernel: on a small
            # model it is most of what compiling saves (benchmarks/step_variants.py). A changed
            # learning rate recompiles once, after which torch treats it as a dynamic input.
            self._step_optimizer = torch.compile(self._optimizer_step)

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
            y_pred = module(x)  # the common case, without the helper frames (~1% of a tiny step)
        else:
            y_pred = self.outputs(x, module)
        if self.class_weight is not None:
            sample_weight = self.class_weight[_class_labels(y)]
        return y_pred, self._loss_fn(y, y_pred, sample_weight), sample_weight

    def _checked_forward_and_loss(self, module, x, y, sample_weight):
        """The first batch: everything that can fail on user input runs before the optimizer step.

        The targets are checked against the outputs (one host read), the loss is computed and the
        compiled metrics are updated with this batch here, so a loss, target or metric that does not
        fit raises while the weights are untouched; the step's own metric update of this batch is
        then skipped (``CompiledMetrics.update_first``).
        """
        y_pred = self.outputs(x, module)
        self.check_targets(y, y_pred)
        if self.class_weight is not None and isinstance(y_pred, torch.Tensor) and y_pred.dim() > 0:
            classes = y_pred.shape[-1] if y_pred.shape[-1] > 1 else 2  # (N, 1) outputs: labels 0/1
            if classes > self.class_weight.numel():  # classes class_weight leaves out weigh 1.0
                pad = torch.ones(classes - self.class_weight.numel(), device=self.class_weight.device)
                self.class_weight = torch.cat([self.class_weight, pad])
        sample_weight = self.class_sample_weight(y, sample_weight)
        loss = self._loss_fn(y, y_pred, sample_weight)
        if self.metrics.entries:
            self.metrics.update_first(y, y_pred, sample_weight)
        return y_pred, loss, sample_weight

    def check_targets(self, y, y_pred) -> None:
        """Pair losses, metrics, outputs and targets, and check the targets, once per fit/evaluate.

        Runs on the first batch's outputs, with the whole target arrays when they are known (one host
        read). Every mismatch is a ``ValueError``/``TypeError`` naming ``loss``, ``metrics`` or ``y``.
        """
        targets = self.all_targets if self.all_targets is not None else y
        if targets is None:
            raise ValueError(
                "y is None, but the compiled loss needs targets: pass y=... with array x, or data "
                "that yields (x, y) batches."
            )
        self.metrics.__dict__.pop("update", None)  # a first-batch skip left by a failed step
        outputs = CompiledLoss.output_keys(y_pred)
        assert self.loss is not None  # only called for a compiled loss
        assigned = self.loss.assign(y_pred)
        wanted = {key for key, _, _, _ in assigned} | set(self.metrics.build(y_pred))
        true_keys = CompiledLoss.target_keys(targets, y_pred, [k for k in outputs if k in wanted])
        self.loss.bind(assigned, true_keys, targets, y_pred)
        self.metrics.bind(true_keys)
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
        self.result_fns()  # the running results' keys follow the pairing just made
        self.checked_targets = True

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

    # ------------------------------------------------------------------ steps

    def train_step(self, x, y, sample_weight) -> None:
        """The fused default training step: what ``Model.train_step`` does, without its frames."""
        forward = self._forward if self.checked_targets else self._checked_forward_and_loss
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
        if self.metrics.entries:
            self.metrics.update(y, y_pred, sample_weight)

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
            _average_gradients_across_ranks(self._params)  # an epoch's unfinished window
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

    @torch.inference_mode()
    def test_step(self, x, y, sample_weight) -> None:
        forward = self._forward if self.checked_targets else self._checked_forward_and_loss
        y_pred, loss, sample_weight = forward(self.module, x, y, sample_weight)
        self.loss_tracker.update(loss, batch_size_of(y_pred))
        self.metrics.update(y, y_pred, sample_weight)

    @torch.inference_mode()
    def predict_step(self, x) -> Any:
        return self._predict(x)

    # ------------------------------------------------------------------ results

    def reset_metrics(self) -> None:
        self.loss_tracker.reset_state()
        for tracker in self.loss.trackers if self.loss is not None else []:
            tracker.reset_state()
        self.metrics.reset()

    def all_reduce_results(self, group) -> None:
        """Sum the running totals over all ranks (epoch end only), so logs agree everywhere.

        The loss trackers and every metric that declares its state with ``summed_state()`` (``Mean``,
        the confusion metrics, ``F1Score``, Keras metric objects, a user's metric) are summed in one
        collective and handed back with ``load_summed_state``; torchmetrics objects synchronise
        themselves in ``compute()``, and a metric that declares nothing keeps its rank's value.
        A metric's state must have the same shape on every rank: a shape known only after a batch
        (``F1Score``) on a rank that saw none is reported as a clear error, not a hang.
        """
        trackers = [self.loss_tracker, *(self.loss.trackers if self.loss is not None else [])]
        zero = torch.zeros((), device=self.device)
        states = []
        for tracker in trackers:
            states += [zero if tracker.total is None else tracker.total, zero + tracker.count]
        reduced: list[tuple[str, Metric, list[torch.Tensor]]] = []
        for name, (_, metric, _) in zip(self.metrics.names, self.metrics.entries):
            state = metric.summed_state()
            if state is not None:
                reduced.append((name, metric, [torch.as_tensor(t).to(self.device) for t in state]))
        if reduced:  # summing tensors of different sizes would fail obscurely or hang: compare first
            shapes = [[tuple(t.shape) for t in state] for _, _, state in reduced]
            everywhere = group.gather(shapes)  # one small collective, epoch end only
            for i, (name, _, _) in enumerate(reduced):
                seen = sorted({repr(rank_shapes[i]) for rank_shapes in everywhere})
                if len(seen) > 1:
                    raise ValueError(
                        f"metric {name!r} holds state of different shapes on different ranks "
                        f"({', '.join(seen)}), so it cannot be summed across ranks. A metric whose "
                        "state shape is known only after its first batch (e.g. F1Score) saw no batch "
                        "on some rank: give every rank at least one batch (more samples than processes)."
                    )
        for _, _, state in reduced:
            states += state
        summed = group.all_reduce_sum(states)
        for i, tracker in enumerate(trackers):
            tracker.total, tracker.count = summed[2 * i].reshape(()), int(summed[2 * i + 1].item())
        offset = 2 * len(trackers)
        for _, metric, state in reduced:
            metric.load_summed_state([summed[offset + i].reshape(t.shape) for i, t in enumerate(state)])
            offset += len(state)

    def metric_objects(self) -> list[Metric]:
        """The compiled metrics and loss trackers, whose results ``result_fns`` already lists."""
        trackers = self.loss.trackers if self.loss is not None else []
        return [self.loss_tracker, *trackers, *(m for _, m, _ in self.metrics.entries)]

    def result_fns(self) -> dict[str, Callable[[], torch.Tensor]]:
        """Log key -> a function returning the running value as a 0-d tensor (no host read).

        Every call returns the same dict, refreshed: the first batch settles which output each
        metric belongs to (and so its key), and a loop that took the dict before it sees the keys.
        """
        fns: dict[str, Callable[[], torch.Tensor]] | None = self.__dict__.get("_result_fns")
        if fns is None:
            fns = {}
            self._result_fns = fns
        fns.clear()
        fns["loss"] = self.loss_tracker.result
        for tracker in self.loss.trackers if self.loss is not None else []:
            fns[tracker.name] = tracker.result
        for name, (_, metric, _) in zip(self.metrics.names, self.metrics.entries):
            fns[name] = metric.result
        return fns


def _average_gradients_across_ranks(params: Sequence[torch.Tensor]) -> None:
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def _class_labels(y: torch.Tensor) -> torch.Tensor:
    """Class indices for ``class_weight``: integer labels, one-hot rows, or 0/1 binary targets."""
    if y.dim() > 1 and y.shape[-1] > 1:
        return y.argmax(dim=-1)
    if y.dim() > 1:
        y = y.squeeze(-1)
    return y.long() if not y.is_floating_point() else y.round().long()


def materialize(values: Mapping[str, Any]) -> dict[str, float]:
    """Turn running results into Python floats with a single host read.

    ``values`` maps log keys to 0-d tensors, numbers, or functions returning either (the running
    results of the default step); tensors are read together in one transfer.
    """
    if not values:
        return {}
    resolved = {k: v() if callable(v) else v for k, v in values.items()}
    tensors = {k: v for k, v in resolved.items() if isinstance(v, torch.Tensor)}
    floats = {k: float(v) for k, v in resolved.items() if k not in tensors}
    if tensors:
        flat = [t.detach().float().reshape(()) for t in tensors.values()]
        device = flat[0].device
        floats.update(zip(tensors, torch.stack([t.to(device) for t in flat]).tolist()))
    return {k: floats[k] for k in resolved}


class LazyLogs(MutableMapping):
    """Batch logs whose values are read from the device only when a callback looks at them.

    A fit whose callbacks never read batch logs therefore performs no host read per step. The
    values are computed at the first read, which callbacks do inside their hook; all keys are read
    together in one transfer. It behaves as a mutable mapping (callbacks may add, change or pop
    keys, as Keras callbacks do with a dict), and ``copy()`` returns a plain dict.
    """

    __slots__ = ("_fns", "_values", "_extra")

    def __init__(self, fns: Mapping[str, Any]):
        self._fns = fns
        self._values: dict[str, Any] | None = None
        self._extra: dict[str, Any] = {}  # keys set before any read: adding one costs no read

    def _materialized(self) -> dict[str, Any]:
        if self._values is None:
            values = materialize(self._fns)
            values.update(self._extra)
            self._values = values
        return self._values

    def __getitem__(self, key: str) -> Any:
        if self._values is None and key in self._extra:
            return self._extra[key]
        return self._materialized()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if self._values is None:
            self._extra[key] = value
        else:
            self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._materialized()[key]

    def _keys(self):
        if self._values is not None:
            return self._values.keys()
        return list(self._fns) + [k for k in self._extra if k not in self._fns]

    def __iter__(self):
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __contains__(self, key: object) -> bool:
        return key in self._keys()

    def copy(self) -> dict[str, Any]:
        return dict(self._materialized())

    def __repr__(self) -> str:
        return f"LazyLogs({dict(self)!r})"
