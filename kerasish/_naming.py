"""Small naming helpers shared by losses, metrics and callbacks."""

from __future__ import annotations

import re


def snake_case(name: str) -> str:
    """``MulticlassAccuracy`` -> ``multiclass_accuracy`` (how Keras and we name log keys)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def unique_names(names: list[str], taken: set[str] | None = None) -> list[str]:
    """Give repeated names the suffixes ``_1``, ``_2``, ... as Keras does for log keys."""
    seen = set(taken or ())
    result = []
    for name in names:
        candidate, suffix = name, 0
        while candidate in seen:
            suffix += 1
            candidate = f"{name}_{suffix}"
        seen.add(candidate)
        result.append(candidate)
    return result
