"""Checking and normalising what users pass to ``compile``, ``fit``, ``evaluate`` and ``predict``.

Each check raises a ``ValueError``/``TypeError`` that names the argument and the fix, and runs before
the first optimizer step, so bad input never changes a weight. ``model.py`` calls these and keeps
only the user-facing API and the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from kerasish import data as data_lib
from kerasish.engine import CompiledLoss
from kerasish.losses import get_loss
from kerasish.metrics import TorchMetricsAdapter, get_metric


def compile_loss(loss: Any, loss_weights: Any) -> CompiledLoss:
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


def metric_entries(spec: Any, weighted: bool) -> list:
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


def describe(loss: Any) -> Any:
    if isinstance(loss, str) or loss is None:
        return loss
    if isinstance(loss, Mapping):
        return {k: describe(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [describe(v) for v in loss]
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose in (0, 1, 2) and not isinstance(verbose, float):
        return int(verbose)
    raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; got {verbose!r}.")


def check_positive_int(value: Any, name: str, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        allowed = " or None" if allow_none else ""
        raise ValueError(f"{name} must be a positive integer{allowed}; got {value!r}.")


def check_class_weight(class_weight: Any, sample_weight: Any) -> None:
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


def check_validation_split(validation_split: Any, x: Any, needs_arrays: bool) -> None:
    if not 0.0 < validation_split < 1.0:
        raise ValueError(
            f"validation_split must lie strictly between 0 and 1; got {validation_split}."
        )
    if needs_arrays and not data_lib.is_array_like(x):
        raise ValueError(
            "validation_split needs NumPy arrays or tensors as x (it takes the last fraction of "
            f"them); got {type(x).__name__}. Pass validation_data instead."
        )


def no_batch_size_for_iterables(x: Any, batch_size: int | None) -> None:
    if batch_size is not None and isinstance(x, torch.utils.data.DataLoader):
        raise ValueError(
            "batch_size must be None when x is a DataLoader: the loader already batches. Set the "
            "batch size on the DataLoader, or pass its Dataset and batch_size instead."
        )


def validation_schedule(validation_freq: Any) -> Callable[[int], bool]:
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
