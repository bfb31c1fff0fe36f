"""Multi-process training under ``torchrun``: detection, process group, sharding, reductions.

``torchrun`` (``python -m torch.distributed.run``) starts one process per device and sets
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. A ``Model`` built in such a process trains as one
member of the group: its module is wrapped in ``DistributedDataParallel`` for training, each
process sees its own shard of the data, and everything a user reads (epoch logs, ``predict``
output) is identical on every rank. Nothing here runs in a plain single-process script.
"""

from __future__ import annotations

import atexit
import datetime
import gc
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from kerasish.tree import map_together


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` picks cuda, then mps, then cpu."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def wrap_ddp(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The ``DistributedDataParallel`` wrapper the default training step runs under DDP."""
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


# How to drop each live DDP wrapper (it holds the process group) before the group is left at exit;
# weak, so a model freed earlier is not kept alive.
_DDP_RELEASES: list[weakref.WeakMethod[Callable[[], None]]] = []


def release_before_exit(release: Callable[[], None]) -> None:
    """Have the exit handler call ``release`` (a bound method dropping a DDP wrapper) first."""
    _DDP_RELEASES.append(weakref.WeakMethod(release))


def _leave_group_at_exit() -> None:
    """Leave the process group kerasish joined, once the script is done, as torch asks.

    A script that trains under torchrun and simply ends keeps the group and the DDP wrappers
    (which hold it) up until the interpreter tears down; gloo then sometimes aborts the process
    ("terminate called without an active exception", exit code -6), failing a run that trained
    and saved correctly. So the wrappers are dropped, collected, and the group destroyed here.
    Only for gloo (CPU), where the abort is seen: an NCCL group torn down while a crashed rank's
    peers still wait in a collective could hang the exit instead.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_backend() != "gloo":
        return
    for reference in _DDP_RELEASES:
        release = reference()
        if release is not None:
            release()
    gc.collect()
    dist.destroy_process_group()


def main_decides(value: Any) -> Any:
    """Rank 0's ``value`` on every rank when a process group is up (so that a decision a
    collective depends on, such as whether and where to save a sharded model, agrees)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def local_device() -> torch.device:
    """This process's device: ``cuda:LOCAL_RANK`` when CUDA is there, else the CPU.

    More processes than GPUs on a node would fail later with CUDA's "invalid device ordinal";
    say so now, with the two ways out.
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    local_rank, gpus = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if local_rank >= gpus:
        raise ValueError(
            f"torchrun started process LOCAL_RANK={local_rank} but this node has {gpus} CUDA "
            f"device(s): pass --nproc_per_node={gpus} or less, or Model(module, device='cpu') to "
            "train the processes on the CPU."
        )
    return torch.device("cuda", local_rank)


@dataclass(frozen=True)
class Group:
    """The process group this model trains in."""

    rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def join(cls, device: torch.device) -> Group:
        """Initialise the default process group unless the user already has (gloo/nccl)."""
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=10))
            atexit.register(_leave_group_at_exit)  # joined here, so left here too
            if device.type == "cuda":
                torch.cuda.set_device(device)
        return cls(rank=dist.get_rank(), world_size=dist.get_world_size())

    def broadcast(self, value: Any) -> Any:
        """Rank 0's value on every rank (e.g. the shuffling seed, so all ranks share an order)."""
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_reduce_sum(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """The tensors summed across ranks (new tensors), one collective per kind of number.

        Integer (and bool) states are summed as int64 and floating ones in their own dtype: as
        float32 a count above 2**24 (a few segmentation batches' pixels in an IoU matrix, an
        epoch's samples) would come back rounded, and a float64 state would lose its precision.
        """
        kinds: dict[torch.dtype, list[int]] = {}
        for i, t in enumerate(tensors):
            dtype = t.dtype if t.is_floating_point() or t.is_complex() else torch.int64
            kinds.setdefault(dtype, []).append(i)
        summed: list[torch.Tensor] = [torch.empty(0)] * len(tensors)
        for dtype, indices in kinds.items():
            flat = torch.cat([tensors[i].reshape(-1).to(dtype) for i in indices])
            dist.all_reduce(flat)
            for i, part in zip(indices, flat.split([tensors[i].numel() for i in indices])):
                summed[i] = part
        return summed

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if it is True on any rank (so decisions like stopping agree)."""
        value = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def gather(self, value: Any) -> list[Any]:
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        dist.barrier()


def shard_order(order: torch.Tensor, group: Group, pad: bool) -> torch.Tensor:
    """Rank r's part of an epoch's order: every world_size-th sample, as DistributedSampler does.

    For training the order is padded (by repeating its start) to a multiple of the world size so
    every rank runs the same number of steps, as DistributedSampler does; evaluation does not pad,
    so sums over the shards are exactly the sums over the data.
    """
    if pad:
        total = -(-order.numel() // group.world_size) * group.world_size
        if total > order.numel():
            order = torch.cat([order, order[: total - order.numel()]])
    return order[group.rank::group.world_size]


def interleave(shards: list[Any]) -> Any:
    """Undo ``shard_order(pad=False)`` for predictions: rank r's rows go back to r, r+W, ..."""
    return map_together(_interleave_leaf, shards)


def _interleave_leaf(shards: Sequence[Any]) -> Any:
    import numpy as np

    first = shards[0]
    total = sum(len(s) for s in shards)
    out = np.empty((total, *first.shape[1:]), dtype=first.dtype)
    for rank, shard in enumerate(shards):
        out[rank::len(shards)] = shard
    return out
