"""Input adapters: arrays, tensors, Datasets, DataLoaders and iterables -> device batches.

Every adapter yields ``(x, y, sample_weight)`` triples already on the training device.

Array and tensor input takes the fast path: the data is converted to tensors once (NumPy memory is
shared, not copied, unless a float64 array has to become float32), kept on the device when it fits,
and each batch is one ``index_select`` with a slice of a permutation. No per-sample ``__getitem__``
and no collate. The permutation of epoch ``e`` is drawn from a generator seeded with ``seed + e``,
so an epoch's order can be rebuilt exactly (resuming mid-epoch, several processes). A
``TensorDataset`` takes the same path, and so does a plain ``DataLoader`` over one, in the order
the loader itself would draw (``TensorLoaderSource``).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
    default_collate,
)

from kerasish.distributed import Group, shard_order
from kerasish.tree import flatten, map_structure

Batch = tuple[Any, Any, Any]

# Arrays larger than this fraction of free accelerator memory stay on the host (pinned batches).
_RESIDENT_FRACTION = 0.25


# ----------------------------------------------------------------------------- nested structures
# (the walks themselves are kerasish.tree's)

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


# ----------------------------------------------------------------------------- order replay

def loader_generators(data: Any) -> list[torch.Generator]:
    """The generators a DataLoader draws its order from besides the global RNG (own or sampler's)."""
    found: list[torch.Generator] = []
    candidates = [getattr(data, "generator", None)]
    for sampler in (getattr(data, "sampler", None),
                    getattr(getattr(data, "batch_sampler", None), "sampler", None)):
        candidates.append(getattr(sampler, "generator", None))
    for generator in candidates:
        if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
            found.append(generator)
    return found


def order_rng_state(generators: list[torch.Generator]) -> dict[str, Any]:
    """The random states an epoch's order is drawn from: torch's CPU RNG and the loader's own."""
    return {"torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators]}


def replay_draws(state: Mapping[str, Any], generators: list[torch.Generator], draw) -> Any:
    """Run ``draw()`` with the random states of ``state`` and return its result.

    Used to rebuild an interrupted epoch's order: the global RNG is put back afterwards (it holds
    the resumed run's state), the loader's own generators are left where the draw took them, as an
    uninterrupted run leaves them.
    """
    current = torch.get_rng_state()
    torch.set_rng_state(state["torch"].cpu())
    for generator, saved in zip(generators, state["generators"]):
        generator.set_state(saved.cpu())
    try:
        return draw()
    finally:
        torch.set_rng_state(current)


# ----------------------------------------------------------------------------- sources

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
        count = _local_count(self.n, self.shard)
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def warn_if_not_finite(self, argument: str = "x") -> None:
        """Warn once when the floating-point arrays hold NaN or inf (one host read per fit)."""
        floats = [t for t in flatten((self.x, self.y, self.sample_weight)) if t.is_floating_point()]
        if not floats:
            return
        finite = torch.stack([torch.isfinite(t).all() for t in floats]).all()
        if not bool(finite):
            warnings.warn(
                f"{argument}, y or sample_weight holds NaN or infinite values: the loss and then "
                "every weight will become NaN. Clean or impute them first (np.nan_to_num, or drop "
                "those rows).",
                UserWarning, stacklevel=4,
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
        order = _sharded(order, self.n, self.shard)
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
    the whole step of a small model (about 1.5x the ideal loop on the suite's tiny MLP). Its batches
    are exactly the rows the ``index_select`` fast path takes, so kerasish takes them that way. The
    order is drawn as the loader draws it: one seed from the global RNG when its iterator is made,
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
        return math.ceil(_local_count(self.n, self.shard) / self.batch_size)

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
        sharded = _sharded(order, self.n, self.shard)
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
            data = _distributed_loader(data, shard, seed)
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
    them, followed by whatever the generator still yields: a generator given as ``validation_data``
    is read in full on the first validation and gives its first two batches on the later ones.

    Args:
        iterator: the one-shot iterator (a generator).
        peek: how many batches to keep (Keras keeps 2).
    """

    def __init__(self, iterator: Iterator, peek: int = 2):
        self.iterator = iterator
        self.peeked = list(itertools.islice(iterator, peek))

    def __iter__(self) -> Iterator:
        return itertools.chain(self.peeked, self.iterator)


def replayable(data: Any, argument: str) -> Any:
    """``data`` itself, or a one-shot iterator as ``Replaying``; an empty one is a ``ValueError``
    naming ``argument`` (Keras: "the generator must yield at least one batch")."""
    if not isinstance(data, Iterator) or isinstance(data, Replaying):
        return data
    replaying = Replaying(data)
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
        batch = source._select(slice(0, source.batch_size))
        return batch if source._resident else to_device(batch, source.device)
    data = getattr(source, "data", None)
    if isinstance(data, Replaying):
        return device_batch(unpack_batch(data.peeked[0]), source.device)
    return None


class Shard(NamedTuple):
    """This process's share of the data under torchrun; ``pad`` for training, not evaluation."""

    group: Group
    pad: bool


def _local_count(n: int, shard: Shard | None) -> int:
    if shard is None:
        return n
    world, rank = shard.group.world_size, shard.group.rank
    return -(-n // world) if shard.pad else len(range(rank, n, world))


def _sharded(order: torch.Tensor | None, n: int, shard: Shard | None) -> torch.Tensor | None:
    if shard is None:
        return order
    return shard_order(torch.arange(n) if order is None else order, shard.group, shard.pad)


def _distributed_loader(loader: DataLoader, shard: Shard, seed: int) -> DataLoader:
    from torch.utils.data import DistributedSampler, RandomSampler

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


def _no_separate_targets(y, sample_weight, kind: str) -> None:
    if y is not None or sample_weight is not None:
        raise ValueError(
            f"y and sample_weight must be None when x is a {kind}: the data itself yields "
            "(x, y) or (x, y, sample_weight) batches."
        )


def split_for_validation(x, y, sample_weight, validation_split: float):
    """Keras's ``validation_split``: the last fraction of the arrays, taken before shuffling."""
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


class EpochIterator:
    """Keras's epoch semantics on top of a source, including ``steps_per_epoch``, and its position.

    Without ``steps_per_epoch`` every epoch is one full pass. With it, one iterator runs on across
    epochs (a generator is not restarted); a re-iterable source starts a new pass when it runs out.
    Running out mid-epoch warns and ends the epoch, as in Keras; a one-shot iterator that is
    exhausted sets ``exhausted`` so the caller stops training.

    ``state()`` says where the data stands (the pass, the batches read from it, and the random
    states its order was drawn from); ``resume_from(state)`` makes the next ``epoch`` call continue
    exactly there, for every source that can be iterated again.
    """

    def __init__(self, source, steps_per_epoch: int | None = None):
        self.source = source
        self.steps_per_epoch = steps_per_epoch
        self.exhausted = False
        self._iterator: Iterator[Batch] | None = None
        self._pass = 0  # the pass being read (with steps_per_epoch, passes span epochs)
        self._read = 0  # batches read from the current pass
        self._pass_rng: dict[str, Any] | None = None  # random states the pass's order came from
        self._resume: Mapping[str, Any] | None = None

    @property
    def steps(self) -> int | None:
        return self.steps_per_epoch or self.source.num_batches

    def state(self) -> dict[str, Any]:
        """Where the data stands: saved with a backup so a resumed run reads what this one would."""
        return {"pass": self._pass, "read": self._read, "pass_rng": self._pass_rng,
                "generators": [g.get_state() for g in self.source.order_generators]}

    def resume_from(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state`` at the next ``epoch`` call (a one-shot iterator warns: it can't)."""
        if not self.source.reiterable:
            warnings.warn(
                "Resuming from a backup with a one-shot iterator as input: kerasish cannot rewind "
                "it, so training continues with whatever batches it yields next, and the result "
                "is not the same as an uninterrupted run. Pass a re-iterable input (arrays, a "
                "Dataset, a DataLoader) for an exact resume.",
                UserWarning, stacklevel=3,
            )
            return
        for generator, saved in zip(self.source.order_generators, state.get("generators", [])):
            generator.set_state(saved.cpu())
        self._resume = state

    def _start_pass(self, index: int, start_batch: int) -> Iterator[Batch]:
        resume, self._resume = self._resume, None
        replay = resume.get("pass_rng") if resume is not None and start_batch else None
        self._pass, self._read = index, start_batch
        if replay is not None:
            self._pass_rng = replay
        else:  # a few KB copied once per pass, so that a backup can rebuild the pass's order
            self._pass_rng = order_rng_state(self.source.order_generators)
        return self.source.iter_epoch(index, start_batch, replay=replay)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[int, Batch]]:
        if self.steps_per_epoch is None:
            step = start_batch - 1
            for step, batch in enumerate(self._start_pass(epoch, start_batch), start_batch):
                self._read = step + 1
                yield step, batch
            if step < 0:
                self._ran_out()
            return
        step = start_batch
        if self._resume is not None:  # continue the pass the interrupted run was reading
            self._iterator = self._start_pass(int(self._resume["pass"]), int(self._resume["read"]))
        while step < self.steps_per_epoch:
            if self._iterator is None:
                self._iterator = self._start_pass(self._pass + 1 if self._pass_rng else 0, 0)
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if step == 0 and self.source.reiterable and not self._just_restarted:
                    self._just_restarted = True
                    continue
                self._ran_out()
                return
            self._just_restarted = False
            self._read += 1
            yield step, batch
            step += 1

    _just_restarted = False

    def rewind(self) -> None:
        """Make the next ``epoch`` start at the data's first batch, even with ``steps_per_epoch``
        (a one-shot iterator cannot rewind and reads on). Each validation in ``fit`` starts here,
        as Keras starts each from the first batch whatever ``validation_steps``."""
        if self.source.reiterable:
            self._iterator, self._pass_rng = None, None

    def _ran_out(self) -> None:
        warnings.warn(
            "Your input ran out of data; interrupting training. Make sure that your dataset or "
            "generator can generate at least `steps_per_epoch * epochs` batches.",
            UserWarning,
            stacklevel=4,
        )
        if not self.source.reiterable:
            self.exhausted = True
