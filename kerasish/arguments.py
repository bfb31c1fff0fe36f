"""Checking and normalising what users pass to ``compile``, ``fit``, ``evaluate`` and ``predict``.

Each check raises a ``ValueError``/``TypeError`` that names the argument and the fix, and runs before
the first optimizer step, so bad input never changes a weight. ``model.py`` calls these and keeps
only the user-facing API and the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch

from kerasish import data as data_lib
from kerasish.checks import check_int, is_int
from kerasish.losses import get_loss
from kerasish.metrics import TorchMetric, get_metric
from kerasish.trainer.compile_utils import CompiledLoss, CompiledMetrics
from kerasish.tree import map_structure


def compile_loss(loss: Any, loss_weights: Any) -> CompiledLoss:
    """``compile``'s ``loss`` and ``loss_weights`` as a ``CompiledLoss``, in the forms Keras 3 takes.

    One loss; a list with one entry per output; or a dict keyed like a dict output. An entry may be
    ``None`` (no loss for that output), a loss, or a list of losses for that output (Keras unwraps
    ``["mse"]``). ``loss_weights`` is one number for one loss, a list (one weight per entry, or per
    loss when entries hold several) or a dict. Which output each loss meets is settled on the first
    batch, when the outputs are known.
    """
    if isinstance(loss, Mapping):
        if loss_weights is not None and not isinstance(loss_weights, Mapping):
            raise TypeError(
                f"loss_weights must be a dict keyed like loss when loss is a dict; got "
                f"{type(loss_weights).__name__}."
            )
        weights: Any = loss_weights or {}
        return CompiledLoss("dict", {key: _loss_leaves(value, [float(weights.get(key, 1.0))], key)
                                     for key, value in loss.items()})
    if isinstance(loss, (list, tuple)):
        counts = [len(_entry_items(entry)) for entry in loss]
        if loss_weights is None:
            weights = [[1.0] * count for count in counts]
        else:
            flat = [float(w) for w in loss_weights]
            if len(flat) == len(loss):
                weights = [[w] * count for w, count in zip(flat, counts)]
            elif len(flat) == sum(counts):  # Keras pairs flat weights with the flattened losses
                it = iter(flat)
                weights = [[next(it) for _ in range(count)] for count in counts]
            else:
                raise ValueError(
                    f"loss_weights has {len(flat)} entries but loss has {len(loss)}; give one "
                    "weight per output."
                )
        return CompiledLoss("list", [_loss_leaves(entry, w, i)
                                     for i, (entry, w) in enumerate(zip(loss, weights))])
    if loss_weights is not None and not isinstance(loss_weights, (int, float, np.integer, np.floating)):
        raise TypeError(
            "loss_weights must be one number when loss is a single loss; got "
            f"{type(loss_weights).__name__}. Give loss a list or dict to weight several outputs."
        )
    weight = 1.0 if loss_weights is None else float(loss_weights)
    return CompiledLoss("one", [(get_loss(loss), weight)])


def _entry_items(entry: Any) -> list:
    """The losses of one output's entry: none, one, or the items of a list."""
    if entry is None:
        return []
    if isinstance(entry, (list, tuple)):
        return [item for item in entry if item is not None]
    return [entry]


def _loss_leaves(entry: Any, weights: list[float], key: Any) -> list:
    items = _entry_items(entry)
    for item in items:
        if isinstance(item, (list, tuple, Mapping)):
            raise TypeError(
                f"loss entry {key!r} nests a {type(item).__name__} inside a list; give each output "
                "a loss, a list of losses or None (deeper structures are not supported)."
            )
    weights = weights if len(weights) == len(items) else [weights[0]] * len(items)
    return [(get_loss(item), weight) for item, weight in zip(items, weights)]


def compile_metrics(metrics: Any, weighted_metrics: Any) -> CompiledMetrics:
    """``compile``'s ``metrics`` and ``weighted_metrics`` as a ``CompiledMetrics``.

    Each is a list (for one output, or with one entry per output: a metric or a list of them), or
    a dict keyed by output name, as in Keras 3; which output each metric meets is settled on the
    first batch.
    """
    forms = {}
    for argument, spec in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
        if isinstance(spec, Mapping):
            forms[argument] = ("dict", len(spec))
        elif isinstance(spec, (list, tuple)):
            nested = any(isinstance(s, (list, tuple)) for s in spec)
            forms[argument] = ("list" if nested else "flat", len(spec))
    return CompiledMetrics(metric_entries(metrics, weighted=False)
                           + metric_entries(weighted_metrics, weighted=True), forms)


def metric_entries(spec: Any, weighted: bool) -> list:
    """``(output key or None, metric, weighted)`` for each metric of ``metrics``/``weighted_metrics``."""
    argument = "weighted_metrics" if weighted else "metrics"
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        pairs = [(key, value) for key, value in spec.items()]
    elif isinstance(spec, (list, tuple)) and any(isinstance(s, (list, tuple)) for s in spec):
        pairs = list(enumerate(spec))  # one entry per output: a metric or a list of metrics
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
        for metric in (m for item in specs for m in _expanded(item)):
            if weighted and isinstance(metric, TorchMetric):
                raise TypeError(
                    f"weighted_metrics cannot hold the torchmetrics object {metric.name!r}: "
                    "torchmetrics takes no sample weights. Put it in metrics instead."
                )
            entries.append((key, metric, weighted))
    return entries


def _expanded(item: Any) -> list:
    """One metric spec as ``ks.metrics`` objects: a torchmetrics ``MetricCollection`` gives one
    ``TorchMetric`` per member, logged under the collection's key for it (prefix and postfix
    included; a member given in a list keeps kerasish's snake_case name of its class)."""
    if type(item).__name__ == "MetricCollection" and type(item).__module__.startswith("torchmetrics"):
        members = list(item.items(keep_base=False, copy_state=False))
        if not members:
            raise ValueError("metrics holds an empty torchmetrics MetricCollection; add metrics to it "
                             "or leave it out.")
        return [TorchMetric(metric, name=None if key == type(metric).__name__ else key)
                for key, metric in members]
    return [get_metric(item)]


def describe(loss: Any) -> Any:
    """``compile``'s ``loss`` with each loss as its name, in the same structure (``compile_config``)."""
    return map_structure(_loss_name, loss)


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose in (0, 1, 2) and not isinstance(verbose, float):
        return int(verbose)
    raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; got {verbose!r}.")


def check_evaluate_predict(x: Any, batch_size: Any, verbose: Any,
                           steps: Any) -> tuple[int, int | None, int | None]:
    """The argument checks ``evaluate`` and ``predict`` share, before any batch runs.

    Returns:
        ``(verbose, batch_size, steps)``: ``verbose`` as 0, 1 or 2, the others as Python ints or
        ``None``, so a NumPy integer does not reach the data pipeline or the callbacks' params.

    Raises:
        ValueError: naming the argument, for a bad ``verbose``, ``batch_size`` or ``steps``, or a
            ``batch_size`` given with a DataLoader (which batches itself).
    """
    verbose = check_verbose(verbose)
    batch_size = check_int(batch_size, "batch_size", least=1, allow_none=True)
    steps = check_int(steps, "steps", least=1, allow_none=True)
    no_batch_size_for_iterables(x, batch_size)
    return verbose, batch_size, steps


def check_class_weight(class_weight: Any, sample_weight: Any) -> None:
    """``fit``'s weights: ``sample_weight`` holds numbers (``check_sample_weight``), and
    ``class_weight`` (not given together with it) maps class indices to finite numbers."""
    check_sample_weight(sample_weight)
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
    for key, weight in class_weight.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)) \
                or not np.isfinite(weight):
            raise ValueError(
                f"class_weight[{key!r}] must be a finite number; got {weight!r}. A NaN or infinite "
                "class weight makes the loss and then every weight NaN: give each class a number "
                "such as {0: 1.0, 1: 5.0}."
            )
        integral = isinstance(key, (int, np.integer)) or (
            isinstance(key, (float, np.floating)) and float(key).is_integer())
        if isinstance(key, bool) or not integral or key < 0:
            raise ValueError(
                f"class_weight keys must be class indices (integers >= 0); got {key!r}. Key the "
                "dict by the label each weight applies to: {0: 1.0, 1: 5.0}."
            )


def check_sample_weight(sample_weight: Any) -> None:
    """Every array of ``sample_weight`` holds numbers (a ``TypeError`` naming it, before any step).

    NumPy arrays of strings or objects (weights read from a CSV column) would otherwise fail deep
    in torch's conversion with a message that names no argument.
    """
    for leaf in _sample_weight_leaves(sample_weight):
        if isinstance(leaf, torch.Tensor):
            numeric = not leaf.is_complex()
        else:
            kind = np.asarray(leaf).dtype.kind if isinstance(leaf, (np.ndarray, list)) else None
            numeric = kind is None or kind in "biuf"
        if not numeric:
            dtype = leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
            raise TypeError(
                f"sample_weight must hold numbers, one weight per sample; got an array of dtype "
                f"{dtype}. Convert it first, e.g. sample_weight.astype('float32')."
            )


def _sample_weight_leaves(sample_weight: Any) -> list:
    if sample_weight is None:
        return []
    if isinstance(sample_weight, Mapping):
        return [leaf for value in sample_weight.values() for leaf in _sample_weight_leaves(value)]
    if isinstance(sample_weight, tuple) or (
            isinstance(sample_weight, list) and sample_weight
            and all(hasattr(item, "shape") or isinstance(item, list) for item in sample_weight)):
        return [leaf for value in sample_weight for leaf in _sample_weight_leaves(value)]
    return [sample_weight]


def check_validation_split(validation_split: Any, x: Any, needs_arrays: bool) -> None:
    if isinstance(validation_split, bool) or not isinstance(
            validation_split, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"validation_split must be a number between 0 and 1 (e.g. 0.2); got "
            f"{type(validation_split).__name__} {validation_split!r}."
        )
    if not 0.0 < validation_split < 1.0:
        raise ValueError(
            f"validation_split must lie strictly between 0 and 1; got {validation_split}."
        )
    if needs_arrays and not data_lib.is_array_like(x):
        raise ValueError(
            "validation_split needs NumPy arrays or tensors as x (it takes the last fraction of "
            f"them); got {type(x).__name__}. Pass validation_data instead."
        )


def check_targets_given(x: Any, y: Any, method: str) -> None:
    """Array ``x`` without ``y`` for a compiled loss: a ``ValueError`` naming ``y`` before any step."""
    if y is None and data_lib.is_array_like(x):
        raise ValueError(
            f"{method}() got arrays as x but y is None, and the compiled loss needs targets: pass "
            "y=..., or give x as a Dataset/DataLoader/iterable yielding (x, y) batches."
        )


def no_batch_size_for_iterables(x: Any, batch_size: int | None) -> None:
    if batch_size is not None and isinstance(x, torch.utils.data.DataLoader):
        raise ValueError(
            "batch_size must be None when x is a DataLoader: the loader already batches. Set the "
            "batch size on the DataLoader, or pass its Dataset and batch_size instead."
        )


def validation_schedule(validation_freq: Any) -> Callable[[int], bool]:
    if is_int(validation_freq):
        every = check_int(validation_freq, "validation_freq", least=1)
        return lambda epoch: (epoch + 1) % every == 0
    if isinstance(validation_freq, (list, tuple, set, range)):
        epochs = set(validation_freq)
        return lambda epoch: (epoch + 1) in epochs
    raise ValueError(
        "validation_freq must be an integer (validate every N epochs) or a list of 1-based epochs; "
        f"got {validation_freq!r}."
    )


class FitCounts(NamedTuple):
    """``fit``'s counts, checked: ``None`` where the user left one to its default."""

    batch_size: int | None
    steps_per_epoch: int | None
    validation_batch_size: int | None
    validation_steps: int | None
    epochs: int
    initial_epoch: int


def check_fit_counts(batch_size: Any, steps_per_epoch: Any, validation_batch_size: Any,
                     validation_steps: Any, epochs: Any, initial_epoch: Any) -> FitCounts:
    """``fit``'s batch sizes and step counts are integers >= 1 (or ``None``), its epochs >= 0."""
    def size(value: Any, name: str) -> int | None:
        return check_int(value, name, least=1, allow_none=True)

    return FitCounts(size(batch_size, "batch_size"), size(steps_per_epoch, "steps_per_epoch"),
                     size(validation_batch_size, "validation_batch_size"),
                     size(validation_steps, "validation_steps"),
                     check_int(epochs, "epochs", least=0),
                     check_int(initial_epoch, "initial_epoch", least=0))


def check_shuffle(shuffle: Any) -> None:
    """``shuffle`` is ``True``, ``False`` or ``"batch"``, as in Keras."""
    if shuffle not in (True, False, "batch"):
        raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}.")
