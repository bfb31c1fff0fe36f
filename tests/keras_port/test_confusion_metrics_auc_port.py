"""Keras 3.15.1's keras/src/metrics/confusion_metrics_test.py, part 2: AUCTest and MultiAUCTest,
ported onto ks.metrics.AUC with Keras's inputs and numbers (Keras's comments derive them).

Keras compares ``auc.curve`` with its ``AUCCurve`` enum; kerasish keeps the curve and the
summation method as their strings (``"PR"``, ``"majoring"``), the enum's values. Keras's
``_dtype`` and ``_from_logits`` are read through the public ``dtype`` and ``from_logits``.
"""

import json

import numpy as np
import pytest
import torch

import kerasish as ks


def close(actual, expected, atol=1e-6, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(torch.as_tensor(actual), dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), atol=atol, rtol=rtol)


def logits(p):
    return -np.log(1.0 / (p + 1e-12) - 1.0)


# AUCTest.setUp
Y_PRED = np.array([0, 0.5, 0.3, 0.9], dtype="float32")
Y_PRED_MULTI = np.array([[0.0, 0.4], [0.5, 0.7], [0.3, 0.2], [0.9, 0.3]], dtype="float32")
Y_TRUE = np.array([0, 0, 1, 1])
Y_TRUE_MULTI = np.array([[0, 0], [1, 1], [1, 1], [1, 0]])
WEIGHTS = [1, 2, 3, 4]
# MultiAUCTest.setUp
M_PRED = np.array([[0, 0.5, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4]], dtype="float32").T
M_GOOD = np.array([[0, 0, 1, 1], [0, 0, 1, 1]]).T
M_BAD = np.array([[0, 0, 1, 1], [1, 1, 0, 0]]).T


def test_config():
    auc = ks.metrics.AUC(num_thresholds=100, curve="PR", summation_method="majoring", name="auc_1",
                         dtype="float64", multi_label=True, num_labels=2, from_logits=True)
    auc.update_state(Y_TRUE_MULTI, Y_PRED_MULTI)
    assert auc.name == "auc_1" and auc.dtype == "float64"
    assert len(auc.variables) == 4
    assert all(v.dtype == torch.float64 for v in auc.variables)
    assert auc.num_thresholds == 100 and auc.curve == "PR" and auc.summation_method == "majoring"
    assert auc.multi_label and auc.num_labels == 2 and auc.from_logits
    old_config = auc.get_config()
    assert "thresholds" not in old_config
    assert old_config == json.loads(json.dumps(old_config))
    again = ks.metrics.AUC.from_config(auc.get_config())
    again.update_state(Y_TRUE_MULTI, Y_PRED_MULTI)
    assert again.name == "auc_1" and len(again.variables) == 4
    assert again.num_thresholds == 100 and again.curve == "PR"
    assert again.summation_method == "majoring"
    assert again.multi_label and again.num_labels == 2 and again.from_logits
    new_config = again.get_config()
    assert "thresholds" not in new_config and new_config == old_config
    close(auc.thresholds, again.thresholds)


def test_config_manual_thresholds():
    auc = ks.metrics.AUC(num_thresholds=None, curve="PR", summation_method="majoring", name="auc_1",
                         thresholds=[0.3, 0.5])
    auc.update_state(Y_TRUE, Y_PRED)
    assert auc.name == "auc_1" and len(auc.variables) == 4 and auc.num_thresholds == 4
    close(auc.thresholds, [0.0, 0.3, 0.5, 1.0])
    assert auc.curve == "PR" and auc.summation_method == "majoring"
    old_config = auc.get_config()
    assert old_config == json.loads(json.dumps(old_config))
    again = ks.metrics.AUC.from_config(auc.get_config())
    again.update_state(Y_TRUE, Y_PRED)
    assert again.name == "auc_1" and len(again.variables) == 4 and again.num_thresholds == 4
    assert again.curve == "PR" and again.summation_method == "majoring"
    assert again.get_config() == old_config
    close(auc.thresholds, again.thresholds)


def test_unweighted_all_correct():
    assert float(ks.metrics.AUC()(Y_TRUE, Y_TRUE)) == 1


def test_unweighted():
    close(ks.metrics.AUC(num_thresholds=3)(Y_TRUE, Y_PRED), 0.75 * 1 + 0.25 * 0, atol=1e-3)


def test_unweighted_from_logits():
    auc = ks.metrics.AUC(num_thresholds=3, from_logits=True)
    close(auc(Y_TRUE, logits(Y_PRED)), 0.75 * 1 + 0.25 * 0, atol=1e-3)


def test_manual_thresholds():
    auc = ks.metrics.AUC(num_thresholds=2, thresholds=[0.5])
    assert auc.num_thresholds == 3
    close(auc.thresholds, [0.0, 0.5, 1.0])
    close(auc(Y_TRUE, Y_PRED), 0.75 * 1 + 0.25 * 0, atol=1e-3)


@pytest.mark.parametrize("curve, summation, expected", [
    ("ROC", "interpolation", 0.7855 * 1 + 0.2855 * 0),   # test_weighted_roc_interpolation
    ("ROC", "majoring", 1 * 1 + 0.571 * 0),              # test_weighted_roc_majoring
    ("ROC", "minoring", 0.571 * 1 + 0 * 0),              # test_weighted_roc_minoring
    ("PR", "majoring", 1 * 0.429 + 1 * 0.571),           # test_weighted_pr_majoring
    ("PR", "minoring", 0.7 * 0.429 + 0 * 0.571),         # test_weighted_pr_minoring
    ("PR", "interpolation", 2.416 / 7 + 4 / 7),          # test_weighted_pr_interpolation
    ("PRGAIN", "majoring", 1 * 1 + 0 * 1),               # test_weighted_prgain_majoring
    ("PRGAIN", "minoring", 1 * 0 + 0 * 1),               # test_weighted_prgain_minoring
    ("PRGAIN", "interpolation", 1 * 0.5 + 0 * 1),        # test_weighted_prgain_interpolation
])
def test_weighted(curve, summation, expected):
    auc = ks.metrics.AUC(num_thresholds=3, curve=curve, summation_method=summation)
    close(auc(Y_TRUE, Y_PRED, sample_weight=WEIGHTS), expected, atol=1e-3)


def test_weighted_pr_interpolation_negative_weights():
    auc = ks.metrics.AUC(num_thresholds=3, curve="PR")
    close(auc(Y_TRUE, Y_PRED, sample_weight=[-1, -2, -3, -4]), 0.0, atol=1e-3)


def test_prgain_interpolation():
    auc = ks.metrics.AUC(num_thresholds=3, curve="PRGAIN")
    result = auc(np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1]),
                 np.array([0.1, 0.2, 0.3, 0.3, 0.4, 0.4, 0.6, 0.6, 0.8, 0.9]))
    close(result, 0.666666 * 0.333333 + 0.333333 * 0.833333, atol=1e-3)


def test_invalid_num_thresholds():
    for value in (-1, 1):
        with pytest.raises(ValueError, match="num_thresholds"):
            ks.metrics.AUC(num_thresholds=value)


def test_invalid_curve():
    with pytest.raises(ValueError, match="curve='Invalid'"):
        ks.metrics.AUC(curve="Invalid")


def test_invalid_summation_method():
    with pytest.raises(ValueError, match="summation_method='Invalid'"):
        ks.metrics.AUC(summation_method="Invalid")


def test_extra_dims():
    scores = 1.0 / (1.0 + np.exp(np.array([[[-10.0, 10.0, -10.0], [10.0, -10.0, 10.0]],
                                           [[-12.0, 12.0, -12.0], [12.0, -12.0, 12.0]]],
                                          dtype=np.float32)))  # scipy's expit(-x)
    labels = np.array([[[1, 0, 0], [1, 0, 0]], [[0, 1, 1], [0, 1, 1]]], dtype=np.int64)
    assert float(ks.metrics.AUC()(labels, scores)) == 0.5


# ---- MultiAUCTest ----------------------------------------------------------------------------

@pytest.mark.parametrize("multi_label", [True, False], ids=["multi", "flat"])
def test_multi_unweighted_all_correct(multi_label):
    assert float(ks.metrics.AUC(multi_label=multi_label)(M_GOOD, M_GOOD)) == 1


@pytest.mark.parametrize("from_logits", [False, True])
def test_multi_unweighted(from_logits):
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=True, from_logits=from_logits)
    close(auc(M_GOOD, logits(M_PRED) if from_logits else M_PRED), (0.875 + 1.0) / 2.0, atol=1e-3)


def test_multi_sample_weight_flat():
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=False)
    close(auc(M_GOOD, M_PRED, sample_weight=[1, 2, 3, 4]), 1.0 - (0.3333 * (1.0 - 0.2857) / 2.0),
          atol=1e-3)


def test_multi_full_sample_weight_flat():
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=False)
    result = auc(M_GOOD, M_PRED, sample_weight=np.arange(4 * 2).reshape(4, 2))
    close(result, 1.0 - (0.3333 * (1.0 - 0.2727) / 2.0), atol=1e-3)


def test_multi_label_weights():
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=True, label_weights=[0.75, 0.25])
    close(auc(M_GOOD, M_PRED), (0.875 * 0.75 + 1.0 * 0.25) / (0.75 + 0.25), atol=1e-3)


def test_multi_label_weights_flat():
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=False, label_weights=[0.75, 0.25])
    close(auc(M_GOOD, M_PRED), 1.0 - ((1.0 - 0.375) * 0.375 / 2.0), atol=1e-2)


@pytest.mark.parametrize("from_logits", [False, True])
def test_multi_unweighted_flat(from_logits):
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=False, from_logits=from_logits)
    close(auc(M_GOOD, logits(M_PRED) if from_logits else M_PRED), 1.0 - (3.0 / 32.0), atol=1e-3)


def test_multi_manual_thresholds():
    auc = ks.metrics.AUC(num_thresholds=2, thresholds=[0.5], multi_label=True)
    assert auc.num_thresholds == 3
    close(auc.thresholds, [0.0, 0.5, 1.0])
    close(auc(M_GOOD, M_PRED), (0.75 + 0.5) / 2.0, atol=1e-3)


def test_multi_weighted_roc_interpolation():
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=True)
    close(auc(M_GOOD, M_PRED, sample_weight=WEIGHTS), 1.0 - 0.5 * 0.43 * 0.67, atol=1e-1)


def test_multi_pr_interpolation_unweighted():
    auc = ks.metrics.AUC(num_thresholds=5, curve="PR", multi_label=True)
    close(auc(M_GOOD, M_PRED), (0.91667 + 1.0) / 2.0, atol=1e-1)
    close(auc(M_BAD, M_PRED), (0.91667 + 0.5) / 2.0, atol=1e-1)


def test_multi_pr_interpolation():
    auc = ks.metrics.AUC(num_thresholds=5, curve="PR", multi_label=True)
    close(auc(M_GOOD, M_PRED, sample_weight=WEIGHTS), (0.939 + 1.0) / 2.0, atol=1e-1)


def test_multi_keras_model_compiles():
    model = ks.Model(torch.nn.Sequential(torch.nn.Linear(10, 3), torch.nn.Sigmoid()))
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[ks.metrics.AUC(multi_label=True)])


def test_multi_reset_state():
    auc = ks.metrics.AUC(num_thresholds=5, multi_label=True)
    auc(M_GOOD, M_PRED)
    auc.reset_state()
    close(auc.true_positives, np.zeros((5, 2)))
