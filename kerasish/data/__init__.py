"""Input adapters: arrays, tensors, Datasets, DataLoaders and iterables -> device batches.

Every adapter yields ``(x, y, sample_weight)`` triples already on the training device. Array and
tensor input (and a ``TensorDataset``, or a plain ``DataLoader`` over one) takes the fast path of
``arrays``: tensors made once, kept on the device when they fit, one ``index_select`` per batch,
an epoch's order rebuilt from ``seed + epoch``. ``loaders`` batches other Datasets and runs
DataLoaders and iterables as they come; ``sources`` picks the adapter for what the user passed.
``epochs`` gives Keras's epoch semantics and the position a backup saves, with ``replay`` (the
random states an order was drawn from) and ``sharding`` (each process's share under torchrun).
``structures`` holds the conversions and checks they all share. This package re-exports them.
"""

from __future__ import annotations

from kerasish.data.arrays import (
    ArraySource,
    TensorLoaderSource,
    plain_tensor_dataset,
    plain_tensor_loader,
    split_tensors,
)
from kerasish.data.epochs import EpochIterator
from kerasish.data.loaders import DatasetSource, IterableSource
from kerasish.data.replay import loader_generators, order_rng_state, replay_draws
from kerasish.data.sharding import Shard, shard_for
from kerasish.data.sources import Replaying, first_batch, make_source, replayable
from kerasish.data.structures import (
    Batch,
    as_tensor,
    check_lengths,
    device_batch,
    is_array_like,
    num_samples,
    sample_weights,
    split_for_validation,
    to_device,
    unpack_batch,
)

__all__ = [
    "Batch", "is_array_like", "as_tensor", "to_device", "device_batch", "unpack_batch",
    "num_samples", "sample_weights", "check_lengths", "split_for_validation",
    "loader_generators", "order_rng_state", "replay_draws", "Shard", "shard_for",
    "ArraySource", "TensorLoaderSource", "plain_tensor_loader", "plain_tensor_dataset",
    "split_tensors", "DatasetSource", "IterableSource",
    "make_source", "Replaying", "replayable", "first_batch", "EpochIterator",
]
