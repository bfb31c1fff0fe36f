"""Each process's share of the data under ``torchrun``: every world_size-th sample of an epoch's
order, as ``DistributedSampler`` takes it, padded for training so that the ranks step together."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from kerasish.distributed import Group, shard_order


class Shard(NamedTuple):
    """This process's share of the data under torchrun; ``pad`` for training, not evaluation."""

    group: Group
    pad: bool


def shard_for(group: Group | None, pad: bool) -> Shard | None:
    """This process's part of the data: ``None`` alone, a ``Shard`` of ``group`` under torchrun."""
    return None if group is None else Shard(group, pad)


def local_count(n: int, shard: Shard | None) -> int:
    """How many of ``n`` samples this process reads in an epoch (all of them without a shard).

    Args:
        n: the number of samples in the data.
        shard: this process's share, or ``None`` outside torchrun.
    """
    if shard is None:
        return n
    world, rank = shard.group.world_size, shard.group.rank
    return -(-n // world) if shard.pad else len(range(rank, n, world))


def sharded_order(order: torch.Tensor | None, n: int, shard: Shard | None) -> torch.Tensor | None:
    """This process's part of an epoch's order (``None``, 0..n-1, stays ``None`` without a shard).

    Args:
        order: the epoch's sample order, or ``None`` for 0..n-1.
        n: the number of samples in the data.
        shard: this process's share, or ``None`` outside torchrun.
    """
    if shard is None:
        return order
    return shard_order(torch.arange(n) if order is None else order, shard.group, shard.pad)


def distributed_loader(loader: DataLoader, shard: Shard, seed: int) -> DataLoader:
    """``loader`` rebuilt around a ``DistributedSampler``: same batch size, workers and collate.

    Args:
        loader: the user's training DataLoader over a map-style dataset.
        shard: this process's share.
        seed: the seed the sampler shuffles with, the same on every rank.
    """
    sampler: DistributedSampler = DistributedSampler(
        loader.dataset, num_replicas=shard.group.world_size, rank=shard.group.rank,
        shuffle=isinstance(loader.sampler, RandomSampler), seed=seed, drop_last=loader.drop_last,
    )
    return DataLoader(
        loader.dataset, batch_size=loader.batch_size, sampler=sampler,
        num_workers=loader.num_workers, collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory, drop_last=loader.drop_last,
        worker_init_fn=loader.worker_init_fn, persistent_workers=loader.persistent_workers,
    )
