"""ks.metrics against Keras 3 itself (torch backend): confusion metrics, AUC, F-scores, MAPE, their
names, Keras metric and loss objects used with Keras's semantics, torchmetrics objects, and the
cross-rank state protocol. Every expected number is computed by Keras in the test."""

import os
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import kerasish as ks  # noqa: E402

RNG = np.random.default_rng(0)
N, C = 40, 4
BIN_TRUE = RNG.integers(0, 2, (N, 1)).astype("float32")
BIN_PROB = RNG.uniform(size=(N, 1)).astype("float32")
BIN_PROB[:5, 0] = [0.0, 0.5, 1.0, 0.25, 0.3]  # values on thresholds: > versus >= matters here
MULTI_TRUE = RNG.integers(0, 2, (N, C)).astype("float32")
MULTI_PROB = RNG.uniform(size=(N, C)).astype("float32")
ONE_HOT = np.eye(C, dtype="float32")[RNG.integers(0, C, N)]
SOFTMAX = MULTI_PROB / MULTI_PROB.sum(axis=1, keepdims=True)
LOGITS = RNG.normal(size=(N, 1)).astype("float32")
WEIGHTS = RNG.uniform(0.0, 2.0, N).astype("float32")
DATA = {"binary": (BIN_TRUE, BIN_PROB), "multi": (MULTI_TRUE, MULTI_PROB), "onehot": (ONE_HOT, SOFTMAX),
        "logits": (BIN_TRUE, LOGITS)}

CASES = [
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.5, 0.8]}, "binary"),
    ("TrueNegatives", {"thresholds": 0.3}, "binary"),
    ("FalseNegatives", {}, "multi"),
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),  # evenly spaced: Keras's bucketed path
    ("Precision", {"top_k": 2}, "multi"),
    ("Precision", {"class_id": 1}, "multi"),
    ("Recall", {"top_k": 2, "class_id": 2}, "multi"),
    ("Recall", {"thresholds": [0.3, 0.6]}, "multi"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, "multi"),
    ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"summation_method": "majoring"}, "multi"),
    ("AUC", {"num_thresholds": 7}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.4, 0.45, 0.9]}, "binary"),
    ("AUC", {"multi_label": True}, "multi"),
    ("AUC", {"multi_label": True, "label_weights": [1.0, 2.0, 0.0, 1.0]}, "multi"),
    ("AUC", {"label_weights": [1.0, 2.0, 0.0, 1.0]}, "multi"),
    ("AUC", {"multi_label": True, "num_labels": 4, "curve": "PR"}, "multi"),
    ("AUC", {"from_logits": True}, "logits"),
    ("F1Score", {}, "onehot"),
    ("F1Score", {"average": "micro"}, "onehot"),
    ("F1Score", {"average": "macro", "threshold": 0.4}, "multi"),
    ("F1Score", {"average": "weighted"}, "onehot"),
    ("FBetaScore", {"beta": 2.0, "average": "macro"}, "multi"),
    ("MeanAbsolutePercentageError", {}, "multi"),
    ("MeanSquaredLogarithmicError", {}, "multi"),
    ("BinaryCrossentropy", {}, "binary"),
    ("CategoricalCrossentropy", {}, "onehot"),
]


def _t(a):
    return torch.tensor(np.asarray(a))


def _update_both(ours, theirs, y_true, y_pred, weights=None, parts=2):
    for part in np.array_split(np.arange(len(y_true)), parts):
        sw = None if weights is None else weights[part]
        ours.update_state(_t(y_true[part]), _t(y_pred[part]), None if sw is None else _t(sw))
        theirs.update_state(y_true[part], y_pred[part], sample_weight=sw)


def _close(ours, theirs, rtol=1e-5, atol=1e-6):
    ours, theirs = ours.detach().cpu().numpy(), np.asarray(theirs)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name, kwargs, data", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_metric_matches_keras_over_two_updates(name, kwargs, data, weighted):
    ours, theirs = getattr(ks.metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    _update_both(ours, theirs, *DATA[data], WEIGHTS if weighted else None)
    _close(ours.result(), theirs.result())
    ours.reset_state()
    theirs.reset_state()
    _update_both(ours, theirs, *DATA[data], parts=1)
    _close(ours.result(), theirs.result())


KERAS_POSITIONAL = [
    ("BinaryAccuracy", ("acc", "float32", 0.7), "binary"),
    ("TopKCategoricalAccuracy", (2, "top2", "float32"), "onehot"),
    ("MeanSquaredError", ("mse", "float32"), "multi"),
    ("RootMeanSquaredError", ("rmse", "float32"), "multi"),
    ("CategoricalCrossentropy", ("cce", "float32", True), "onehot"),
]


@pytest.mark.parametrize("name, args, data", KERAS_POSITIONAL, ids=[c[0] for c in KERAS_POSITIONAL])
def test_metric_arguments_given_by_position_mean_what_they_mean_in_keras(name, args, data):
    ours, theirs = getattr(ks.metrics, name)(*args), getattr(keras.metrics, name)(*args)
    assert ours.name == theirs.name
    _update_both(ours, theirs, *DATA[data])
    _close(ours.result(), theirs.result())
    half = [("float16" if a == "float32" else a) for a in args]
    assert getattr(ks.metrics, name)(*half).dtype == getattr(keras.metrics, name)(*half).dtype == "float16"
    with pytest.raises(ValueError, match="dtype='float17' is not supported"):
        getattr(ks.metrics, name)(*[("float17" if a == "float32" else a) for a in args])


# No subnormals: some torch builds (2.4's wheel) switch them off, and Hypothesis then refuses them.
EDGES = (st.sampled_from([0.0, 0.2, 0.25, 0.5, 0.75, 1.0])
         | st.floats(0.0, 1.0, width=32, allow_subnormal=False))
WEIGHTS_DRAWN = st.floats(0.0, 2.0, width=32, allow_subnormal=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), EDGES, WEIGHTS_DRAWN), min_size=1, max_size=30))
def test_confusion_metrics_match_keras_on_ties_and_threshold_values(rows):
    """Predictions exactly on a threshold are negative (``>``, not ``>=``) on both of Keras's paths."""
    y_true = np.array([[r[0]] for r in rows], "float32")
    y_pred = np.array([[r[1]] for r in rows], "float32")
    weights = np.array([r[2] for r in rows], "float32")
    for name, kwargs in [("Precision", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}),  # bucketed
                         ("Recall", {"thresholds": [0.2, 0.5]}),  # compared
                         ("TrueNegatives", {"thresholds": [0.5]}),
                         ("AUC", {"num_thresholds": 5}),
                         ("AUC", {"curve": "PR", "num_thresholds": 9})]:
        ours, theirs = getattr(ks.metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
        _update_both(ours, theirs, y_true, y_pred, weights, parts=1)
        _close(ours.result(), theirs.result(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
                                  "MeanSquaredLogarithmicError", "BinaryAccuracy", "Accuracy"])
@pytest.mark.parametrize("true_shape, pred_shape", [((N, 1), (N,)), ((N,), (N, 1))])
def test_targets_and_outputs_one_rank_apart_meet_as_in_keras(name, true_shape, pred_shape):
    """(N, 1) against (N,) must not broadcast to (N, N)."""
    y_true = BIN_TRUE.reshape(true_shape)
    y_pred = (BIN_TRUE if name == "Accuracy" else BIN_PROB).reshape(pred_shape)
    ours, theirs = getattr(ks.metrics, name)(), getattr(keras.metrics, name)()
    _update_both(ours, theirs, y_true, y_pred, WEIGHTS)
    _close(ours.result(), theirs.result())


KERAS_ALIASES = ["precision", "recall", "auc", "mape", "MAPE", "msle", "bce", "true_positives",
                 "false_positives", "true_negatives", "false_negatives", "f1_score", "f_beta_score",
                 "mean_absolute_percentage_error", "binary_crossentropy", "categorical_crossentropy"]


@pytest.mark.parametrize("alias", KERAS_ALIASES)
def test_metric_names_resolve_to_the_class_keras_resolves_them_to(alias):
    ours = ks.metrics.get_metric(alias)
    theirs = keras.metrics.get(alias)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == alias  # as Keras's compile names a string metric


def _sigmoid_model(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(5, 1), torch.nn.Sigmoid())
    return net, torch.optim.SGD(net.parameters(), lr=0.0)  # fixed predictions: exact references


def test_epoch_logs_are_the_metric_over_all_data_not_a_mean_of_batch_values():
    x = RNG.normal(size=(45, 5)).astype("float32")
    y = RNG.integers(0, 2, (45, 1)).astype("float32")
    net, sgd = _sigmoid_model()
    model = ks.Model(net, device="cpu").compile(
        sgd, keras.losses.BinaryCrossentropy(),
        metrics=["precision", "recall", "auc", ks.metrics.F1Score(average="micro", threshold=0.5),
                 keras.metrics.FalseNegatives(name="false_negatives"), "true_positives"])
    history = model.fit(x, y, batch_size=7, epochs=2, verbose=0).history  # uneven last batch
    evaluated = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    p = net(torch.tensor(x)).detach().numpy()
    expected = {"loss": keras.losses.BinaryCrossentropy()(y, p)}
    for key, metric in [("precision", keras.metrics.Precision()), ("recall", keras.metrics.Recall()),
                        ("auc", keras.metrics.AUC()),
                        ("f1_score", keras.metrics.F1Score(average="micro", threshold=0.5)),
                        ("false_negatives", keras.metrics.FalseNegatives()),
                        ("true_positives", keras.metrics.TruePositives())]:
        metric.update_state(y, p)
        expected[key] = metric.result()
    for key, value in expected.items():
        assert history[key][-1] == pytest.approx(float(value), rel=1e-5), key
        assert evaluated[key] == pytest.approx(float(value), rel=1e-5), key
    assert history["false_negatives"][-1] == float(expected["false_negatives"])  # a count, not a mean


@pytest.mark.parametrize("keras_loss", [
    keras.losses.CategoricalCrossentropy(),
    keras.losses.categorical_crossentropy,
    keras.losses.CategoricalCrossentropy,
    keras.losses.CategoricalCrossentropy(label_smoothing=0.2, reduction="sum"),
    keras.losses.KLDivergence(),
], ids=["object", "function", "class", "smoothing-sum", "kl"])
def test_keras_losses_are_called_with_keras_argument_order_reduction_and_weights(keras_loss):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, C), torch.nn.Softmax(dim=-1))
    x = RNG.normal(size=(N, 5)).astype("float32")
    model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.0), keras_loss)
    loss = model.evaluate(x, ONE_HOT, sample_weight=WEIGHTS, batch_size=N, verbose=0)
    reference = keras_loss() if isinstance(keras_loss, type) else keras_loss
    if not isinstance(reference, keras.losses.Loss):
        reference = keras.losses.CategoricalCrossentropy()  # what Keras's compile makes of the function
    p = net(torch.tensor(x)).detach().numpy()
    assert loss == pytest.approx(float(reference(ONE_HOT, p, sample_weight=WEIGHTS)), rel=1e-5)


def test_keras_metric_functions_keep_keras_argument_order():
    """MAPE is not symmetric: swapped arguments would give another number."""
    x = RNG.normal(size=(N, 5)).astype("float32")
    torch.manual_seed(0)
    net = torch.nn.Linear(5, C)
    model = ks.Model(net, device="cpu").compile(
        torch.optim.SGD(net.parameters(), lr=0.0), "mse",
        metrics=[keras.metrics.mean_absolute_percentage_error, keras.metrics.Precision])
    logs = model.evaluate(x, MULTI_PROB, batch_size=8, verbose=0, return_dict=True)
    p = net(torch.tensor(x)).detach().numpy()
    mape = keras.metrics.MeanAbsolutePercentageError()
    mape.update_state(MULTI_PROB, p)
    precision = keras.metrics.Precision()
    precision.update_state(MULTI_PROB, p)
    assert logs["mean_absolute_percentage_error"] == pytest.approx(float(mape.result()), rel=1e-5)
    (key,) = [k for k in logs if k.startswith("precision")]  # Keras names the instance precision_<n>
    assert logs[key] == pytest.approx(float(precision.result()), rel=1e-5)


def test_torchmetrics_vector_output_is_a_clear_error_and_select_logs_one_element():
    torchmetrics = pytest.importorskip("torchmetrics")
    x = RNG.normal(size=(45, 5)).astype("float32")
    y = RNG.integers(0, 2, 45)
    net, sgd = _sigmoid_model()
    flat = torch.nn.Sequential(net, torch.nn.Flatten(0))
    model = ks.Model(flat, device="cpu").compile(
        sgd, "mse", metrics=[torchmetrics.classification.BinaryStatScores()])
    with pytest.raises(ValueError, match=r"returned 5 values.*select=i"):
        model.fit(x, y.astype("float32"), batch_size=9, verbose=0)

    stats = torchmetrics.classification.BinaryStatScores()
    model = ks.Model(flat, device="cpu").compile(sgd, "mse", metrics=[
        ks.metrics.TorchMetric(stats, name="tp", select=0),
        ks.metrics.TorchMetric(torchmetrics.classification.BinaryF1Score(), name="f1")])
    logs = model.evaluate(x, y.astype("float32"), batch_size=9, verbose=0, return_dict=True)
    p = flat(torch.tensor(x)).detach().numpy()
    tp = keras.metrics.TruePositives()
    tp.update_state(y, p)
    assert set(logs) == {"loss", "tp", "f1"}
    assert logs["tp"] == float(tp.result())
    with pytest.raises(TypeError, match="torchmetrics Metric"):
        ks.metrics.TorchMetric(ks.metrics.Precision())


def test_new_metrics_read_nothing_from_the_device_per_step(host_reads):
    counts = host_reads

    def reads(n):
        x = RNG.normal(size=(n, 5)).astype("float32")
        y = np.eye(3, dtype="float32")[RNG.integers(0, 3, n)]
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Softmax(dim=-1))
        model = ks.Model(net, device="cpu").compile(
            "sgd", "categorical_crossentropy",
            metrics=["precision", "recall", "auc", "mape", ks.metrics.F1Score(average="macro"),
                     ks.metrics.AUC(multi_label=True), ks.metrics.Precision(top_k=2)])
        counts["n"] = 0
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x[:16], y[:16]))
        return counts["n"]

    assert reads(64) == reads(640)  # 8 versus 80 steps per epoch


METRICS_FOR_PROTOCOL = [
    lambda: ks.metrics.Mean(),
    lambda: ks.metrics.Precision(),
    lambda: ks.metrics.Recall(thresholds=[0.2, 0.7]),
    lambda: ks.metrics.AUC(),
    lambda: ks.metrics.AUC(multi_label=True, num_labels=1, curve="PR"),
    lambda: ks.metrics.TrueNegatives(),
    lambda: ks.metrics.F1Score(average="micro", threshold=0.5),
    lambda: ks.metrics.MeanAbsolutePercentageError(),
]


@settings(max_examples=25, deadline=None)
@given(split=st.integers(0, N), index=st.integers(0, len(METRICS_FOR_PROTOCOL) - 1))
def test_summed_state_of_two_shards_equals_the_state_of_all_data(split, index):
    """What Engine.all_reduce_results relies on: summing the declared state of two ranks and
    loading it gives the metric of the whole data, also when one rank saw nothing."""
    make = METRICS_FOR_PROTOCOL[index]

    def update(metric, rows):
        if len(rows) == 0:
            return
        if type(metric) is ks.metrics.Mean:
            metric.update_state(_t(BIN_PROB[rows]), _t(WEIGHTS[rows]))
        else:
            metric.update_state(_t(BIN_TRUE[rows]), _t(BIN_PROB[rows]), _t(WEIGHTS[rows]))

    whole, first, second, merged = make(), make(), make(), make()
    update(whole, np.arange(N))
    update(first, np.arange(split))
    update(second, np.arange(split, N))
    merged.load_summed_state([a + b for a, b in zip(first.summed_state(), second.summed_state())])
    torch.testing.assert_close(merged.result(), whole.result(), rtol=1e-5, atol=1e-6)


def test_a_metric_of_your_own_can_declare_its_state():
    # The Metric docstring's example, run as written: the reference shows code that works.
    example = textwrap.dedent(ks.metrics.Metric.__doc__.split("Example:\n", 1)[1])
    namespace = {"ks": ks, "torch": torch}
    exec(example, namespace)
    Total = namespace["Total"]

    metric = ks.metrics.get_metric(Total())
    metric.update_state(torch.ones(3), torch.ones(3))
    metric.load_summed_state([t * 2 for t in metric.summed_state()])
    assert float(metric.result()) == 6.0
    assert ks.metrics.Metric().summed_state() is None  # declaring nothing: left out of the reduction


@pytest.mark.parametrize("make, match", [
    (lambda: ks.metrics.Precision(thresholds=1.5), "thresholds"),
    (lambda: ks.metrics.Recall(top_k=0), "top_k"),
    (lambda: ks.metrics.AUC(curve="XY"), "curve"),
    (lambda: ks.metrics.AUC(num_thresholds=1), "num_thresholds"),
    (lambda: ks.metrics.AUC(num_labels=3), "num_labels"),
    (lambda: ks.metrics.F1Score(threshold=2.0), "threshold"),
    (lambda: ks.metrics.FBetaScore(beta=2), "beta"),
    (lambda: ks.metrics.F1Score(average="mean"), "average"),
    (lambda: ks.metrics.TruePositives(dtype="float17"), "dtype"),  # Keras takes float16
])
def test_bad_metric_arguments_are_refused_with_the_argument_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_f1score_needs_two_dimensional_inputs():
    with pytest.raises(ValueError, match="2D inputs"):
        ks.metrics.F1Score().update_state(torch.ones(4), torch.ones(4))
