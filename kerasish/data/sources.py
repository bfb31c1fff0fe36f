"""Which adapter takes what the user passed (``make_source``), and one-shot iterators made
re-iterable as Keras makes them (``replayable``).

Every adapter yields ``(x, y, sample_weight)`` triples already on the training device.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from kerasish.data.arrays import (
    ArraySource,
    TensorLoaderSource,
    plain_tensor_dataset,
    plain_tensor_loader,
    split_tensors,
)
from kerasish.data.loaders import DatasetSource, IterableSource
from kerasish.data.sharding import Shard
from kerasish.data.structures import Batch, device_batch, is_array_like, unpack_batch


def make_source(x, y, sample_weight, *, batch_size: int | None, shuffle, device: torch.device,
                seed: int = 0, argument: str = "x", shard: Shard | None = None):
    """Pick the adapter for what the user passed, with the checks that apply to it."""
    if batch_size is not None:
        batch_size = int(batch_size)  # NumPy integers too
    if x is None:
        raise ValueError(f"{argument} is None: pass arrays, tensors, a Dataset or a DataLoader.")
    if isinstance(x, (str, bytes)):
        raise TypeError(
            f"{argument} must be arrays, tensors, a Dataset, a DataLoader or an iterable of "
            f"batches; got the string {x!r}."
        )
    if isinstance(x, (DataLoader, IterableDataset)) or (
        not isinstance(x, (Dataset, np.ndarray, torch.Tensor, tuple, list, Mapping))
        and isinstance(x, Iterable)
    ):
        _no_separate_targets(y, sample_weight, type(x).__name__)
        if shard is None and isinstance(x, DataLoader) and plain_tensor_loader(x):
            return TensorLoaderSource(x, device=device)
        return IterableSource(x, device=device, shard=shard, seed=seed)
    if isinstance(x, Dataset):
        _no_separate_targets(y, sample_weight, "Dataset")
        if plain_tensor_dataset(x):  # the same order as DatasetSource, without per-sample collate
            return ArraySource(*split_tensors(x), batch_size=batch_size or 32, shuffle=bool(shuffle),
                               device=device, seed=seed, shard=shard)
        return DatasetSource(x, batch_size=batch_size or 32, shuffle=shuffle, device=device,
                             seed=seed, shard=shard)
    if is_array_like(x):
        if y is not None and not is_array_like(y):
            raise TypeError(
                f"y must be arrays or tensors when x is; got {type(y).__name__}."
            )
        return ArraySource(x, y, sample_weight, batch_size=batch_size or 32, shuffle=shuffle,
                           device=device, seed=seed, shard=shard)
    raise TypeError(
        f"{argument} must be a NumPy array, a torch tensor, a tuple/list/dict of those, a torch "
        f"Dataset, a DataLoader or an iterable of batches; got {type(x).__name__}."
    )


class Replaying:
    """A one-shot iterator made re-iterable the way Keras 3.15.1 does it.

    Keras peeks at a generator's first two batches (for their specs) and starts every pass with
    them, followed by whatever the generator still yields (``fit``'s ``validation_data`` keeps
    every batch instead: ``Keeping``).

    Args:
        iterator: the one-shot iterator (a generator).
        peek: how many batches to keep (Keras keeps 2).
    """

    def __init__(self, iterator: Iterator, peek: int = 2):
        self.iterator = iterator
        self.peeked = list(itertools.islice(iterator, peek))

    def __iter__(self) -> Iterator:
        return itertools.chain(self.peeked, self.iterator)


class Keeping(Replaying):
    """A one-shot iterator whose every batch is kept, so each pass sees all the batches it gave.

    For ``fit``'s ``validation_data``: Keras 3.15.1 validates later epochs on a generator's first
    two batches only (and warns that the input ran out), so ``val_loss`` silently covers part of
    the data. Kept whole, every validation is a full pass, at the cost of holding the batches.
    """

    def __iter__(self) -> Iterator:
        kept = self.peeked
        for batch in list(kept):
            yield batch
        for batch in self.iterator:  # batches no pass has read yet
            kept.append(batch)
            yield batch


def replayable(data: Any, argument: str, keep_all: bool = False) -> Any:
    """``data`` itself, or a one-shot iterator as ``Replaying`` (with ``keep_all``, ``Keeping``);
    an empty one is a ``ValueError`` naming ``argument`` (Keras: "the generator must yield at
    least one batch")."""
    if not isinstance(data, Iterator) or isinstance(data, Replaying):
        return data
    replaying = (Keeping if keep_all else Replaying)(data)
    if not replaying.peeked:
        raise ValueError(
            f"{argument} is an iterator that yields no batch (is it already exhausted?): the "
            "generator must yield at least one batch. Pass a fresh generator, or a re-iterable "
            "input (arrays, a Dataset, a DataLoader)."
        )
    return replaying


def first_batch(source) -> Batch | None:
    """The first batch of ``source`` on its device, read without side effects (no random draw,
    nothing consumed), or ``None`` when the source cannot give it that way (a Dataset or a
    DataLoader: reading it would draw from the random generators or start workers)."""
    if isinstance(source, ArraySource):
        return source.first_batch()
    data = getattr(source, "data", None)
    if isinstance(data, Replaying):
        return device_batch(unpack_batch(data.peeked[0]), source.device)
    return None


def _no_separate_targets(y, sample_weight, kind: str) -> None:
    if y is not None or sample_weight is not None:
        raise ValueError(
            f"y and sample_weight must be None when x is a {kind}: the data itself yields "
            "(x, y) or (x, y, sample_weight) batches."
        )
