"""Metrics a model's own layers keep and update in their ``call``/``forward``: logged as Keras does.

Keras 3 replaced ``add_metric`` with metric objects held by a layer (``self.tracker =
keras.metrics.Mean(name="activation_mean")``, updated in ``call``); ``model.metrics`` lists them
after the compiled ones, so they are reset at each epoch and ``evaluate`` start, logged under their
names (``val_<name>`` in validation) and appended to ``evaluate``'s list. The same holds here for a
wrapped Keras model and, by the same rule, for a torch module whose submodules hold
``ks.metrics.Metric`` attributes. They are found once, when the engine is built and again on each
run's first batch (a layer built then may create its tracker): nothing is looked up per step.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import torch

from kerasish.metrics import KerasMetric, Metric


def owned_metrics(module: torch.nn.Module, keras_model: bool, compiled: Iterable[Metric],
                  known: list[Metric]) -> list[Metric]:
    """The metrics ``module`` and its layers own, in Keras's order, as ``ks.metrics.Metric`` objects.

    ``compiled``: the compiled metrics (a metric also given to ``compile`` is tracked there, once).
    ``known``: the list this returned before: a Keras metric keeps its wrapper, so a reset or a
    running result goes to the same object.
    """
    taken = {id(m.metric if isinstance(m, KerasMetric) else m) for m in compiled}
    wrappers = {id(m.metric): m for m in known if isinstance(m, KerasMetric)}
    found: list[Metric] = []
    for metric in _keras_owned(module) if keras_model else _torch_owned(module):
        if id(metric) in taken:
            continue
        taken.add(id(metric))
        if not isinstance(metric, Metric):  # a Keras metric object
            metric = wrappers.get(id(metric)) or KerasMetric(metric)
        found.append(metric)
    return found


def _keras_owned(model: Any) -> list[Any]:
    """A Keras model's metric attributes (public ones: Keras keeps its compiled trackers in private
    attributes), then its layers' metrics (``layer.metrics`` includes their sublayers')."""
    keras = sys.modules["keras"]
    base = keras.metrics.Metric
    found = [value for name, value in vars(model).items()
             if not name.startswith("_") and isinstance(value, base)]
    for layer in getattr(model, "layers", []):
        found += [metric for metric in layer.metrics if isinstance(metric, base)]
    return found


def _torch_owned(module: torch.nn.Module) -> list[Metric]:
    """``ks.metrics.Metric`` attributes of the module and its submodules, in module order."""
    return [value for sub in module.modules() for value in vars(sub).values()
            if isinstance(value, Metric)]
