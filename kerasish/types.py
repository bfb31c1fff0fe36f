"""Names for what the public API accepts, so that signatures, ``help()`` and type checkers say
more than ``Any``.

Keras objects are described by what kerasish uses of them (a Keras loss or metric is a callable,
a Keras optimizer an object with ``get_config``: ``optimizers.KerasOptimizerLike``), since Keras
itself is not a dependency. Outputs
(``predict``'s arrays, a step's logs) stay ``Any``: their structure is the module's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from kerasish.losses import Loss
from kerasish.metrics import Metric
from kerasish.optimizers import OptimizerSpec

__all__ = ["Array", "Nested", "Inputs", "Targets", "SampleWeights", "LossFunction", "LossSpec",
           "MetricSpec", "MetricsSpec", "OptimizerSpec"]

Array = np.ndarray | torch.Tensor
# One array, or tuples, lists and dicts of them nested to any depth (several inputs or outputs).
Nested = Array | Sequence["Nested"] | Mapping[str, "Nested"]
# What fit, evaluate and predict read: arrays, a torch Dataset, or a DataLoader or other iterable
# of batches.
Inputs = Nested | torch.utils.data.Dataset | Iterable[Any] | None
Targets = Nested | None
SampleWeights = Nested | None

# A loss written with torch's argument order, fn(y_pred, y_true).
LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossSpec = (str | Loss | torch.nn.Module | LossFunction | None | Sequence["LossSpec"]
            | Mapping[str, "LossSpec"])
# A metric: a name, a ks.metrics object, a torchmetrics or Keras metric, or fn(y_pred, y_true).
MetricSpec = str | Metric | Callable[..., Any]
MetricsSpec = (Sequence[MetricSpec | Sequence[MetricSpec] | None]
               | Mapping[str, MetricSpec | Sequence[MetricSpec]] | None)
