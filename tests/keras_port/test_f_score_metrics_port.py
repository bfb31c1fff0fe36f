"""Keras 3.15.1's keras/src/metrics/f_score_metrics_test.py, ported onto ks.metrics.FBetaScore and
F1Score with Keras's inputs and numbers. Keras's message texts become a ``match=`` on the
argument named; Keras's ``_build(shapes)`` check is reached through ``update_state``.
"""

import numpy as np
import pytest
import torch

import kerasish as ks


def run(y_true, y_pred, sample_weights, average, beta, threshold, expected):
    fbeta = ks.metrics.FBetaScore(average, beta, threshold, dtype="float32")
    fbeta.update_state(y_true, y_pred, sample_weights)
    np.testing.assert_allclose(np.asarray(fbeta.result()), expected, atol=1e-6, rtol=1e-6)


AVERAGES_BETAS = [(a, b) for a in ("micro", "macro", "weighted") for b in (0.5, 1.0, 2.0)]
PRED_3 = [[0.7, 0.7, 0.7], [1, 0, 0], [0.9, 0.8, 0]]
TRUE_6 = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 0, 1]]
PRED_6 = [[0.9, 0.1, 0], [0.2, 0.6, 0.2], [0, 0, 1], [0.4, 0.3, 0.3], [0, 0.9, 0.1], [0, 0, 1]]


def test_config():
    fbeta = ks.metrics.FBetaScore(beta=0.5, threshold=0.3, average=None, dtype="float32")
    assert (fbeta.beta, fbeta.average, fbeta.threshold, fbeta.dtype) == (0.5, None, 0.3, "float32")
    again = ks.metrics.FBetaScore.from_config(fbeta.get_config())
    assert (again.beta, again.average, again.threshold, again.dtype) == (0.5, None, 0.3, "float32")


@pytest.mark.parametrize("average, beta", AVERAGES_BETAS)
def test_fbeta_perfect_score(average, beta):
    run([[1, 1, 1], [1, 0, 0], [1, 1, 0]], PRED_3, None, average, beta, 0.66, 1.0)


@pytest.mark.parametrize("average, beta", AVERAGES_BETAS)
def test_fbeta_worst_score(average, beta):
    run([[0, 0, 0], [0, 1, 0], [0, 0, 1]], PRED_3, None, average, beta, 0.66, 0.0)


@pytest.mark.parametrize("average, beta, result", [
    (None, 0.5, [0.71428573, 0.5, 0.833334]), (None, 1.0, [0.8, 0.5, 0.6666667]),
    (None, 2.0, [0.9090904, 0.5, 0.555556]), ("micro", 0.5, 0.6666667), ("micro", 1.0, 0.6666667),
    ("micro", 2.0, 0.6666667), ("macro", 0.5, 0.6825397), ("macro", 1.0, 0.6555555),
    ("macro", 2.0, 0.6548822), ("weighted", 0.5, 0.6825397), ("weighted", 1.0, 0.6555555),
    ("weighted", 2.0, 0.6548822)])
def test_fbeta_random_score(average, beta, result):
    run([[0, 0, 1], [1, 1, 0], [1, 1, 1]], PRED_3, None, average, beta, 0.66, result)


@pytest.mark.parametrize("average, beta, result", [
    (None, 0.5, [0.9090904, 0.555556, 1.0]), (None, 1.0, [0.8, 0.6666667, 1.0]),
    (None, 2.0, [0.71428573, 0.833334, 1.0]), ("micro", 0.5, 0.833334), ("micro", 1.0, 0.833334),
    ("micro", 2.0, 0.833334), ("macro", 0.5, 0.821549), ("macro", 1.0, 0.822222),
    ("macro", 2.0, 0.849206), ("weighted", 0.5, 0.880471), ("weighted", 1.0, 0.844445),
    ("weighted", 2.0, 0.829365)])
def test_fbeta_random_score_none(average, beta, result):
    run(TRUE_6, PRED_6, None, average, beta, None, result)


ONES, HOLES, HALVES = [1.0] * 6, [1.0, 0.0, 1.0, 1.0, 0.0, 1.0], [0.5, 1.0, 1.0, 1.0, 0.5, 1.0]


@pytest.mark.parametrize("average, beta, sample_weights, result", [
    (None, 0.5, ONES, [0.909091, 0.555556, 1.0]), (None, 0.5, HOLES, [1.0, 0.0, 1.0]),
    (None, 0.5, HALVES, [0.9375, 0.714286, 1.0]), (None, 1.0, ONES, [0.8, 0.666667, 1.0]),
    (None, 1.0, HOLES, [1.0, 0.0, 1.0]), (None, 1.0, HALVES, [0.857143, 0.8, 1.0]),
    (None, 2.0, ONES, [0.714286, 0.833333, 1.0]), (None, 2.0, HOLES, [1.0, 0.0, 1.0]),
    (None, 2.0, HALVES, [0.789474, 0.909091, 1.0]),
    ("micro", 0.5, ONES, 0.833333), ("micro", 0.5, HOLES, 1.0), ("micro", 0.5, HALVES, 0.9),
    ("micro", 1.0, ONES, 0.833333), ("micro", 1.0, HOLES, 1.0), ("micro", 1.0, HALVES, 0.9),
    ("micro", 2.0, ONES, 0.833333), ("micro", 2.0, HOLES, 1.0), ("micro", 2.0, HALVES, 0.9),
    ("macro", 0.5, ONES, 0.821549), ("macro", 0.5, HOLES, 0.666667), ("macro", 0.5, HALVES, 0.883929),
    ("macro", 1.0, ONES, 0.822222), ("macro", 1.0, HOLES, 0.666667), ("macro", 1.0, HALVES, 0.885714),
    ("macro", 2.0, ONES, 0.849206), ("macro", 2.0, HOLES, 0.666667), ("macro", 2.0, HALVES, 0.899522),
    ("weighted", 0.5, ONES, 0.880471), ("weighted", 0.5, HOLES, 1.0),
    ("weighted", 0.5, HALVES, 0.917857), ("weighted", 1.0, ONES, 0.844444),
    ("weighted", 1.0, HOLES, 1.0), ("weighted", 1.0, HALVES, 0.902857),
    ("weighted", 2.0, ONES, 0.829365), ("weighted", 2.0, HOLES, 1.0),
    ("weighted", 2.0, HALVES, 0.897608)])
def test_fbeta_weighted_random_score_none(average, beta, sample_weights, result):
    run(TRUE_6, PRED_6, sample_weights, average, beta, None, result)


def test_invalid_average_raises_value_error():
    with pytest.raises(ValueError, match="average='invalid_average'"):
        ks.metrics.FBetaScore(average="invalid_average", beta=1.0, threshold=None, dtype="float32")


@pytest.mark.parametrize("beta", [1, "1.0", None], ids=["integer", "string", "none"])
def test_beta_type_raises_value_error(beta):
    """test_beta_integer_type / _string_type / _none_type_raises_value_error."""
    with pytest.raises(ValueError, match="beta must be a Python float"):
        ks.metrics.FBetaScore(average="macro", beta=beta, threshold=None, dtype="float32")


@pytest.mark.parametrize("beta", [0.0, -1.0, -0.5], ids=["zero", "negative_one", "negative_half"])
def test_beta_not_positive_raises_value_error(beta):
    """test_beta_zero / _negative_one / _negative_half_raises_value_error."""
    with pytest.raises(ValueError, match=rf"beta must be a Python float > 0.*got {beta}"):
        ks.metrics.FBetaScore(average="macro", beta=beta, threshold=None, dtype="float32")


@pytest.mark.parametrize("threshold", [1, "0.5", 1.1, 0.0, -0.5],
                         ids=["not_float", "string", "above_one", "zero", "negative"])
def test_threshold_raises_value_error(threshold):
    """test_threshold_not_float / _string / _above_one / _zero / _negative_raises_value_error."""
    with pytest.raises(ValueError, match=rf"threshold must be None or a Python float in \(0, 1\].*"
                                         rf"got {threshold!r}"):
        ks.metrics.FBetaScore(average="macro", beta=1.0, threshold=threshold, dtype="float32")


def test_non_2d_input_shapes_raises_value_error():
    fbeta = ks.metrics.FBetaScore(beta=1.0, dtype="float32")
    with pytest.raises(ValueError, match=r"2D inputs.*\(2, 3, 4\).*\(2, 3, 4\)"):
        fbeta.update_state(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))


def test_f1_config():
    f1 = ks.metrics.F1Score(dtype="float32")
    config = f1.get_config()
    assert "beta" not in config
    f1 = ks.metrics.F1Score.from_config(config)
    assert f1.average is None and f1.dtype == "float32"


def test_f1_correctness():
    f1, fbeta = ks.metrics.F1Score(), ks.metrics.FBetaScore(beta=1.0)
    fbeta.update_state(np.array(TRUE_6), np.array(PRED_6))
    f1.update_state(np.array(TRUE_6), np.array(PRED_6))
    np.testing.assert_allclose(np.asarray(fbeta.result()), np.asarray(f1.result()), atol=1e-6)
