"""In-memory arrays and tensors as batches: the fast path.

The data is converted to tensors once (NumPy memory is shared, not copied, unless a float64 array
has to become float32), kept on the device when it fits, and each batch is one ``index_select``
with a slice of a permutation: no per-sample ``__getitem__`` and no collate. The permutation of
epoch ``e`` is drawn from a generator seeded with ``seed + e``, so an epoch's order can be rebuilt
exactly (resuming mid-epoch, several processes). A plain ``DataLoader`` over a ``TensorDataset``
takes the same path, in the order the loader itself would draw (``TensorLoaderSource``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
    default_collate,
)

from kerasish.data.replay import replay_draws
from kerasish.data.sharding import Shard, local_count, sharded_order
from kerasish.data.structures import Batch, as_tensor, check_lengths, sample_weights, to_device
from kerasish.tree import flatten, map_structure
from kerasish.user_warnings import warn_user

# Arrays larger than this fraction of free accelerator memory stay on the host (pinned batches).
_RESIDENT_FRACTION = 0.25


class ArraySource:
    """Batches from in-memory arrays/tensors by indexing with a permutation.

    Under ``torchrun`` (``shard`` given) each process takes every world_size-th sample of the
    epoch's order, as ``DistributedSampler`` does, padded for training so ranks step together.
    """

    reiterable = True

    def __init__(self, x, y=None, sample_weight=None, *, batch_size: int, shuffle: bool | str,
                 device: torch.device, seed: int = 0, shard: Shard | None = None,
                 drop_last: bool = False):
        self.x = map_structure(as_tensor, x)
        self.y = map_structure(as_tensor, y)
        self.sample_weight = sample_weights(sample_weight)
        self.n = check_lengths(self.x, self.y, self.sample_weight)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = device
        self.seed = seed
        self.shard = shard
        self.drop_last = drop_last
        self._resident = _fits_on_device(self.x, self.y, device)
        if self._resident:
            self.x, self.y, self.sample_weight = to_device(
                (self.x, self.y, self.sample_weight), device
            )
        self._non_blocking = device.type == "cuda"
        # One tensor each for x, y and sample_weight: batches are taken without a tree walk.
        self._plain = type(self.x) is torch.Tensor and all(
            t is None or type(t) is torch.Tensor for t in (self.y, self.sample_weight))

    @property
    def num_batches(self) -> int:
        count = local_count(self.n, self.shard)
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def warn_if_not_finite(self, argument: str = "x") -> None:
        """Warn once when the floating-point arrays hold NaN or inf (one host read per fit)."""
        floats = [t for t in flatten((self.x, self.y, self.sample_weight)) if t.is_floating_point()]
        if not floats:
            return
        finite = torch.stack([torch.isfinite(t).all() for t in floats]).all()
        if not bool(finite):
            warn_user(
                f"{argument}, y or sample_weight holds NaN or infinite values: the loss and then "
                "every weight will become NaN. Clean or impute them first (np.nan_to_num, or drop "
                "those rows).",
                UserWarning,
            )

    def targets(self):
        return self.y

    def order(self, epoch: int) -> torch.Tensor | None:
        """The sample order of an epoch (``None`` means 0..n-1), rebuilt from ``seed + epoch``."""
        if not self.shuffle:
            return None
        generator = torch.Generator().manual_seed(self.seed + epoch)
        if self.shuffle == "batch":
            # Keras's "batch" shuffle: whole batches change places, their contents stay together.
            starts = torch.randperm(self.num_batches, generator=generator) * self.batch_size
            return torch.cat([torch.arange(s, min(s + self.batch_size, self.n)) for s in starts.tolist()])
        return torch.randperm(self.n, generator=generator)

    order_generators: list[torch.Generator] = []

    def iter_epoch(self, epoch: int, start_batch: int = 0,
                   replay: Mapping[str, Any] | None = None) -> Iterator[Batch]:
        if replay is not None:  # a resumed epoch: its order as the interrupted run drew it
            order = replay_draws(replay, [], lambda: self.order(epoch))
        else:
            order = self.order(epoch)
        order = sharded_order(order, self.n, self.shard)
        if order is None:
            # No shuffling: each batch is a slice, a view of the data (no copy at all).
            pieces = [slice(i, i + self.batch_size) for i in range(0, self.n, self.batch_size)]
        else:
            if self._resident:
                order = order.to(self.device)
            pieces = order.split(self.batch_size)  # views of one permutation, made once an epoch
        select = self._select
        for piece in pieces[start_batch:self.num_batches]:
            batch = select(piece)
            if not self._resident:
                batch = to_device(map_structure(_pinned, batch), self.device,
                                  non_blocking=self._non_blocking)
            yield batch

    def first_batch(self) -> Batch:
        """The first batch on the device, read without a random draw (nothing is consumed)."""
        batch = self._select(slice(0, self.batch_size))
        return batch if self._resident else to_device(batch, self.device)

    def _select(self, piece) -> Batch:
        """Rows ``piece`` (a slice or an index tensor) of x, y and sample_weight."""
        x, y, sw = self.x, self.y, self.sample_weight
        if isinstance(piece, slice):
            take = lambda t: t[piece]  # noqa: E731
        else:
            take = lambda t: t.index_select(0, piece)  # noqa: E731
        if self._plain:
            return take(x), (None if y is None else take(y)), (None if sw is None else take(sw))
        return map_structure(take, (x, y, sw))


class TensorLoaderSource(ArraySource):
    """A plain ``DataLoader`` over a ``TensorDataset``, batched like arrays, in the loader's order.

    Such a loader collates every batch from per-sample ``__getitem__`` calls, which costs more than
    the whole step of a small model. Its batches are exactly the rows the ``index_select`` fast
    path takes, so kerasish takes them that way. The order is drawn as the loader draws it: one
    seed from the global RNG when its iterator is made,
    then (shuffling) one more that seeds ``RandomSampler``'s own permutation. Training therefore
    matches the loader sample for sample and leaves the global RNG where the loader would.
    ``plain_tensor_loader`` says which loaders qualify; the others keep the general path.
    """

    def __init__(self, loader: DataLoader, *, device: torch.device):
        x, y, sample_weight = split_tensors(loader.dataset)
        super().__init__(x, y, sample_weight, batch_size=int(loader.batch_size or 1),
                         shuffle=isinstance(loader.sampler, RandomSampler), device=device,
                         drop_last=loader.drop_last)

    def order(self, epoch: int) -> torch.Tensor | None:
        torch.empty((), dtype=torch.int64).random_()  # the loader iterator's base seed
        if not self.shuffle:
            return None
        seed = int(torch.empty((), dtype=torch.int64).random_().item())  # RandomSampler's
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(seed))


def plain_tensor_loader(data) -> bool:
    """A ``DataLoader`` whose batches are plain row selections of a ``TensorDataset``.

    Exact types only (a subclass may change ``__getitem__`` or sampling), default collation, no
    workers, a default sequential or random sampler and no generator of its own, and at most
    ``(x, y, sample_weight)`` tensors with a 1-D weight. Anything else keeps the general path.
    """
    if type(data) is not DataLoader or not plain_tensor_dataset(data.dataset):
        return False
    sampler = data.sampler
    plain_sampler = type(sampler) is SequentialSampler or (
        type(sampler) is RandomSampler and not sampler.replacement
        and sampler.num_samples == len(data.dataset) and sampler.generator is None  # type: ignore[arg-type]
    )
    return (plain_sampler and data.generator is None and data.num_workers == 0
            and data.collate_fn is default_collate and data.batch_size is not None
            and type(data.batch_sampler) is BatchSampler and data.batch_sampler.sampler is sampler)


def plain_tensor_dataset(dataset) -> bool:
    """A ``TensorDataset`` (exact type) of ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, 1-D weight.

    Its samples are rows of its tensors, so it can be batched like arrays: ``index_select``
    gives the very batches that per-sample ``__getitem__`` and ``default_collate`` would.
    """
    if type(dataset) is not TensorDataset:
        return False
    tensors = dataset.tensors
    return 1 <= len(tensors) <= 3 and (len(tensors) < 3 or tensors[2].dim() == 1)


def split_tensors(dataset: Any) -> tuple[Any, Any, Any]:
    """``(x, y, sample_weight)`` from a plain ``TensorDataset``'s tensors (missing ones are None)."""
    tensors: tuple[Any, ...] = (*dataset.tensors, None, None)
    return tensors[0], tensors[1], tensors[2]


def _pinned(t: torch.Tensor) -> torch.Tensor:
    return t.pin_memory() if torch.cuda.is_available() else t


def _fits_on_device(x, y, device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    nbytes = sum(t.numel() * t.element_size() for t in flatten((x, y)))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes < _RESIDENT_FRACTION * free
    return True
