"""``compile(loss=ks.losses.<function>)`` trains on Keras's number, as ``loss=keras.losses.<function>``.

kerasish calls a user's own callable torch-style, ``fn(y_pred, y_true)``; its own Keras loss
functions take ``(y_true, y_pred)``, so they are called Keras's way round and reduced as Keras's
``LossFunctionWrapper`` reduces them. Keras 3 evaluates the same model on the same batch beside
kerasish, with and without sample weights. (Before: ``ks.losses.binary_crossentropy`` was called
with its arguments swapped, 2.41 where Keras gives 0.164, without an error; so were the
``ks.metrics`` functions, ``mean_absolute_percentage_error`` and ``binary_accuracy`` among them.)
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras

RNG = np.random.default_rng(3)
X = RNG.normal(size=(24, 4)).astype("float32")
WEIGHTS = RNG.uniform(0.2, 2.0, size=24).astype("float32")
PROBABILITIES = RNG.uniform(0.05, 0.95, size=(24, 3)).astype("float32")
ONE_HOT = np.eye(3, dtype="float32")[RNG.integers(0, 3, 24)]
CASES = {  # name: (final activation, targets)
    "mean_squared_error": (None, RNG.normal(size=(24, 3)).astype("float32")),
    "mean_absolute_error": (None, RNG.normal(size=(24, 3)).astype("float32")),
    "huber": (None, RNG.normal(size=(24, 3)).astype("float32")),
    "binary_crossentropy": ("sigmoid", (PROBABILITIES > 0.5).astype("float32")),
    "binary_focal_crossentropy": ("sigmoid", (PROBABILITIES > 0.5).astype("float32")),
    "categorical_crossentropy": ("softmax", ONE_HOT),
    "sparse_categorical_crossentropy": ("softmax", ONE_HOT.argmax(1).astype("float32")),
    "kl_divergence": ("softmax", PROBABILITIES / PROBABILITIES.sum(1, keepdims=True)),
    "poisson": ("softplus", RNG.poisson(1.0, size=(24, 3)).astype("float32")),
    "hinge": ("tanh", np.where(PROBABILITIES > 0.5, 1.0, -1.0).astype("float32")),
    "dice": ("sigmoid", (PROBABILITIES > 0.5).astype("float32")),
}


def twins(activation):
    keras.utils.set_random_seed(5)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation)])
    ours = keras.models.clone_model(theirs)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_ks_loss_function_gives_keras_loss(name, weighted):
    activation, y = CASES[name]
    theirs, twin = twins(activation)
    weights = dict(sample_weight=WEIGHTS) if weighted else {}
    theirs.compile(loss=getattr(keras.losses, name))
    expected = theirs.evaluate(X, y, batch_size=24, verbose=0, **weights)
    model = ks.Model(twin, device="cpu").compile("sgd", loss=getattr(ks.losses, name))
    got = model.evaluate(X, y, batch_size=24, verbose=0, **weights)
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_an_alias_and_a_users_own_function_keep_their_orders():
    activation, y = CASES["mean_squared_error"]
    theirs, twin = twins(activation)
    theirs.compile(loss=keras.losses.mean_squared_error)
    expected = theirs.evaluate(X, y, batch_size=24, verbose=0)
    model = ks.Model(twin, device="cpu")
    assert model.compile("sgd", ks.losses.mse).evaluate(X, y, batch_size=24, verbose=0) == \
        pytest.approx(expected, rel=1e-5)
    seen = []

    def own(y_pred, y_true):  # a user's callable: torch's order, as documented
        seen.append(tuple(y_pred.shape) == (24, 3) and bool((y_true == torch.as_tensor(y)).all()))
        return ((y_pred - y_true) ** 2).mean()

    got = model.compile("sgd", own).evaluate(X, y, batch_size=24, verbose=0)
    assert got == pytest.approx(expected, rel=1e-5)
    assert seen == [True]


METRIC_CASES = {  # ks.metrics / keras.metrics function: (final activation, targets)
    "mean_absolute_percentage_error": (None, RNG.uniform(0.5, 2.0, size=(24, 3)).astype("float32")),
    "mean_squared_logarithmic_error": ("softplus", RNG.uniform(0.0, 3.0, size=(24, 3)).astype("float32")),
    "binary_accuracy": ("sigmoid", (PROBABILITIES > 0.5).astype("float32")),
    "sparse_categorical_accuracy": ("softmax", ONE_HOT.argmax(1)),
    "hinge": ("tanh", np.where(PROBABILITIES > 0.5, 1.0, -1.0).astype("float32")),
}


@pytest.mark.parametrize("name", sorted(METRIC_CASES))
def test_a_ks_metric_function_gives_keras_metric(name):
    """``metrics=[ks.metrics.<function>]`` is called Keras's way round, as Keras's function."""
    activation, y = METRIC_CASES[name]
    theirs, twin = twins(activation)
    loss = "sparse_categorical_crossentropy" if name.startswith("sparse") else "mse"
    theirs.compile(loss=loss, metrics=[getattr(keras.metrics, name)])
    expected = theirs.evaluate(X, y, batch_size=8, verbose=0, return_dict=True)
    model = ks.Model(twin, device="cpu").compile("sgd", loss, metrics=[getattr(ks.metrics, name)])
    got = model.evaluate(X, y, batch_size=8, verbose=0, return_dict=True)
    assert got[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-6)


def test_class_name_strings_build_the_class_as_keras():
    """``loss="MeanSquaredError"``, ``metrics=["MeanAbsoluteError", "AUC"]``: Keras's ``get`` takes
    class names (the log key is the string as written, as for any string); kerasish refused them."""
    y = (PROBABILITIES > 0.5).astype("float32")
    theirs, twin = twins("sigmoid")
    spec = dict(loss="MeanSquaredError", metrics=["MeanAbsoluteError", "AUC", "BinaryAccuracy"])
    theirs.compile(**spec)
    expected = theirs.evaluate(X, y, batch_size=8, verbose=0, return_dict=True)
    got = ks.Model(twin, device="cpu").compile("sgd", **spec).evaluate(X, y, batch_size=8, verbose=0,
                                                                      return_dict=True)
    assert set(got) == set(expected) == {"loss", "MeanAbsoluteError", "AUC", "BinaryAccuracy"}
    assert got == pytest.approx(expected, rel=1e-4)
