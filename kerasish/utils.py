"""Small helpers Keras code calls by name: ``ks.utils.unpack_x_y_sample_weight`` and friends."""

from __future__ import annotations

from typing import Any


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """Split a batch as Keras 3 passes it to a step into ``(x, y, sample_weight)``.

    A custom ``train_step`` receives ``data`` exactly as Keras would give it: ``(x,)``, ``(x, y)``
    or ``(x, y, sample_weight)``; anything else is taken as ``x`` alone. Missing parts are ``None``.

    Args:
        data: the batch a step received.

    Returns:
        ``(x, y, sample_weight)``.

    Raises:
        ValueError: a tuple or list of more than three elements (Keras raises too).

    Example:
        def train_step(self, data):
            x, y, sample_weight = ks.utils.unpack_x_y_sample_weight(data)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(
        "unpack_x_y_sample_weight: data must be (x,), (x, y) or (x, y, sample_weight); got a "
        f"{type(data).__name__} of length {len(data)}."
    )


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """Pack a batch as Keras 3 does before a step: the inverse of ``unpack_x_y_sample_weight``.

    Args:
        x: the inputs.
        y: the targets, or ``None``.
        sample_weight: the sample weights, or ``None``.

    Returns:
        ``x`` alone when there are no targets (wrapped as ``(x,)`` when ``x`` is itself a tuple or
        list, so it is not mistaken for ``(x, y)``), ``(x, y)``, or ``(x, y, sample_weight)``.

    Example:
        data = ks.utils.pack_x_y_sample_weight(x, y)   # (x, y)
    """
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)
