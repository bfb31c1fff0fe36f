"""Nested structures of arrays and tensors: conversion to tensors, moves to the device, batch
unpacking and the sample-count checks every input path shares (the walks are kerasish.tree's)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from kerasish.tree import flatten, map_structure

Batch = tuple[Any, Any, Any]


def is_array_like(struct) -> bool:
    """True for arrays/tensors and tuples/lists/dicts made only of them."""
    leaves = flatten(struct)
    return bool(leaves) and all(isinstance(leaf, (np.ndarray, torch.Tensor)) for leaf in leaves)


def as_tensor(value) -> torch.Tensor:
    """NumPy -> torch without copying where possible; float64 becomes float32 as in Keras."""
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, np.ndarray):
        array = value if value.flags.writeable else value.copy()
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    else:
        tensor = torch.as_tensor(value)
    if tensor.dtype == torch.float64:
        tensor = tensor.float()
    return tensor


def to_device(struct, device: torch.device, non_blocking: bool = False):
    def move(leaf):
        if isinstance(leaf, np.ndarray):
            leaf = as_tensor(leaf)
        if isinstance(leaf, torch.Tensor):
            if leaf.dtype == torch.float64:
                leaf = leaf.float()
            return leaf.to(device, non_blocking=non_blocking)
        return leaf

    return map_structure(move, struct)


def device_batch(batch: Batch, device: torch.device) -> Batch:
    """A loader's ``(x, y, sw)`` on ``device``; tensors already there pass straight through."""
    x, y, sw = batch
    if (type(x) is torch.Tensor and type(y) is torch.Tensor and sw is None
            and x.device == device and y.device == device
            and x.dtype != torch.float64 and y.dtype != torch.float64):
        return batch  # the common CPU case: no tree walk per step
    return to_device(batch, device, non_blocking=device.type == "cuda")


def unpack_batch(batch) -> Batch:
    """Split a batch from a Dataset/DataLoader/iterable into ``(x, y, sample_weight)``."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
        if len(batch) == 1:
            return batch[0], None, None
        raise ValueError(
            f"a batch from the data must be (x, y) or (x, y, sample_weight); got a "
            f"{type(batch).__name__} of length {len(batch)}. Wrap multiple inputs in a tuple: "
            "((x1, x2), y)."
        )
    return batch, None, None


def num_samples(struct, argument: str) -> int:
    """The shared first dimension of every array in ``struct``; mismatches name both sizes."""
    sizes = {int(leaf.shape[0]) for leaf in flatten(struct)}
    if len(sizes) > 1:
        raise ValueError(
            f"all arrays in {argument} must have the same number of samples (first dimension); "
            f"got sizes {sorted(sizes)}."
        )
    return sizes.pop()


def sample_weights(sample_weight):
    """``sample_weight`` as float tensors: one array, or a dict/list with one array per output.

    An ``(N, 1)`` array is taken as ``(N,)``, as Keras does.
    """
    def one(value):
        tensor = as_tensor(value).float()
        if tensor.dim() == 2 and tensor.shape[1] == 1:
            tensor = tensor.reshape(-1)
        return tensor

    return map_structure(one, sample_weight)


def check_lengths(x, y, sample_weight) -> int:
    n = num_samples(x, "x")
    if y is not None:
        ny = num_samples(y, "y")
        if ny != n:
            raise ValueError(
                f"x and y must have the same number of samples; x has {n} and y has {ny}."
            )
    for weights in flatten(sample_weight):
        if weights.dim() != 1 or weights.shape[0] != n:
            raise ValueError(
                f"sample_weight must be a 1-D array with one weight per sample ({n}), or a dict/"
                f"list of such arrays, one per output; got shape {tuple(weights.shape)}."
            )
    if n == 0:
        raise ValueError("x is empty: fit/evaluate/predict need at least one sample.")
    return n


def split_for_validation(x, y, sample_weight, validation_split: float):
    """Keras's ``validation_split``: the last fraction of the arrays, taken before shuffling.

    Keras 3's rule (``train_validation_split``): the first ``floor(n * (1 - validation_split))``
    samples train and the rest validate, so the training count rounds down and the validation
    count takes what is left (10 samples at 0.25: 7 train, 3 validate). A split that leaves
    either side empty is a ``ValueError``.

    Args:
        x: the inputs (arrays or tensors, or a structure of them); their first dimension is ``n``.
        y: the targets, or ``None``.
        sample_weight: the sample weights, or ``None``.
        validation_split: the fraction in (0, 1) to validate on.

    Returns:
        ``((x, y, sample_weight) to train on, (x, y, sample_weight) to validate on)``.
    """
    n = num_samples(x, "x")
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves no samples for "
            f"{'training' if split_at == 0 else 'validation'} with {n} samples; choose a "
            "fraction that keeps at least one sample on each side."
        )
    head = lambda t: t[:split_at]  # noqa: E731
    tail = lambda t: t[split_at:]  # noqa: E731
    train = (map_structure(head, x), map_structure(head, y), map_structure(head, sample_weight))
    val = (map_structure(tail, x), map_structure(tail, y), map_structure(tail, sample_weight))
    return train, val
