"""Ported from Keras 3's keras/src/trainers/epoch_iterator_test.py, through ``fit``.

Keras tests its internal ``EpochIterator``; kerasish's iterator is internal too, so each case is
observed from outside: the batch indices callbacks receive, the batches the module sees, warnings
and errors. Keras runs the same fits in the test where its numbers are compared.
"""

import warnings

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import assert_unchanged, dense_model, keras, weights_of


def _batch_recorder(base):
    class BatchRecorder(base):
        def __init__(self):
            super().__init__()
            self.begins, self.ends = [], []

        def on_train_batch_begin(self, batch, logs=None):
            self.begins.append(batch)

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(batch)

    return BatchRecorder()


class ShapeRecorder(torch.nn.Module):
    """A linear layer that records the shapes and dtypes of the batches it is given."""

    def __init__(self, features, units):
        super().__init__()
        self.dense = torch.nn.Linear(features, units)
        self.seen = []

    def forward(self, x):
        self.seen.append((tuple(x.shape), x.dtype))
        return self.dense(x)


def test_basic_flow():
    rng = np.random.default_rng(6)
    x, y = rng.random((100, 16)).astype("float32"), rng.random((100, 4)).astype("float32")
    sample_weight = rng.random((100,)).astype("float32")
    kmodel, twin = dense_model(features=16, heads=(("output_0", 4, None),))
    kmodel.compile(optimizer="sgd", loss="mse")
    theirs = _batch_recorder(keras.callbacks.Callback)
    kmodel.fit(x, y, sample_weight=sample_weight, batch_size=16, shuffle=True, callbacks=[theirs], verbose=0)
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse")
    ours = _batch_recorder(ks.callbacks.Callback)
    model.fit(x, y, sample_weight=sample_weight, batch_size=16, shuffle=True, callbacks=[ours], verbose=0)
    assert ours.begins == ours.ends == theirs.begins == [0, 1, 2, 3, 4, 5, 6]


def test_insufficient_data():
    batch_size, steps_per_epoch = 8, 6
    x = np.arange(batch_size * (steps_per_epoch - 2), dtype="float32").reshape(-1, 1)
    y = x * 2
    kmodel, twin = dense_model(features=1)
    kmodel.compile(optimizer="sgd", loss="mse")
    theirs = _batch_recorder(keras.callbacks.Callback)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kmodel.fit(x, y, batch_size=batch_size, steps_per_epoch=steps_per_epoch, callbacks=[theirs],
                   verbose=0)
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse")
    ours = _batch_recorder(ks.callbacks.Callback)
    with pytest.warns(UserWarning, match="ran out of data"):
        model.fit(x, y, batch_size=batch_size, steps_per_epoch=steps_per_epoch, callbacks=[ours], verbose=0)
    assert len(ours.begins) == steps_per_epoch - 2 == len(theirs.begins)


class ExampleTorchDataset(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return self.x[idx], self.y[idx]


def test_torch_dataloader():
    rng = np.random.default_rng(7)
    dataset = ExampleTorchDataset(rng.random((64, 2)), rng.random((64, 1)))  # float64, as in Keras's test
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True)
    module = ShapeRecorder(2, 1)
    model = ks.Model(module, device="cpu").compile(optimizer="sgd", loss="mse")
    history = model.fit(loader, verbose=0)
    assert module.seen == [((8, 2), torch.float32)] * 8  # float64 becomes float32, as in Keras
    assert np.isfinite(history.history["loss"][0])


def _loader():
    rng = np.random.default_rng(8)
    dataset = ExampleTorchDataset(rng.random((100, 16)), rng.random((100, 4)))
    return torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True)


@pytest.mark.parametrize("argument", ["y", "sample_weight"])
def test_unsupported_y_or_sample_weight_with_a_torch_dataloader(argument):
    # Keras's test_unsupported_y_arg_torch_dataloader and
    # test_unsupported_sample_weights_arg_torch_dataloader.
    model = ks.Model(torch.nn.Linear(16, 4), device="cpu").compile(optimizer="sgd", loss="mse")
    before = weights_of(model.module)
    extra = {argument: np.random.default_rng(9).random((100, 4) if argument == "y" else (100,))}
    with pytest.raises(ValueError, match=rf"\b{argument}\b.*DataLoader"):
        model.fit(_loader(), verbose=0, **extra)
    assert_unchanged(before, model.module)


def test_unrecognized_data_type():
    model = ks.Model(torch.nn.Linear(16, 4), device="cpu").compile(optimizer="sgd", loss="mse")
    before = weights_of(model.module)
    with pytest.raises((ValueError, TypeError), match=r"\bx\b"):
        model.fit("unsupported_data", verbose=0)
    assert_unchanged(before, model.module)
