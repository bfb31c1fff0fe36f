"""Port of Keras 3.15.1 ``keras/src/metrics/probabilistic_metrics_test.py`` onto ``ks.metrics``.

Keras's ``run_class_serialization_test`` also round-trips through ``keras.saving``; the port keeps
its ``get_config``/``from_config`` half (NOT_PORTED.md).
"""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks

KL_PRED = np.asarray([0.4, 0.9, 0.12, 0.36, 0.3, 0.4], dtype=np.float32).reshape((2, 3))
KL_TRUE = np.asarray([0.5, 0.8, 0.12, 0.7, 0.43, 0.8], dtype=np.float32).reshape((2, 3))
KL_EXPECTED = KL_TRUE * np.log(KL_TRUE / KL_PRED)
PO_PRED = np.asarray([1, 9, 2, 5, 2, 6], dtype=np.float32).reshape((2, 3))
PO_TRUE = np.asarray([4, 8, 12, 8, 1, 3], dtype=np.float32).reshape((2, 3))
PO_EXPECTED = PO_PRED - PO_TRUE * np.log(PO_PRED)
ROW_WEIGHT = np.asarray([1.2, 3.4], dtype=np.float32).reshape((2, 1))
FULL_WEIGHT = np.asarray([1.2, 1.2, 1.2, 3.4, 3.4, 3.4], dtype=np.float32).reshape((2, 3))


@pytest.mark.parametrize("make", [
    lambda: ks.metrics.KLDivergence(name="kld", dtype="int32"),
    lambda: ks.metrics.Poisson(name="poisson"),
    lambda: ks.metrics.BinaryCrossentropy(name="bce", dtype="int32", label_smoothing=0.2),
    lambda: ks.metrics.CategoricalCrossentropy(name="cce", dtype="int32", label_smoothing=0.2),
    lambda: ks.metrics.SparseCategoricalCrossentropy(name="scce", dtype="int32"),
], ids=["KLDivergence", "Poisson", "BinaryCrossentropy", "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy"])
def test_config(make):
    metric = make()
    again = type(metric).from_config(metric.get_config())
    assert again.get_config() == metric.get_config()
    assert (again.name, again.dtype) == (metric.name, metric.dtype)


def test_kl_unweighted():
    metric = ks.metrics.KLDivergence()
    metric.update_state(KL_TRUE, KL_PRED)
    assert float(metric.result()) == pytest.approx(np.sum(KL_EXPECTED) / 2, abs=1e-3)


def test_kl_weighted():
    result = ks.metrics.KLDivergence()(KL_TRUE, KL_PRED, sample_weight=ROW_WEIGHT)
    assert float(result) == pytest.approx(np.sum(KL_EXPECTED * FULL_WEIGHT) / (1.2 + 3.4), abs=1e-3)


def test_poisson_unweighted():
    metric = ks.metrics.Poisson()
    metric.update_state(PO_TRUE, PO_PRED)
    assert float(metric.result()) == pytest.approx(np.sum(PO_EXPECTED) / 6, abs=1e-3)


def test_poisson_weighted():
    result = ks.metrics.Poisson()(PO_TRUE, PO_PRED, sample_weight=ROW_WEIGHT)
    expected = np.sum(PO_EXPECTED * FULL_WEIGHT) / np.sum(FULL_WEIGHT)
    assert float(result) == pytest.approx(expected, abs=1e-3)


BCE_TRUE = np.array([1, 0, 1, 0]).reshape([2, 2])
BCE_PRED = np.array([1, 1, 1, 0], dtype=np.float32).reshape([2, 2])
BCE_LOGIT_TRUE = np.array([[1, 0, 1], [0, 1, 1]])
BCE_LOGITS = np.array([[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]])
CCE_TRUE = np.array([[0, 1, 0], [0, 0, 1]])
CCE_PRED = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
CCE_LOGITS = np.array([[1, 9, 0], [1, 8, 1]], dtype=np.float32)
SCCE_TRUE = np.array([1, 2])
IGN_TRUE = np.array([0, 1, 2])
IGN_PRED = np.array([[0.8, 0.1, 0.1], [0.05, 0.95, 0], [0.1, 0.8, 0.1]])
IGN_LOGITS = np.array([[10, 1, 1], [1, 9, 0], [1, 8, 1]], dtype=np.float32)
BCE, CCE, SCCE = ks.metrics.BinaryCrossentropy, ks.metrics.CategoricalCrossentropy, \
    ks.metrics.SparseCategoricalCrossentropy

CASES = {
    "bce_unweighted": (BCE, {}, BCE_TRUE, BCE_PRED, None, 3.9855),
    "bce_unweighted_with_logits": (BCE, {"from_logits": True}, BCE_LOGIT_TRUE, BCE_LOGITS, None, 3.333),
    "bce_weighted": (BCE, {}, BCE_TRUE, BCE_PRED, np.array([1.5, 2.0]), 3.4162),
    "bce_weighted_from_logits": (BCE, {"from_logits": True}, BCE_LOGIT_TRUE, BCE_LOGITS,
                                 np.array([2.0, 2.5]), 3.7037),
    "bce_label_smoothing": (BCE, {"from_logits": True, "label_smoothing": 0.1}, np.array([1, 0, 1]),
                            np.array([10.0, -10.0, -10.0]), None, (10.0 + 5.0 * 0.1) / 3.0),
    "cce_unweighted": (CCE, {}, CCE_TRUE, CCE_PRED, None, 1.176),
    "cce_unweighted_from_logits": (CCE, {"from_logits": True}, CCE_TRUE, CCE_LOGITS, None, 3.5011),
    "cce_weighted": (CCE, {}, CCE_TRUE, CCE_PRED, np.array([1.5, 2.0]), 1.338),
    "cce_weighted_from_logits": (CCE, {"from_logits": True}, CCE_TRUE, CCE_LOGITS, np.array([1.5, 2.0]),
                                 4.0012),
    "cce_label_smoothing": (CCE, {"from_logits": True, "label_smoothing": 0.1}, CCE_TRUE, CCE_LOGITS,
                            None, 3.667),
    "scce_unweighted": (SCCE, {}, SCCE_TRUE, CCE_PRED, None, 1.176),
    "scce_unweighted_from_logits": (SCCE, {"from_logits": True}, SCCE_TRUE, CCE_LOGITS, None, 3.5011),
    "scce_weighted": (SCCE, {}, SCCE_TRUE, CCE_PRED, np.array([1.5, 2.0]), 1.338),
    "scce_weighted_from_logits": (SCCE, {"from_logits": True}, SCCE_TRUE, CCE_LOGITS,
                                  np.array([1.5, 2.0]), 4.0012),
    "scce_ignore_class": (SCCE, {"ignore_class": 0}, IGN_TRUE, IGN_PRED, None, 0.78462),
    "scce_ignore_class_weighted": (SCCE, {"ignore_class": 0}, IGN_TRUE, IGN_PRED,
                                   np.array([0.5, 1.5, 2.0]), 1.33774646),
    "scce_ignore_class_from_logits": (SCCE, {"from_logits": True, "ignore_class": 0}, IGN_TRUE,
                                      IGN_LOGITS, None, 2.33409),
}


@pytest.mark.parametrize("cls, kwargs, y_true, y_pred, weight, expected", CASES.values(), ids=list(CASES))
def test_crossentropy_values(cls, kwargs, y_true, y_pred, weight, expected):
    result = cls(**kwargs)(y_true, y_pred, sample_weight=weight)
    assert float(result) == pytest.approx(expected, abs=1e-3)
