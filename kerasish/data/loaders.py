"""Datasets and loaders as batches: a map-style ``Dataset`` that kerasish batches itself, and a
``DataLoader`` or any other iterable of batches used as it comes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from kerasish.data.replay import loader_generators, replay_draws
from kerasish.data.sharding import Shard, distributed_loader, local_count, sharded_order
from kerasish.data.structures import Batch, device_batch, unpack_batch


class DatasetSource:
    """A map-style ``Dataset`` batched by kerasish: ``batch_size`` and ``shuffle`` apply."""

    reiterable = True

    def __init__(self, dataset: Dataset, *, batch_size: int, shuffle: bool | str,
                 device: torch.device, seed: int = 0, shard: Shard | None = None):
        self.dataset = dataset
        self.n = len(dataset)  # type: ignore[arg-type]
        if self.n == 0:
            raise ValueError("the Dataset is empty: fit/evaluate/predict need at least one sample.")
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.device = device
        self.seed = seed
        self.shard = shard

    @property
    def num_batches(self) -> int:
        return math.ceil(local_count(self.n, self.shard) / self.batch_size)

    def targets(self):
        return None

    order_generators: list[torch.Generator] = []

    def iter_epoch(self, epoch: int, start_batch: int = 0,
                   replay: Mapping[str, Any] | None = None) -> Iterator[Batch]:
        # The order comes from seed + epoch alone, and skipped samples are never read, so a
        # resumed epoch needs no replay: the samples it reads draw what they drew before.
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.n, generator=generator)
        else:
            order = None
        sharded = sharded_order(order, self.n, self.shard)
        indices = list(range(self.n)) if sharded is None else sharded.tolist()
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=indices[start_batch * self.batch_size:],
            pin_memory=self.device.type == "cuda",
            # Its own generator: a loader's iterator otherwise draws a seed from the global RNG,
            # and dropout would then differ from the same data given as arrays.
            generator=torch.Generator().manual_seed(self.seed + epoch),
        )
        for batch in loader:
            yield device_batch(unpack_batch(batch), self.device)


class IterableSource:
    """A ``DataLoader`` or any iterable of batches, used as it comes (``shuffle`` is ignored).

    Under ``torchrun`` a training DataLoader over a map-style dataset is rebuilt around a
    ``DistributedSampler`` (same batch size, workers and collate). For evaluation and prediction
    (``shard.pad`` false) every rank reads the whole loader: DistributedSampler would pad the data
    with repeated samples and skew the sums, while identical full passes all-reduce to the exact
    means and give every rank every prediction. Other iterables are used as they are on each rank.
    """

    def __init__(self, data: Iterable, *, device: torch.device, shard: Shard | None = None,
                 seed: int = 0):
        if shard is not None and shard.pad and isinstance(data, DataLoader) and not isinstance(
                data.dataset, IterableDataset):
            data = distributed_loader(data, shard, seed)
        self.data = data
        self.device = device
        self.reiterable = not isinstance(data, Iterator)
        self.batch_size = getattr(data, "batch_size", None)
        if isinstance(data, DataLoader) and device.type == "cuda" and not data.pin_memory:
            data.pin_memory = True  # read when the loader's iterator is made: pinned host batches
        self.num_batches: int | None
        try:
            self.num_batches = len(data)  # type: ignore[arg-type]
        except TypeError:
            self.num_batches = None
        self.order_generators = loader_generators(data)

    def targets(self):
        return None

    def iter_epoch(self, epoch: int, start_batch: int = 0,
                   replay: Mapping[str, Any] | None = None) -> Iterator[Batch]:
        """One pass; from ``start_batch`` on, the batches before it read and dropped.

        With ``replay`` (a resumed epoch) the loader's iterator is made and the skipped batches
        read under the random states the interrupted epoch started from, so its order, its
        workers' seeds and what its dataset drew are those of the interrupted run.
        """
        set_epoch = getattr(getattr(self.data, "sampler", None), "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)

        def start() -> Iterator:
            iterator = iter(self.data)
            for _ in range(start_batch):
                next(iterator, None)
            return iterator

        iterator = start() if replay is None else replay_draws(replay, self.order_generators, start)
        for batch in iterator:
            yield device_batch(unpack_batch(batch), self.device)
