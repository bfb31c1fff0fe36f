"""Walking nested inputs and outputs: tuples, lists and dicts of tensors/arrays, as Keras nests them.

A model's ``x``, ``y``, outputs and sample weights may each be one tensor or a tuple/list/dict of
them, nested to any depth. Every walk over such a structure follows the same rules, written once
here so that they cannot drift apart:

* a ``tuple`` or ``list`` is a node; the same type is rebuilt from its mapped items;
* any ``Mapping`` is a node; it is rebuilt as a plain ``dict`` in its own key order;
* ``None`` is an empty structure: it maps to ``None`` and has no leaves (a missing ``y`` or
  ``sample_weight``);
* everything else (tensors, arrays, numbers, strings) is a leaf.

``map_structure`` runs for every batch (the batch slices of array input, the move to the device),
so it stays one plain recursive function: no extra call or allocation per node.
This module imports nothing from kerasish, so any module can use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def map_structure(fn: Callable[[Any], Any], struct: Any) -> Any:
    """``struct`` with ``fn`` applied to every leaf (``None`` stays ``None``).

    Args:
        fn: called once per leaf, in ``flatten``'s order; never with ``None``.
        struct: a leaf, ``None``, or a tuple/list/dict of structures.

    Example:
        >>> map_structure(lambda v: v * 2, {"a": (1, [2, None])})
        {'a': (2, [4, None])}
    """
    if struct is None:
        return None
    if isinstance(struct, (tuple, list)):
        return type(struct)(map_structure(fn, s) for s in struct)
    if isinstance(struct, Mapping):
        return {k: map_structure(fn, v) for k, v in struct.items()}
    return fn(struct)


def flatten(struct: Any) -> list[Any]:
    """The leaves of ``struct`` in order (depth first; a dict's in its key order), ``None`` skipped.

    Args:
        struct: a leaf, ``None``, or a tuple/list/dict of structures.

    Example:
        >>> flatten({"a": (1, [2, None]), "b": 3})
        [1, 2, 3]
    """
    if struct is None:
        return []
    if isinstance(struct, (tuple, list)):
        return [leaf for s in struct for leaf in flatten(s)]
    if isinstance(struct, Mapping):
        return [leaf for v in struct.values() for leaf in flatten(v)]
    return [struct]


def map_together(fn: Callable[[Sequence[Any]], Any], structs: Sequence[Any]) -> Any:
    """One structure from several of the same shape: ``fn`` gets the leaves at each place, in order.

    Joins per-batch outputs into whole arrays (``predict``) and per-rank shards into one result.
    The first structure gives the shape; the others are indexed like it, so one with a missing
    item or key raises the ``IndexError``/``KeyError`` of that lookup. ``None`` in the first
    stays ``None``.

    Args:
        fn: called once per place with the leaves there, one per structure, in order.
        structs: a non-empty sequence of structures shaped like the first.

    Example:
        >>> map_together(sum, [(1, {"a": 2}), (10, {"a": 20})])
        (11, {'a': 22})
    """
    first = structs[0]
    if first is None:
        return None
    if isinstance(first, (tuple, list)):
        return type(first)(map_together(fn, [s[i] for s in structs]) for i in range(len(first)))
    if isinstance(first, Mapping):
        return {k: map_together(fn, [s[k] for s in structs]) for k in first}
    return fn(structs)
