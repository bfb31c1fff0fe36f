"""Small naming helpers shared by losses, metrics and callbacks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

_T = TypeVar("_T")

# Keras's short names that stand for a loss and for a metric alike.
_SHORT_NAMES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "bce": "binary_crossentropy",
}


def snake_case(name: str) -> str:
    """``MulticlassAccuracy`` -> ``multiclass_accuracy`` (how Keras and we name log keys)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def name_registry(classes: Iterable[type[_T]], aliases: Mapping[str, type[_T]] = {}) -> dict[str, type[_T]]:
    """Each class under its snake_case name (the string Keras accepts for it), then Keras's short
    names (``"mse"``, ...) for those present, then the other names in ``aliases``.

    Losses and metrics build their string registries with this, so a name means the same thing
    in both and a new class is reachable by its Keras name without a table to keep in step.
    """
    registry = {snake_case(cls.__name__): cls for cls in classes}
    registry.update({short: registry[full] for short, full in _SHORT_NAMES.items() if full in registry})
    registry.update(aliases)
    return registry


def by_class_name(registry: Mapping[str, type[_T]]) -> dict[str, type[_T]]:
    """The registry's classes under their class names (``"MeanSquaredError"``), which Keras's
    ``get`` also takes (case as written); such a string builds the class with its default name."""
    return {cls.__name__: cls for cls in registry.values()}
