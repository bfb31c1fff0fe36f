"""Rules Keras applies by a variable's name hold through ``compile``.

``exclude_from_weight_decay(var_names=[...])`` and Muon's AdamW choice (a variable whose path says
"embedding") match names, and ``compile`` gives the optimizer its parameters with their names (a
Keras model's variable paths, a torch module's qualified names). Keras 3 fits the same model on
the same batches beside kerasish; the weights must agree. Before ``compile`` gave names, the
excluded bias decayed anyway and Muon took the embedding table, silently.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras

RNG = np.random.default_rng(7)
X = RNG.normal(size=(32, 3)).astype("float32")
Y = RNG.normal(size=(32, 2)).astype("float32")
FIT = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)


def dense_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.layers[0].bias.assign(np.full(2, 3.0, "float32"))  # a bias weight decay would shrink
    return model


def keras_sgd():
    optimizer = keras.optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


def ks_sgd():
    optimizer = ks.optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


def keras_fit(model, optimizer):
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(X, Y, **FIT)
    return [np.asarray(w) for w in model.get_weights()]


def test_excluded_names_keep_their_decay_off_in_a_wrapped_keras_model():
    expected = keras_fit(dense_model(), keras_sgd())
    twin = dense_model()
    ks.Model(twin, device="cpu").compile(ks_sgd(), "mse").fit(X, Y, **FIT)
    for ours, theirs in zip(twin.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_excluded_names_keep_their_decay_off_in_a_torch_module():
    expected = keras_fit(dense_model(), keras_sgd())
    start = dense_model()
    linear = torch.nn.Linear(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.asarray(start.layers[0].kernel)).T)
        linear.bias.copy_(torch.from_numpy(np.asarray(start.layers[0].bias)))
    model = ks.Model(torch.nn.Sequential(linear), device="cpu").compile(ks_sgd(), "mse")
    model.fit(X, Y, **FIT)
    np.testing.assert_allclose(linear.weight.detach().numpy().T, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(linear.bias.detach().numpy(), expected[1], rtol=1e-5, atol=1e-6)


def embedding_model():
    keras.utils.set_random_seed(2)
    return keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(10, 6),
                             keras.layers.Flatten(), keras.layers.Dense(2)])


@pytest.mark.parametrize("optimizer", ["muon", "keras_object"])
def test_muon_trains_a_keras_embedding_with_adamw_as_keras(optimizer):
    tokens = RNG.integers(0, 10, size=(32, 4)).astype("int32")
    theirs = embedding_model()
    theirs.compile(optimizer=keras.optimizers.Muon(), loss="mse")
    theirs.fit(tokens, Y, **FIT)
    twin = embedding_model()
    spec = "muon" if optimizer == "muon" else keras.optimizers.Muon()
    ks.Model(twin, device="cpu").compile(spec, "mse").fit(tokens, Y, **FIT)
    names = [v.path for v in twin.weights]
    assert any("embedding" in n for n in names)
    for name, ours, expected in zip(names, twin.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6, err_msg=name)
