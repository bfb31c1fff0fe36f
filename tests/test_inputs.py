"""Every input kind trains the same way; arrays take the permutation fast path."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of


def _train(data, *, y=None, batch_size=None, shuffle=False, seed=5, epochs=2):
    torch.manual_seed(seed)
    model = ks.Model(mlp(dropout=0.3)).compile("sgd", "cross_entropy")
    model.fit(data, y, batch_size=batch_size, epochs=epochs, shuffle=shuffle, verbose=0)
    return weights_of(model.module)


def test_arrays_tensors_dataset_dataloader_and_generator_give_identical_weights():
    x, y = classification_data(n=100)
    reference = _train(x, y=y, batch_size=16)
    tensors = _train(torch.tensor(x), y=torch.tensor(y), batch_size=16)
    dataset = TensorDataset(torch.tensor(x), torch.tensor(y))
    from_dataset = _train(dataset, batch_size=16)
    # A loader's iterator draws its base seed from the global RNG unless it has a generator.
    from_loader = _train(DataLoader(dataset, batch_size=16, generator=torch.Generator()))
    for other in (tensors, from_dataset, from_loader):
        assert same_weights(reference, other)
    from_generator = _train(((x[i:i + 16], y[i:i + 16]) for i in range(0, 100, 16)), epochs=1)
    assert same_weights(_train(x, y=y, batch_size=16, epochs=1), from_generator)


def test_shuffled_arrays_and_dataset_see_the_same_order():
    x, y = classification_data(n=100)
    dataset = TensorDataset(torch.tensor(x), torch.tensor(y))
    assert same_weights(_train(x, y=y, batch_size=16, shuffle=True),
                        _train(dataset, batch_size=16, shuffle=True))


def test_dataset_with_sample_weights_and_plain_python_dataset():
    x, y = classification_data(n=40)

    class Samples(Dataset):
        def __len__(self):
            return 40

        def __getitem__(self, i):
            return x[i], y[i], np.float32(2.0)

    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    weighted = model.evaluate(Samples(), batch_size=8, verbose=0)
    plain = model.evaluate(x, y, verbose=0)
    assert weighted == pytest.approx(2 * plain, rel=1e-5)


def test_float64_arrays_become_float32_like_keras():
    x, y = classification_data(n=20)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    model.fit(x.astype("float64"), y, verbose=0)
    assert model.predict(x.astype("float64"), verbose=0).dtype == np.float32


def test_array_batches_are_views_or_index_selects_not_per_sample_collate(monkeypatch):
    """The array path never calls Dataset.__getitem__ or default_collate."""
    import torch.utils.data._utils.collate as collate

    calls = []
    original = collate.default_collate
    monkeypatch.setattr(collate, "default_collate", lambda b: calls.append(1) or original(b))
    x, y = classification_data(n=64)
    ks.Model(mlp()).compile("sgd", "cross_entropy").fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert calls == []


def test_numpy_input_is_not_copied_for_float32():
    from kerasish.data import ArraySource

    x, y = classification_data(n=64)
    source = ArraySource(x, y, batch_size=8, shuffle=True, device=torch.device("cpu"))
    assert source.x.data_ptr() == x.__array_interface__["data"][0]


def test_a_plain_tensor_dataset_or_its_dataloader_is_batched_without_per_sample_getitem(monkeypatch):
    x, y = classification_data(n=64)
    calls = {"n": 0}
    original = TensorDataset.__getitem__

    def counted(self, index):
        calls["n"] += 1
        return original(self, index)

    monkeypatch.setattr(TensorDataset, "__getitem__", counted)
    dataset = TensorDataset(torch.tensor(x), torch.tensor(y))
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    model.fit(DataLoader(dataset, batch_size=8, shuffle=True), epochs=2, verbose=0)
    model.fit(dataset, batch_size=8, shuffle=True, epochs=2, verbose=0)  # the Dataset itself too
    assert calls["n"] == 0
    # With workers (or a custom collate, sampler, generator or subclass) the loader runs as given.
    model.fit(DataLoader(dataset, batch_size=8, collate_fn=lambda b: default_collate(b)), epochs=1,
              verbose=0)
    assert calls["n"] == 64


def test_only_loaders_whose_batches_are_row_selections_take_the_fast_path():
    from torch.utils.data import RandomSampler

    from kerasish.data import plain_tensor_loader

    x, y = classification_data(n=20)
    dataset = TensorDataset(torch.tensor(x), torch.tensor(y))
    assert plain_tensor_loader(DataLoader(dataset, batch_size=4, shuffle=True, drop_last=True))
    assert plain_tensor_loader(DataLoader(dataset, batch_size=4, sampler=RandomSampler(dataset)))
    as_given = [
        DataLoader(dataset, batch_size=4, num_workers=1),
        DataLoader(dataset, batch_size=4, shuffle=True, generator=torch.Generator()),
        DataLoader(dataset, batch_size=4, sampler=RandomSampler(dataset, num_samples=10)),
        DataLoader(dataset, batch_size=4, sampler=RandomSampler(dataset, replacement=True)),
        DataLoader(dataset, batch_size=None),
        DataLoader(TensorDataset(*dataset.tensors, torch.ones(20, 2)), batch_size=4),  # 2-D weights
        DataLoader(TensorDataset(*dataset.tensors, torch.ones(20), torch.ones(20)), batch_size=4),
    ]
    assert not any(plain_tensor_loader(loader) for loader in as_given)
