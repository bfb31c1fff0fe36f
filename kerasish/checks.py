"""The argument checks many modules share: an integer in a range, a number in a range.

Keras code passes counts and sizes as Python ints, NumPy integers (``np.int64`` from an array's
shape or a config) and, by mistake, bools or floats. The test is written once, here, so every
argument accepts the same values and every message has the same form:
``"[Owner: ]name must be <what>[ or None]; got <value>."``.

This module imports nothing from kerasish, so any module (callbacks, optimizers, metrics, utils)
can import it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

import numpy as np

_NUMBER_TYPES = (int, float, np.integer, np.floating)


def is_int(value: Any, least: int | None = None, below: int | None = None) -> bool:
    """Whether ``value`` is a Python or NumPy integer (never a bool) in ``[least, below)``.

    For callers whose message names more than an integer (``"'epoch' or a positive integer"``);
    the others call ``check_int``, which raises.

    Args:
        value: the value to test.
        least: the smallest value allowed (``None``: no lower bound).
        below: the first value too large (``None``: no upper bound).

    Example:
        >>> is_int(np.int64(3), least=1), is_int(True), is_int(2.0)
        (True, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return False
    return bool((least is None or value >= least) and (below is None or value < below))


@overload
def check_int(value: Any, name: str, *, least: int | None = ..., below: int | None = ...,
              allow_none: Literal[False] = ..., owner: str | None = ...) -> int: ...


@overload
def check_int(value: Any, name: str, *, least: int | None = ..., below: int | None = ...,
              allow_none: bool, owner: str | None = ...) -> int | None: ...


def check_int(value: Any, name: str, *, least: int | None = None, below: int | None = None,
              allow_none: bool = False, owner: str | None = None) -> int | None:
    """``value`` as a Python ``int`` if it is an integer in ``[least, below)``, else a ``ValueError``.

    Args:
        value: the argument as given. NumPy integers count (they come from shapes and configs);
            bools and floats do not, even ``True`` or ``2.0``.
        name: the argument's name, for the message.
        least: the smallest value allowed (``None``: no lower bound).
        below: the first value too large (``None``: no upper bound).
        allow_none: whether ``None`` is allowed (it is returned as ``None``).
        owner: the class or function the argument belongs to, prefixed to the message.

    Returns:
        ``int(value)``, so a NumPy integer does not travel on into configs and checkpoints.

    Raises:
        ValueError: naming the argument, the values allowed and the value given, e.g.
            ``"EarlyStopping: patience must be an integer >= 0; got -1."``.

    Example:
        >>> check_int(np.int64(8), "batch_size", least=1)
        8
    """
    if value is None and allow_none:
        return None
    if not is_int(value, least, below):
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}{name} must be {_integer_range(least, below)}"
                         f"{' or None' if allow_none else ''}; got {value!r}.")
    return int(value)


def _integer_range(least: int | None, below: int | None) -> str:
    if below is not None:
        return (f"an integer < {_bound(below)}" if least is None
                else f"an integer in [{least}, {_bound(below)})")
    if least is None:
        return "an integer"
    return "a positive integer" if least == 1 else f"an integer >= {least}"


def _bound(n: int) -> str:
    """A large power of two as ``2**k`` (a seed's ``2**32``), any other bound as written."""
    return f"2**{n.bit_length() - 1}" if n >= 2**16 and n & (n - 1) == 0 else str(n)


@overload
def check_number(value: Any, name: str, *, low: float | None = ..., high: float | None = ...,
                 open_low: bool = ..., allow_none: Literal[False] = ...,
                 owner: str | None = ...) -> float: ...


@overload
def check_number(value: Any, name: str, *, low: float | None = ..., high: float | None = ...,
                 open_low: bool = ..., allow_none: bool, owner: str | None = ...) -> float | None: ...


def check_number(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                 open_low: bool = False, allow_none: bool = False,
                 owner: str | None = None) -> float | None:
    """``value`` as a ``float`` if it is a number in ``[low, high]`` (``(low, high]`` when
    ``open_low``), else a ``ValueError``.

    Python and NumPy ints and floats count, bools do not. NaN fails any bound (every comparison
    with it is false) and passes when there is none.

    Args:
        value: the argument as given.
        name: the argument's name, for the message.
        low: the lower bound (``None``: none); included unless ``open_low``.
        high: the upper bound, included (``None``: none).
        open_low: whether ``low`` itself is excluded (a learning rate must be > 0).
        allow_none: whether ``None`` is allowed (it is returned as ``None``).
        owner: the class or function the argument belongs to, prefixed to the message.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: e.g. ``"momentum must be a number >= 0.0 and <= 1.0; got 1.5."``.

    Example:
        >>> check_number(0.9, "momentum", low=0.0, high=1.0)
        0.9
    """
    if value is None and allow_none:
        return None
    ok = not isinstance(value, bool) and isinstance(value, _NUMBER_TYPES)
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = f"{'>' if open_low else '>='} {low}" if low is not None else ""
        bounds += f"{' and ' if bounds else ''}<= {high}" if high is not None else ""
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}{name} must be a number{' ' + bounds if bounds else ''}"
                         f"{' or None' if allow_none else ''}; got {value!r}.")
    return float(value)


# ---------------------------------------------------------------------------- first forward

# torch's messages for a float module given integer input, and for input of the wrong width.
_DTYPE_MESSAGES = ("must have the same dtype", "expected scalar type", "should be the same",
                   "expected both inputs to have same dtype", "not implemented for 'long'",
                   "not implemented for 'int'")
_SHAPE_MESSAGES = ("shapes cannot be multiplied", "size mismatch", "expected input")


def _leaves(value: Any) -> list:
    if isinstance(value, Mapping):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def first_forward_error(error: Exception, x: Any, module: Any) -> Exception | None:
    """A clear error for the module's first forward on user input, or ``None`` (re-raise as is).

    The first batch's forward runs before any optimizer step; when torch rejects ``x`` there with
    its own wording (``mat1 and mat2 must have the same dtype``, ``shapes cannot be multiplied``),
    this names ``x``, what it holds and the fix. Other errors (a bug in the module) pass unchanged.
    """
    message = str(error)
    lowered = message.lower()
    tensors = [leaf for leaf in _leaves(x) if hasattr(leaf, "dtype") and hasattr(leaf, "shape")]
    weights = [p for p in module.parameters() if p.is_floating_point()] if module is not None else []
    integer = [t for t in tensors if not (t.is_floating_point() or t.is_complex() or t.dtype is _bool())]
    if integer and weights and any(m.lower() in lowered for m in _DTYPE_MESSAGES):
        return TypeError(
            f"x holds {str(integer[0].dtype).removeprefix('torch.')} values but the module's weights "
            f"are {str(weights[0].dtype).removeprefix('torch.')}, and torch does not convert them "
            f"({message.splitlines()[0]}). Pass x as floats (x.astype('float32') or x.float()); "
            "integer x is for modules that take indices, such as nn.Embedding."
        )
    if tensors and any(m.lower() in lowered for m in _SHAPE_MESSAGES):
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        return ValueError(
            f"the module cannot take x of shape {shapes} ({message.splitlines()[0]}). Check that x "
            "has as many features as the module's first layer expects (e.g. nn.Linear's "
            "in_features), with the batch as the first dimension."
        )
    return None


def _bool() -> Any:
    import torch

    return torch.bool


def check_sample_weight_form(sample_weight: Any, y_pred: Any) -> None:
    """A dict or list ``sample_weight`` needs as many outputs: one array for a single output.

    Raises:
        ValueError: naming ``sample_weight``, for a dict/list given to a model with one output.
    """
    if isinstance(sample_weight, (Mapping, list, tuple)) and not isinstance(y_pred, (Mapping, list,
                                                                                    tuple)):
        raise ValueError(
            f"sample_weight is a {type(sample_weight).__name__} (one array per output), but the "
            "model has a single output. Pass one array with one weight per sample, shaped (N,)."
        )
