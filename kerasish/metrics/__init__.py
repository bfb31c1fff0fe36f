"""Metrics that accumulate on the device and become Python floats only when read.

``ks.metrics`` objects keep Keras's API (``update_state(y_true, y_pred, sample_weight=None)``,
``result()``, ``reset_state()``). Their state lives in tensors on the batch's device so that a
training step never waits for the host: ``result()`` returns a 0-d tensor (a vector where Keras
returns one, e.g. ``F1Score(average=None)`` or several ``thresholds``) and the caller decides when
to turn it into a float.

Under ``torchrun`` every metric that declares its state with ``summed_state()`` /
``load_summed_state()`` is summed across ranks once per epoch (``Engine.all_reduce_results``), so
the logs agree on every rank and equal a single process's. torchmetrics objects synchronise
themselves; Keras metric objects are summed through their variables' ``aggregation="sum"``.

Each metric family lives in its own module (``accuracy``, ``regression``, ``probabilistic``,
``confusion``, ``f_score``, ``adapters``) on top of ``base`` and ``reduction``; this package
re-exports them and resolves ``compile``'s metric specs (``get_metric``). A new built-in metric is
a class in its family's module, re-exported here and, if Keras knows it by a string, registered.
"""

from __future__ import annotations

import types
from typing import Any

from kerasish._keras_interop import keras_for, keras_instance, ks_equivalent
from kerasish._naming import by_class_name, name_registry
from kerasish.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    ShapeResolvedAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    resolve_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from kerasish.metrics.adapters import KerasMetric, TorchMetric, TorchMetricsAdapter, is_torchmetrics
from kerasish.metrics.at_thresholds import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from kerasish.metrics.auc import AUC
from kerasish.metrics.base import Metric
from kerasish.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
    confusion_counts,
)
from kerasish.metrics.f_score import F1Score, FBetaScore
from kerasish.metrics.hinge import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from kerasish.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from kerasish.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from kerasish.metrics.reduction import Mean, MeanMetricWrapper, Sum
from kerasish.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
    cosine_similarity,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "get_metric", "KNOWN_METRICS",
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "resolve_accuracy",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "RootMeanSquaredError", "mean_squared_error",
    "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision", "Recall",
    "AUC", "confusion_counts", "FBetaScore", "F1Score",
    "TorchMetric", "TorchMetricsAdapter", "KerasMetric",
]
__all__ += [  # the confusion-matrix block
    "SensitivityAtSpecificity", "SpecificityAtSensitivity", "PrecisionAtRecall",
    "RecallAtPrecision", "IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU",
]

# metrics-core block (issue 23): Keras's reduction, regression, probabilistic and hinge metrics.
__all__ += [
    "Sum", "CosineSimilarity", "LogCoshError", "R2Score", "cosine_similarity", "log_cosh",
    "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge", "hinge",
    "squared_hinge", "categorical_hinge",
]


_REGISTRY: dict[str, type[Metric]] = name_registry(
    (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
     RootMeanSquaredError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
     BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
     SparseTopKCategoricalAccuracy, Precision, Recall, AUC, TruePositives, FalsePositives,
     TrueNegatives, FalseNegatives, F1Score, FBetaScore),
    aliases={"rmse": RootMeanSquaredError, "fbeta_score": FBetaScore},
)
# metrics-core block (issue 23): Keras's string names for these classes.
_REGISTRY.update(name_registry(
    (CosineSimilarity, LogCoshError, R2Score, KLDivergence, Poisson, Hinge, SquaredHinge,
     CategoricalHinge),
    aliases={"logcosh": LogCoshError, "kld": KLDivergence},
))

_CLASS_NAMES = by_class_name(_REGISTRY)
KNOWN_METRICS = tuple(sorted([*_REGISTRY, "accuracy", "acc"]))


def _from_keras(spec: Any, keras: Any) -> Metric:
    """A Keras metric object, class or function, run by Keras itself (torch backend only)."""
    # globals() is the package namespace: every ks.metrics class under its public name.
    name, instead = ks_equivalent(spec, globals(), Metric, _REGISTRY, "metric")
    spec = keras_instance(spec, keras, keras.metrics.Metric, f"metrics entry {name}", instead)
    if isinstance(spec, keras.metrics.Metric):
        return KerasMetric(spec)
    if callable(spec):  # keras.metrics.mean_absolute_error and friends: Keras order, per sample
        return MeanMetricWrapper(spec, name=getattr(spec, "__name__", None))
    raise TypeError(f"metrics entry {name} is a Keras object that is not a metric; pass a "
                    f"keras.metrics.Metric or use {instead}.")


def get_metric(spec: Any) -> Metric:
    """Resolve a metric name, ``ks.metrics`` object or class, Keras metric, torchmetrics object or
    callable into a ``ks.metrics.Metric``.

    Keras objects (``keras.metrics.AUC()``, ``keras.metrics.mean_absolute_error``) keep Keras's
    semantics: ``update_state(y_true, y_pred, sample_weight)`` and their own ``result()``. A user
    callable is called torch-style, ``fn(y_pred, y_true)`` (docs/differences.md).

    Args:
        spec: a name (``"accuracy"``, ``"precision"``, ``"auc"``, ``"mape"``, ...; see
            ``KNOWN_METRICS``), a ``ks.metrics.Metric`` object or class, a Keras metric object,
            class or function, a torchmetrics ``Metric``, or a callable ``fn(y_pred, y_true)``
            returning one value per sample.

    Returns:
        A ``ks.metrics.Metric``; a name becomes the metric's log key, as in Keras.

    Raises:
        ValueError: an unknown name.
        TypeError: anything else, or a Keras object on a backend other than torch.

    Example:
        ks.metrics.get_metric("auc")   # AUC(name="auc")
    """
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, type) and issubclass(spec, Metric):
        return spec()
    if isinstance(spec, str):
        key = spec.lower()
        if key in ("accuracy", "acc"):
            return ShapeResolvedAccuracy(name=spec)
        factory = _REGISTRY.get(key) or _CLASS_NAMES.get(spec)  # "MeanSquaredError", as Keras's get
        if factory is None:
            raise ValueError(
                f"metrics contains {spec!r}, which is not a known metric name. Use one of "
                f"{', '.join(KNOWN_METRICS)}, a ks.metrics object, a torchmetrics Metric or a "
                "callable fn(y_pred, y_true)."
            )
        metric = factory()
        metric.name = spec
        return metric
    keras = keras_for(spec)
    if keras is not None:
        return _from_keras(spec, keras)
    if is_torchmetrics(spec):
        return TorchMetric(spec)
    if callable(spec):  # a user's callable: torch's order; a ks.metrics function: Keras's
        return MeanMetricWrapper(spec, torch_style=not _is_ks_function(spec))
    raise TypeError(
        f"metrics entries must be names, ks.metrics objects, torchmetrics Metrics or callables; "
        f"got {type(spec).__name__}."
    )


def _is_ks_function(spec: Any) -> bool:
    """Whether ``spec`` is one of the ``ks.metrics`` functions (``ks.metrics.binary_accuracy``),
    written ``fn(y_true, y_pred)`` as Keras's: called torch-style it would get its arguments
    swapped and give a wrong number without an error."""
    return (isinstance(spec, types.FunctionType) and not spec.__name__.startswith("_")
            and spec.__module__.startswith("kerasish.metrics."))
