"""What ``compile`` builds: the total loss, the compiled metrics and their running results.

Keras keeps these in ``trainers/compile_utils.py``. The model's output structure is known only once
it has run, so each object pairs itself with the outputs and the targets on the first batch of a
fit or evaluate (``assign``/``build``, then ``bind``) and records the pairing as a plan of named
records; every later step follows that plan without re-deciding anything.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch

from kerasish.losses import Loss
from kerasish.metrics import KerasMetric, MeanMetricWrapper, Metric, TorchMetric


class LossTracker(Metric):
    """Running, batch-size-weighted mean of the loss, kept on the device (Keras's loss tracker).

    One fused ``add_`` per step; the sample count is a Python int because it is known on the host.
    It is a ``ks.metrics.Metric``, so it appears in ``model.metrics`` and a custom step may call
    ``update_state(loss, sample_weight=batch_size)`` on it as Keras's guide does.

    ``compute_loss`` adds its loss here (kerasish's contract, so a step written with
    ``compute_loss`` and ``compute_metrics`` logs its loss), Keras's does not: Keras's guide steps
    then call ``update_state(loss)`` themselves. So that such a step logs Keras's numbers, the
    first ``update_state`` of a step withdraws what ``compute_loss`` added in that step
    (``begin_step`` marks where a step starts).
    """

    def __init__(self, name: str = "loss"):
        super().__init__(name)
        self.total: torch.Tensor | None = None
        self.count = 0
        self._pending: list[tuple[torch.Tensor, int]] = []  # compute_loss's additions this step

    def update(self, loss: torch.Tensor, batch_size: int) -> None:
        if self.total is None:
            self.total = torch.zeros((), device=loss.device)
        self.total.add_(loss.detach(), alpha=batch_size)
        self.count += batch_size

    def update_from_compute_loss(self, loss: torch.Tensor, batch_size: int) -> None:
        """``update``, withdrawn again if the step then calls ``update_state`` itself."""
        self.update(loss, batch_size)
        self._pending.append((loss.detach(), batch_size))

    def begin_step(self) -> None:
        """A custom step starts: ``compute_loss``'s additions before it stay counted."""
        self._pending.clear()

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        """Add a loss value; ``sample_weight`` is its weight (Keras passes the batch size)."""
        for loss, batch_size in self._pending:  # the step tracks its loss itself, as in Keras
            assert self.total is not None
            self.total.sub_(loss, alpha=batch_size)
            self.count -= batch_size
        self._pending.clear()
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
        self._pending.clear()


class PlainMetricView(Metric):
    """A compiled ``metrics=`` entry as ``model.metrics`` lists it: ``update_state`` gives it no
    sample weights.

    Keras's ``model.metrics`` holds its compiled metrics in one ``compile_metrics`` object whose
    ``update_state(y, y_pred, sample_weight)`` weights only ``weighted_metrics``; the guides'
    custom steps call it for every metric. kerasish lists the metrics one by one, so each plain
    one is shown through this view, which drops ``sample_weight`` as Keras does; its result and
    reset are the metric's own, and its state is ``compiled``'s (what a training state saves).
    """

    def __init__(self, metric: Metric):
        super().__init__(metric.name)
        self.compiled = metric

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self.compiled.update_state(y_true, y_pred, None)

    def result(self) -> Any:
        return self.compiled.result()

    def reset_state(self) -> None:
        self.compiled.reset_state()

    def running_state(self) -> dict[str, Any]:
        return self.compiled.running_state()

    def load_running_state(self, state: dict[str, Any], device: torch.device) -> None:
        self.compiled.load_running_state(state, device)


class LossLeaf(NamedTuple):
    """One loss of the spec: where ``compile`` put it (``key``: ``None``, an index or a dict key)."""

    key: Any
    loss: Loss
    weight: float


class AssignedLoss(NamedTuple):
    """A loss paired with an output of the first batch (``CompiledLoss.assign``)."""

    output: Any
    loss: Loss
    weight: float
    tracker: LossTracker | None


class LossPlan(NamedTuple):
    """What a step does for one loss: ``loss(y[target], y_pred[output])`` times ``weight``."""

    output: Any  # None: the whole y_pred
    target: Any  # None: the whole y
    loss: Loss
    weight: float
    tracker: LossTracker | None  # logs the loss unweighted, when there are several
    position: Any  # the output's place, for sample weights given as a list (None: one output)


class MetricEntry(NamedTuple):
    """A compiled metric with the output key it is logged under (``None``: the only output)."""

    key: Any
    metric: Metric
    weighted: bool


class AssignedMetric(NamedTuple):
    """A metric paired with an output of the first batch (``CompiledMetrics.build``)."""

    output: Any
    name_key: Any  # the key its log name is prefixed with (None: no prefix)
    metric: Metric
    weighted: bool


class MetricPlan(NamedTuple):
    """What a step does for one metric: ``metric.update_state(y[target], y_pred[output], sw)``."""

    output: Any
    target: Any
    metric: Metric
    weighted: bool
    position: Any  # the output's place, for sample weights given as a list (None: one output)


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
        self.losses = [LossLeaf(key, loss, weight) for key, leaves in items for loss, weight in leaves]
        self.per_output = len(self.losses) > 1
        self.trackers: list[LossTracker] = (
            [LossTracker(f"{key_name(leaf.key)}_loss") for leaf in self.losses] if self.per_output else []
        )
        # The plan before the first batch: what the spec alone says (remade by ``bind``).
        trackers: list[LossTracker | None] = list(self.trackers) or [None] * len(self.losses)
        self._plan = [LossPlan(leaf.key, leaf.key, leaf.loss, leaf.weight, tracker, leaf.key)
                      for leaf, tracker in zip(self.losses, trackers)]
        self.single: Loss | None = None
        if form == "one" and self.losses[0].weight == 1.0:
            self.single = self.losses[0].loss  # one unweighted loss: called directly

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
        for pred_key, true_key, loss, weight, tracker, position in self._plan:
            p = y_pred if pred_key is None else y_pred[pred_key]
            t = y_true if true_key is None else y_true[true_key]
            sw = output_weights(sample_weight, pred_key, position) if per_output_weights else sample_weight
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

    def assign(self, y_pred: Any, by_loss: bool = False) -> list[AssignedLoss]:
        """Pair the losses with the outputs of ``y_pred``: ``(output key, loss, weight, tracker)``.

        ``by_loss``: the outputs are a Keras model's unnamed list outputs, whose per-output losses
        Keras logs after the loss (``mse_loss``; two alike share the key), not after the place.
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
        assigned: list[AssignedLoss] = []
        for key, leaves in pairs:
            for loss, weight in leaves:
                tracker = next(trackers, None)
                if tracker is not None:
                    named_by_loss = by_loss and isinstance(key, int)
                    tracker.name = f"{loss.name if named_by_loss else key_name(key)}_loss"
                assigned.append(AssignedLoss(key, loss, weight, tracker))
        if not assigned:
            raise ValueError("loss gives no loss for any output (every entry is None); give at least one.")
        return assigned

    def bind(self, assigned: list[AssignedLoss], true_keys: Mapping[Any, Any], targets: Any,
             y_pred: Any) -> None:
        """Make the step plan from ``assign``'s pairs and the target of each output, then check the
        targets (the whole arrays when known) against the first batch's outputs."""
        positions = {key: i for i, key in enumerate(self.output_keys(y_pred))}
        plan = []
        for pred_key, loss, weight, tracker in assigned:
            true_key = true_keys[pred_key]
            t = targets if true_key is None else targets[true_key]
            p = y_pred if pred_key is None else y_pred[pred_key]
            resolve = getattr(loss, "resolve", None)
            if resolve is not None:  # "crossentropy": the variant follows the shapes
                loss = resolve(t, p)
            loss.check_targets(t, p)
            plan.append(LossPlan(pred_key, true_key, loss, weight, tracker, positions[pred_key]))
        self._plan = plan
        first = plan[0]
        self.single = first.loss if (len(plan) == 1 and first.output is None and first.target is None
                                     and first.weight == 1.0 and first.tracker is None) else None

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
        for plan in self._plan:
            plan.loss.check_targets(y_true if plan.target is None else y_true[plan.target],
                                    y_pred if plan.output is None else y_pred[plan.output])


def output_weights(sample_weight: Any, output: Any, position: Any) -> Any:
    """One output's sample weights out of per-output ones: a dict by the output's key, a list or
    tuple by the output's place (named outputs take their weights in the outputs' order)."""
    if type(sample_weight) is dict:
        return sample_weight[output]
    return sample_weight[output if position is None else position]


def key_name(key: Any) -> str:
    """How an output's key prefixes its log keys: ``output_0`` for a position, the name for a key."""
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

    ``entries`` are ``MetricEntry`` records and ``names`` their log keys. Log
    names follow Keras 3: ``<output>_<metric>`` for multi-output models (no prefix when the model has
    one output, whatever its structure), a repeated name gets ``_1``, ``_2``, and a weighted metric
    that repeats an unweighted one is ``weighted_<name>``.

    ``forms`` says how each argument was written (``{"metrics": ("flat" | "list" | "dict", size)}``):
    a flat list is one metric per output when the model has that many outputs, as in Keras, so
    the pairing is settled by ``build`` on the first batch. Before that, entries follow the spec.
    """

    def __init__(self, entries: list[MetricEntry] | list[tuple[Any, Metric, bool]],
                 forms: Mapping[str, tuple[str, int]] | None = None):
        entries = [MetricEntry(*entry) for entry in entries]
        self.entries: list[MetricEntry] = entries
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
        self._plan = [MetricPlan(key, key, metric, weighted, key) for key, metric, weighted in entries]
        self._assigned: list[AssignedMetric] = []
        self.names = log_names(entries)

    def update(self, y_true, y_pred, sample_weight) -> None:
        for pred_key, true_key, metric, weighted, position in self._plan:
            p = y_pred if pred_key is None else y_pred[pred_key]
            t = y_true if true_key is None else y_true[true_key]
            if not weighted:
                metric.update_state(t, p.detach(), None)
            elif type(sample_weight) in CompiledLoss.PER_OUTPUT:  # one weight array per output
                metric.update_state(t, p.detach(), output_weights(sample_weight, pred_key, position))
            else:
                metric.update_state(t, p.detach(), sample_weight)

    def update_checked(self, y_true, y_pred, sample_weight) -> None:
        """``update`` for the first batch, which runs before the optimizer steps (Keras builds its
        metrics first): a metric that cannot take these outputs and targets raises a
        ``ValueError`` naming it (a user's or torchmetrics metric's own error as its cause).

        The first step calls this instead of ``update``, so the batch counts once.
        """
        per_output_weights = type(sample_weight) in CompiledLoss.PER_OUTPUT
        for (pred_key, true_key, metric, weighted, position), name in zip(self._plan, self.names):
            p = y_pred if pred_key is None else y_pred[pred_key]
            t = y_true if true_key is None else y_true[true_key]
            sw = None
            if weighted and per_output_weights:
                sw = output_weights(sample_weight, pred_key, position)
            elif weighted:
                sw = sample_weight
            try:
                metric.update_state(t, p.detach(), sw)
            except (RuntimeError, IndexError, ValueError, TypeError) as error:
                builtin = _builtin(metric)
                if builtin and isinstance(error, (ValueError, TypeError)):
                    raise  # kerasish's own metrics already name themselves and the fix
                shapes = [tuple(v.shape) if hasattr(v, "shape") else type(v).__name__ for v in (p, t)]
                if not builtin:  # a user's or torchmetrics metric: named, its error kept as cause
                    raise ValueError(
                        f"metric {name!r} failed on the first batch, before any weight changed "
                        f"(output of shape {shapes[0]}, targets of shape {shapes[1]}): "
                        f"{type(error).__name__}: {error}. Fix the metric or choose one that fits "
                        "these targets."
                    ) from error
                raise ValueError(
                    f"metric {name!r} cannot compare the model's output of shape {shapes[0]} with "
                    f"targets of shape {shapes[1]}: {error}. Choose a metric that "
                    "fits these targets (e.g. 'accuracy' for class labels), or reshape the targets."
                ) from error

    def build(self, y_pred: Any, prefix_positions: bool = True) -> list[Any]:
        """Pair the metrics with the outputs of ``y_pred``; returns the output keys they need.

        Keras 3's rules: with one output every metric applies to it, unprefixed; with several, a
        list holds one entry (a metric or a list of them) per output and a dict is keyed by
        output name. Anything else is a ``ValueError`` naming the argument.
        ``prefix_positions=False``: the outputs are a Keras model's unnamed list outputs, whose
        metrics Keras logs unprefixed (``mae``, then ``mae_1`` for a second one).
        """
        outputs = CompiledLoss.output_keys(y_pred)
        n = len(outputs)
        assigned: list[AssignedMetric] = []
        for weighted, argument in ((False, "metrics"), (True, "weighted_metrics")):
            group = [(key, metric) for key, metric, w in self._spec_entries if w == weighted]
            if not group:
                continue
            if n == 1:
                assigned += [AssignedMetric(outputs[0], None, metric, weighted) for _, metric in group]
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
                assigned += [AssignedMetric(key, key, metric, weighted) for key, metric in group]
                continue
            if size != n:
                raise ValueError(
                    f"Invalid `{argument}`: it has {size} entries but the model returns {where}. "
                    "Give one entry (a metric or a list of metrics) per output, e.g. "
                    f"{argument}=[['mae'], ['accuracy']], or a dict keyed by output name."
                )
            def prefix(key: Any) -> Any:
                return key if prefix_positions or not isinstance(key, int) else None

            if form == "flat":  # one metric per output
                assigned += [AssignedMetric(outputs[i], prefix(outputs[i]), metric, weighted)
                             for i, (_, metric) in enumerate(group)]
            else:
                assigned += [AssignedMetric(outputs[key], prefix(outputs[key]), metric, weighted)
                             for key, metric in group]
        self._assigned = assigned
        self.entries = [MetricEntry(a.name_key, a.metric, a.weighted) for a in assigned]
        self.names = log_names(self.entries)
        return [a.output for a in assigned]

    def bind(self, true_keys: Mapping[Any, Any], positions: Mapping[Any, int]) -> None:
        """The step plan: ``build``'s pairs with the place of each output's target in ``y`` (and
        of its sample weights in a list of them)."""
        self._plan = [MetricPlan(a.output, true_keys[a.output], a.metric, a.weighted,
                                 positions[a.output]) for a in self._assigned]


def log_names(entries: list[MetricEntry]) -> list[str]:
    """Keras 3's log keys for the metrics: output prefix, ``weighted_`` for a repeat, ``_1``, ``_2``."""
    counters: dict[str, int] = {"loss": 1}
    names = []
    for key, metric, weighted in entries:
        prefix = "" if key is None else f"{key_name(key)}_"
        name = prefix + metric.name
        if name in counters and weighted:
            name = f"{prefix}weighted_{metric.name}"
        if name in counters:
            counters[name] += 1
            name = f"{name}_{counters[name] - 1}"
        counters.setdefault(name, 1)
        names.append(name)
    return names




def _builtin(metric: Metric) -> bool:
    """A metric kerasish defines (not a user's callable, Keras object or torchmetrics object)."""
    if isinstance(metric, (KerasMetric, TorchMetric)):
        return False
    if isinstance(metric, MeanMetricWrapper) and metric.torch_style:
        return False
    return type(metric).__module__.startswith("kerasish.metrics")
