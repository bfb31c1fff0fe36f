"""Hypothesis properties of the loop."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kerasish as ks

from helpers import GeneralDataset, GeneralLoader, classification_data, mlp, same_weights, weights_of

SETTINGS = settings(max_examples=20, deadline=None)


class Recorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)
        self.seen: list[float] = []

    def forward(self, x):
        if self.training:
            self.seen.extend(x[:, 0].tolist())
        return self.linear(x)


@SETTINGS
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), shuffle=st.sampled_from([True, False, "batch"]))
def test_every_sample_exactly_once_per_epoch(n, batch_size, shuffle):
    x = np.arange(n, dtype="float32").reshape(-1, 1)
    y = np.zeros((n, 1), dtype="float32")
    net = Recorder()
    ks.Model(net).compile("sgd", "mse").fit(x, y, batch_size=batch_size, epochs=2, shuffle=shuffle, verbose=0)
    assert sorted(net.seen[:n]) == list(range(n))
    assert sorted(net.seen[n:]) == list(range(n))
    assert len(net.seen) == 2 * n


@SETTINGS
@given(b1=st.integers(1, 50), b2=st.integers(1, 50), weighted=st.booleans())
def test_evaluate_is_independent_of_batch_size(b1, b2, weighted):
    x, y = classification_data(n=50)
    torch.manual_seed(0)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy", metrics=["accuracy"],
                                    weighted_metrics=["accuracy"])
    sw = np.linspace(0.5, 2.0, 50).astype("float32") if weighted else None
    first = model.evaluate(x, y, batch_size=b1, sample_weight=sw, verbose=0)
    second = model.evaluate(x, y, batch_size=b2, sample_weight=sw, verbose=0)
    np.testing.assert_allclose(first, second, rtol=1e-5)


@SETTINGS
@given(n=st.integers(1, 40), batch_size=st.integers(1, 16))
def test_predict_equals_the_module_in_eval_mode(n, batch_size):
    net = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.5),
                              torch.nn.Linear(8, 2))
    x, _ = classification_data(n=n)
    out = ks.Model(net, device="cpu").predict(x, batch_size=batch_size, verbose=0)
    net.eval()
    with torch.no_grad():
        expected = net(torch.tensor(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@SETTINGS
@given(k=st.integers(1, 4), b=st.integers(1, 8), windows=st.integers(1, 3))
def test_accumulating_k_batches_of_b_equals_one_batch_of_k_times_b(k, b, windows):
    n = k * b * windows
    x, y = classification_data(n=n)
    results = []
    for steps, batch in ((k, b), (1, k * b)):
        torch.manual_seed(0)
        model = ks.Model(mlp()).compile("sgd", "cross_entropy", gradient_accumulation_steps=steps)
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        results.append(weights_of(model.module))
    assert same_weights(*results, atol=1e-5)


@SETTINGS
@given(n=st.integers(1, 50), batch_size=st.integers(1, 20), shuffle=st.booleans(),
       drop_last=st.booleans(), weighted=st.booleans())
def test_tensor_dataloader_fast_path_trains_exactly_like_the_loader(n, batch_size, shuffle, drop_last,
                                                                    weighted):
    if drop_last and n < batch_size:
        drop_last = False  # no batch at all: fit warns and trains nothing either way
    x, y = classification_data(n=n)
    tensors = [torch.tensor(x), torch.tensor(y)] + ([torch.linspace(0.5, 2.0, n)] if weighted else [])
    dataset = torch.utils.data.TensorDataset(*tensors)

    def run(loader_class):
        torch.manual_seed(3)
        model = ks.Model(mlp(dropout=0.3), device="cpu").compile("sgd", "cross_entropy",
                                                                 weighted_metrics=["accuracy"])
        loader = loader_class(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
        history = model.fit(loader, epochs=2, verbose=0, validation_data=loader_class(dataset))
        predictions = model.predict(loader_class(dataset, batch_size=7), verbose=0)
        return weights_of(model.module), history.history, predictions, torch.get_rng_state()

    fast, general = run(torch.utils.data.DataLoader), run(GeneralLoader)
    assert same_weights(fast[0], general[0])
    assert fast[1] == general[1]
    np.testing.assert_array_equal(fast[2], general[2])
    assert torch.equal(fast[3], general[3])  # the global RNG is left where the loader leaves it


@SETTINGS
@given(n=st.integers(1, 50), batch_size=st.integers(1, 20), shuffle=st.booleans(),
       weighted=st.booleans())
def test_tensor_dataset_fast_path_trains_exactly_like_per_sample_batching(n, batch_size, shuffle,
                                                                         weighted):
    x, y = classification_data(n=n)
    tensors = [torch.tensor(x), torch.tensor(y)] + ([torch.linspace(0.5, 2.0, n)] if weighted else [])

    def run(dataset_class):
        torch.manual_seed(3)
        model = ks.Model(mlp(dropout=0.3), device="cpu").compile("sgd", "cross_entropy",
                                                                 weighted_metrics=["accuracy"])
        dataset = dataset_class(*tensors)
        history = model.fit(dataset, batch_size=batch_size, epochs=2, shuffle=shuffle, verbose=0,
                            validation_data=dataset)
        return weights_of(model.module), history.history, torch.get_rng_state()

    fast, general = run(torch.utils.data.TensorDataset), run(GeneralDataset)
    assert same_weights(fast[0], general[0])
    assert fast[1] == general[1]
    assert torch.equal(fast[2], general[2])
