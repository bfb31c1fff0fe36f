"""Losses and metrics give Keras 3's numbers (Keras itself, on its torch backend, is the reference)."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import kerasish as ks  # noqa: E402

RNG = np.random.default_rng(0)
N, C = 16, 4
PROBS = RNG.dirichlet(np.ones(C), size=N).astype("float32")
LOGITS = RNG.normal(size=(N, C)).astype("float32")
LABELS = RNG.integers(0, C, size=N)
ONE_HOT = np.eye(C, dtype="float32")[LABELS]
REAL_TRUE = RNG.normal(size=(N, 3)).astype("float32")
REAL_PRED = RNG.normal(size=(N, 3)).astype("float32")
BIN_TRUE = RNG.integers(0, 2, size=(N, 1)).astype("float32")
BIN_PROB = RNG.uniform(0.01, 0.99, size=(N, 1)).astype("float32")
WEIGHTS = RNG.uniform(0.0, 2.0, size=N).astype("float32")

LOSS_CASES = [
    ("mse", REAL_TRUE, REAL_PRED),
    ("mae", REAL_TRUE, REAL_PRED),
    ("huber", REAL_TRUE, REAL_PRED),
    ("log_cosh", REAL_TRUE, REAL_PRED),
    ("binary_crossentropy", BIN_TRUE, BIN_PROB),
    ("categorical_crossentropy", ONE_HOT, PROBS),
    ("sparse_categorical_crossentropy", LABELS, PROBS),
    ("kl_divergence", PROBS[::-1].copy(), PROBS),
    ("hinge", BIN_TRUE, BIN_PROB),
    ("squared_hinge", BIN_TRUE, BIN_PROB),
    ("poisson", np.abs(REAL_TRUE), np.abs(REAL_PRED)),
    ("cosine_similarity", REAL_TRUE, REAL_PRED),
]


KERAS_LOSSES = {
    "mse": keras.losses.MeanSquaredError,
    "mae": keras.losses.MeanAbsoluteError,
    "huber": keras.losses.Huber,
    "log_cosh": keras.losses.LogCosh,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "kl_divergence": keras.losses.KLDivergence,
    "hinge": keras.losses.Hinge,
    "squared_hinge": keras.losses.SquaredHinge,
    "poisson": keras.losses.Poisson,
    "cosine_similarity": keras.losses.CosineSimilarity,
}


def _t(a):
    return torch.tensor(np.asarray(a))


@pytest.mark.parametrize("name, y_true, y_pred", LOSS_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_named_losses_match_keras(name, y_true, y_pred, weighted):
    sw = WEIGHTS if weighted else None
    ours = ks.losses.get_loss(name)(_t(y_true), _t(y_pred), None if sw is None else _t(sw))
    theirs = KERAS_LOSSES[name]()
    expected = float(theirs(y_true, y_pred, sample_weight=sw))
    assert float(ours) == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_from_logits_variants_match_keras():
    ours = ks.losses.SparseCategoricalCrossentropy(from_logits=True)(_t(LABELS), _t(LOGITS))
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)
    ours = ks.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(_t(ONE_HOT), _t(LOGITS))
    theirs = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(ONE_HOT, LOGITS)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)
    ours = ks.losses.BinaryCrossentropy(from_logits=True)(_t(BIN_TRUE), _t(LOGITS[:, :1]))
    theirs = keras.losses.BinaryCrossentropy(from_logits=True)(BIN_TRUE, LOGITS[:, :1])
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


def test_torch_names_match_torch():
    loss = ks.losses.get_loss("cross_entropy")(_t(LABELS), _t(LOGITS))
    assert float(loss) == pytest.approx(float(torch.nn.functional.cross_entropy(_t(LOGITS), _t(LABELS))))
    log_p = torch.log_softmax(_t(LOGITS), dim=-1)
    assert float(ks.losses.get_loss("nll")(_t(LABELS), log_p)) == pytest.approx(
        float(torch.nn.functional.nll_loss(log_p, _t(LABELS))))


METRIC_CASES = [
    ("accuracy", LABELS, PROBS),            # sparse by shapes
    ("accuracy", ONE_HOT, PROBS),           # categorical by shapes
    ("accuracy", BIN_TRUE, BIN_PROB),       # binary by shapes
    ("sparse_categorical_accuracy", LABELS, PROBS),
    ("categorical_accuracy", ONE_HOT, PROBS),
    ("binary_accuracy", BIN_TRUE, BIN_PROB),
    ("top_k_categorical_accuracy", ONE_HOT, PROBS),
    ("sparse_top_k_categorical_accuracy", LABELS, PROBS),
    ("mse", REAL_TRUE, REAL_PRED),
    ("mae", REAL_TRUE, REAL_PRED),
]


def _keras_metric(name, y_true, y_pred):
    if name == "accuracy":
        t_rank, p_rank = np.ndim(y_true), np.ndim(y_pred)
        if y_pred.shape[-1] == 1:
            return keras.metrics.BinaryAccuracy()
        if t_rank < p_rank:
            return keras.metrics.SparseCategoricalAccuracy()
        return keras.metrics.CategoricalAccuracy()
    if name in ("top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
        k_cls = {"top_k_categorical_accuracy": keras.metrics.TopKCategoricalAccuracy,
                 "sparse_top_k_categorical_accuracy": keras.metrics.SparseTopKCategoricalAccuracy}
        return k_cls[name](k=2)
    return {"sparse_categorical_accuracy": keras.metrics.SparseCategoricalAccuracy,
            "categorical_accuracy": keras.metrics.CategoricalAccuracy,
            "binary_accuracy": keras.metrics.BinaryAccuracy,
            "mse": keras.metrics.MeanSquaredError,
            "mae": keras.metrics.MeanAbsoluteError}[name]()


@pytest.mark.parametrize("name, y_true, y_pred", METRIC_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_match_keras_over_two_updates(name, y_true, y_pred, weighted):
    ours = ks.metrics.get_metric(name)
    if "top_k" in name:
        ours.kwargs["k"] = 2
    theirs = _keras_metric(name, y_true, y_pred)
    for half in (slice(0, N // 2), slice(N // 2, N)):
        sw = WEIGHTS[half] if weighted else None
        ours.update_state(_t(y_true[half]), _t(y_pred[half]), None if sw is None else _t(sw))
        theirs.update_state(y_true[half], y_pred[half], sample_weight=sw)
    assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-5)


def test_history_keys_match_keras_fit():
    x = RNG.normal(size=(32, 5)).astype("float32")
    y = RNG.integers(0, 3, size=32)
    sw = RNG.uniform(0.5, 1.5, size=32).astype("float32")
    settings = dict(metrics=["acc", "accuracy", "accuracy", "sparse_top_k_categorical_accuracy"],
                    weighted_metrics=["accuracy"])
    reference = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="softmax")])
    reference.compile("sgd", "sparse_categorical_crossentropy", **settings)
    expected = reference.fit(x, y, sample_weight=sw, validation_split=0.25, epochs=1, verbose=0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Softmax(dim=-1))
    model = ks.Model(net).compile("sgd", "sparse_categorical_crossentropy", **settings)
    history = model.fit(x, y, sample_weight=sw, validation_split=0.25, epochs=1, verbose=0)
    assert sorted(history.history) == sorted(expected.history)
