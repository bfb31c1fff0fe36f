"""Keras 3.15.1's keras/src/metrics/confusion_metrics_test.py, ported onto ks.metrics (part 1: the
counts, Precision, Recall and the at-threshold rates; AUC is in test_confusion_metrics_auc_port.py).

Each Keras case is a test (or a parametrization) named after it, with Keras's inputs and numbers.
Keras's ``[v.name for v in m.variables]`` check becomes: ``variables`` are the named counts, in
Keras's order. Keras's exact message texts become a ``match=`` on the argument named.
"""

import numpy as np
import pytest
import torch

import kerasish as ks


def close(actual, expected, atol=1e-6, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(torch.as_tensor(actual), dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), atol=atol, rtol=rtol)


# ---- TruePositives, FalsePositives, TrueNegatives, FalseNegatives ----------------------------

COUNT_CLASSES = ["FalsePositives", "FalseNegatives", "TrueNegatives", "TruePositives"]
BINARY_TRUE = np.array(((0, 1, 0, 1, 0), (0, 0, 1, 1, 1), (1, 1, 1, 1, 0), (0, 0, 0, 0, 1)))
BINARY_PRED = np.array(((0, 0, 1, 1, 0), (1, 1, 1, 1, 1), (0, 1, 0, 1, 0), (1, 1, 1, 1, 1)))
SCORES = np.array(((0.9, 0.2, 0.8, 0.1), (0.2, 0.9, 0.7, 0.6), (0.1, 0.2, 0.4, 0.3), (0, 1, 0.7, 0.3)))
SCORE_TRUE = np.array(((0, 1, 1, 0), (1, 0, 0, 0), (0, 0, 0, 0), (1, 1, 1, 1)))


@pytest.mark.parametrize("cls", COUNT_CLASSES)
def test_count_config(cls):
    metric = getattr(ks.metrics, cls)(name="my_count", thresholds=[0.4, 0.9])
    assert metric.name == "my_count"
    assert len(metric.variables) == 1
    assert metric.thresholds == [0.4, 0.9]
    again = getattr(ks.metrics, cls).from_config(metric.get_config())
    assert again.name == "my_count"
    assert len(again.variables) == 1
    assert again.thresholds == [0.4, 0.9]


@pytest.mark.parametrize("cls, expected", [("FalsePositives", 7.0), ("FalseNegatives", 3.0),
                                           ("TrueNegatives", 3.0), ("TruePositives", 7.0)])
def test_count_unweighted(cls, expected):
    metric = getattr(ks.metrics, cls)()
    metric.update_state(BINARY_TRUE, BINARY_PRED)
    close(metric.result(), expected)


@pytest.mark.parametrize("cls, expected", [("FalsePositives", 14.0), ("FalseNegatives", 5.0),
                                           ("TrueNegatives", 4.0), ("TruePositives", 12.0)])
def test_count_weighted(cls, expected):
    metric = getattr(ks.metrics, cls)()
    close(metric(BINARY_TRUE, BINARY_PRED, sample_weight=np.array((1.0, 1.5, 2.0, 2.5))), expected)


@pytest.mark.parametrize("cls, expected", [
    ("FalsePositives", [7.0, 4.0, 2.0]), ("FalseNegatives", [1.0, 4.0, 6.0]),
    ("TrueNegatives", [2.0, 5.0, 7.0]), ("TruePositives", [6.0, 3.0, 1.0])])
def test_count_unweighted_with_thresholds(cls, expected):
    metric = getattr(ks.metrics, cls)(thresholds=[0.15, 0.5, 0.85])
    metric.update_state(SCORE_TRUE, SCORES)
    close(metric.result(), expected)


@pytest.mark.parametrize("cls, weights, expected", [
    ("FalsePositives", ((1.0, 2.0, 3.0, 5.0), (7.0, 11.0, 13.0, 17.0), (19.0, 23.0, 29.0, 31.0),
                        (5.0, 15.0, 10.0, 0)), [125.0, 42.0, 12.0]),
    ("FalseNegatives", ((3.0,), (5.0,), (7.0,), (4.0,)), [4.0, 16.0, 23.0]),
    ("TrueNegatives", ((0.0, 2.0, 3.0, 5.0),), [5.0, 15.0, 23.0]),
    ("TruePositives", 37.0, [222.0, 111.0, 37.0])])
def test_count_weighted_with_thresholds(cls, weights, expected):
    metric = getattr(ks.metrics, cls)(thresholds=[0.15, 0.5, 0.85])
    close(metric(SCORE_TRUE, SCORES, sample_weight=weights), expected)


@pytest.mark.parametrize("cls", COUNT_CLASSES)
def test_count_threshold_limit(cls):
    with pytest.raises(ValueError, match=r"thresholds.*\[0, 1\]"):
        getattr(ks.metrics, cls)(thresholds=[-1, 0.5, 2])
    with pytest.raises(ValueError, match="thresholds"):
        getattr(ks.metrics, cls)(thresholds=[None])


# ---- Precision and Recall ---------------------------------------------------------------------

MULTICLASS_PRED = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.7, 0.2, 0.1],
                            [0.1, 0.1, 0.8]])
MULTICLASS_TRUE = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0],
                            [0.0, 0.0, 1.0]])
RATES = {"Precision": ("true_positives", "false_positives"),
         "Recall": ("true_positives", "false_negatives")}


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_rate_config(cls):
    metric = getattr(ks.metrics, cls)(name="my_rate", thresholds=[0.4, 0.9], top_k=15, class_id=12)
    assert metric.name == "my_rate"
    assert len(metric.variables) == 2
    assert metric.thresholds == [0.4, 0.9] and metric.top_k == 15 and metric.class_id == 12
    # Keras names its variables; here they are the named counts, in Keras's order.
    metric.update_state(np.eye(16)[[12, 3]], np.eye(16)[[12, 12]] * np.array([[0.95], [0.5]]))
    for variable, attribute in zip(metric.variables, RATES[cls]):
        assert torch.equal(variable, getattr(metric, attribute))
    assert not torch.equal(metric.variables[0], metric.variables[1])
    again = getattr(ks.metrics, cls).from_config(metric.get_config())
    assert again.name == "my_rate" and len(again.variables) == 2
    assert again.thresholds == [0.4, 0.9] and again.top_k == 15 and again.class_id == 12


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_rate_unweighted(cls):
    close(getattr(ks.metrics, cls)()(np.array([0, 1, 1, 0]), np.array([1, 0, 1, 0])), 0.5)


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_rate_unweighted_all_incorrect(cls):
    inputs = np.random.randint(0, 2, size=(100, 1))
    close(getattr(ks.metrics, cls)(thresholds=[0.5])(np.array(1 - inputs), np.array(inputs)), 0)


@pytest.mark.parametrize("cls, y_pred, expected", [
    ("Precision", [[1, 0, 1, 0], [1, 0, 1, 0]], (3.0 + 4.0) / ((1.0 + 3.0) + (4.0 + 2.0))),
    ("Recall", [[1, 0, 1, 0], [0, 1, 0, 1]], (3.0 + 1.0) / ((2.0 + 3.0) + (4.0 + 1.0)))])
def test_rate_weighted(cls, y_pred, expected):
    result = getattr(ks.metrics, cls)()(np.array([[0, 1, 1, 0], [1, 0, 0, 1]]), np.array(y_pred),
                                        sample_weight=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]))
    close(result, expected)


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_rate_div_by_zero(cls):
    assert float(getattr(ks.metrics, cls)()(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 0]))) == 0


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_rate_unweighted_with_threshold(cls):
    result = getattr(ks.metrics, cls)(thresholds=[0.5, 0.7])(np.array([0, 1, 1, 0]),
                                                             np.array([1, 0, 0.6, 0]))
    close(result, [0.5, 0.0])


@pytest.mark.parametrize("cls, weights", [("Precision", [[4, 0], [3, 1]]),
                                          ("Recall", [[1, 4], [3, 2]])])
def test_rate_weighted_with_threshold(cls, weights):
    result = getattr(ks.metrics, cls)(thresholds=[0.5, 1.0])(
        np.array([[0, 1], [1, 0]]), np.array([[1, 0], [0.6, 0]], dtype="float32"),
        sample_weight=np.array(weights, dtype="float32"))
    close(result, [3.0 / 7.0, 0], atol=1e-3)


@pytest.mark.parametrize("cls, weights", [("Precision", [[4, 0], [3, 1]]),
                                          ("Recall", [[1, 4], [3, 2]])])
def test_rate_multiple_updates(cls, weights):
    metric = getattr(ks.metrics, cls)(thresholds=[0.5, 1.0])
    for _ in range(2):
        metric.update_state(np.array([[0, 1], [1, 0]]), np.array([[1, 0], [0.6, 0]], dtype="float32"),
                            sample_weight=np.array(weights, dtype="float32"))
    close(metric.result(), [6.0 / 14.0, 0], atol=1e-3)


@pytest.mark.parametrize("cls, expected", [("Precision", 1.0 / 3), ("Recall", 0.5)])
def test_rate_unweighted_top_k(cls, expected):
    metric = getattr(ks.metrics, cls)(top_k=3)
    close(metric(np.array([0, 1, 1, 0, 0]), np.array([0.2, 0.1, 0.5, 0, 0.2])), expected)


@pytest.mark.parametrize("cls, expected", [
    ("Precision", ((2 + 5) + (3 + 3)) / ((1 + 2 + 5) + (3 + 3 + 3))),
    ("Recall", ((2 + 5) + (3 + 3)) / ((4 + 2 + 5) + (3 + 3 + 3 + 3)))])
def test_rate_weighted_top_k(cls, expected):
    metric = getattr(ks.metrics, cls)(top_k=3)
    metric(np.array([[0, 1, 1, 0, 1]]), np.array([[0.2, 0.1, 0.4, 0, 0.2]]),
           sample_weight=np.array([[1, 4, 2, 3, 5]]))
    result = metric(np.array([1, 0, 1, 1, 1]), np.array([0.2, 0.6, 0.4, 0.2, 0.2]),
                    sample_weight=np.array(3))
    close(result, expected)


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_rate_unweighted_class_id_should_throw_error_1d(cls):
    with pytest.raises(ValueError, match=r"class_id.*\(num_samples, num_classes\)"):
        getattr(ks.metrics, cls)(class_id=2)(np.array([0, 1, 1, 0, 0]),
                                             np.array([0.2, 0.1, 0.6, 0, 0.2]))


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_rate_unweighted_class_id_multiclass(cls):
    metric = getattr(ks.metrics, cls)(class_id=1)
    close(metric(MULTICLASS_TRUE, MULTICLASS_PRED), 1.0)
    close(metric.true_positives, [1.0])
    close(getattr(metric, RATES[cls][1]), [0.0])


@pytest.mark.parametrize("cls, y_true, expected, other", [
    ("Precision", [0, 1, 1, 0, 1], 1, 0), ("Recall", [1, 1, 1, 0, 1], 0.25, 3)])
def test_rate_unweighted_top_k_and_threshold(cls, y_true, expected, other):
    metric = getattr(ks.metrics, cls)(thresholds=0.7, top_k=2)
    close(metric(np.array(y_true), np.array([0.2, 0.8, 0.6, 0, 0.2])), expected)
    close(metric.true_positives, [1])
    close(getattr(metric, RATES[cls][1]), [other])


def test_precision_end_to_end():
    """RecallAtPrecisionTest::test_end_to_end (keras issue 718): Precision in a compiled fit."""
    model = ks.Model(torch.nn.Linear(1, 1))
    model.compile(optimizer="rmsprop", loss="mse", metrics=[ks.metrics.Precision()])
    history = model.fit(np.ones((5, 1), "float32"), np.ones((5, 1), "float32"), verbose=0)
    assert "precision" in history.history


# ---- SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision --

AT = {"SensitivityAtSpecificity": "specificity", "SpecificityAtSensitivity": "sensitivity",
      "PrecisionAtRecall": "recall", "RecallAtPrecision": "precision"}
SENS_PRED = [0.0, 0.1, 0.2, 0.3, 0.4, 0.01, 0.02, 0.25, 0.26, 0.26]
PAR_PRED = [0.0, 0.1, 0.2, 0.5, 0.6, 0.2, 0.5, 0.6, 0.8, 0.9]
RAP_PRED = [0.05, 0.1, 0.2, 0.3, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.9, 0.95]
RAP_TRUE = [0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1]
FIVE_FIVE = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def one_hot_class_2(pred, labels):
    """Keras's ``ops.transpose([pred] * 3)`` and ``ops.one_hot(labels, 3)``."""
    return np.eye(3)[np.array(labels)], np.array([pred] * 3, dtype="float32").T


@pytest.mark.parametrize("cls", list(AT))
def test_at_config(cls):
    metric = getattr(ks.metrics, cls)(0.4, num_thresholds=100, class_id=12, name="at_1")
    assert metric.name == "at_1"
    assert len(metric.variables) == 4
    assert getattr(metric, AT[cls]) == 0.4
    assert metric.num_thresholds == 100 and metric.class_id == 12
    again = getattr(ks.metrics, cls).from_config(metric.get_config())
    assert again.name == "at_1" and len(again.variables) == 4
    assert getattr(again, AT[cls]) == 0.4
    assert again.num_thresholds == 100 and again.class_id == 12


@pytest.mark.parametrize("cls", list(AT))
def test_at_unweighted_all_correct(cls):
    inputs = np.random.randint(0, 2, size=(100, 1))
    close(getattr(ks.metrics, cls)(0.7)(np.array(inputs), np.array(inputs, dtype="float32")), 1)


@pytest.mark.parametrize("cls, value, pred, labels, expected", [
    # SensitivityAtSpecificityTest::test_unweighted_high_specificity / low_specificity
    ("SensitivityAtSpecificity", 0.8, [0.0, 0.1, 0.2, 0.3, 0.4, 0.1, 0.45, 0.5, 0.8, 0.9],
     FIVE_FIVE, 0.8),
    ("SensitivityAtSpecificity", 0.4, SENS_PRED, FIVE_FIVE, 0.6),
    # SpecificityAtSensitivityTest::test_unweighted_high_sensitivity / low_sensitivity
    ("SpecificityAtSensitivity", 1.0, SENS_PRED, FIVE_FIVE, 0.2),
    ("SpecificityAtSensitivity", 0.4, SENS_PRED, FIVE_FIVE, 0.6),
    # PrecisionAtRecallTest::test_unweighted_high_recall / low_recall
    ("PrecisionAtRecall", 0.8, PAR_PRED, FIVE_FIVE, 2.0 / 3),
    ("PrecisionAtRecall", 0.6, PAR_PRED, FIVE_FIVE, 0.75),
    # RecallAtPrecisionTest::test_unweighted_high_precision / low_precision / unachievable
    ("RecallAtPrecision", 0.75, RAP_PRED, RAP_TRUE, 0.5),
    ("RecallAtPrecision", 2.0 / 3, RAP_PRED, RAP_TRUE, 5.0 / 6),
    ("RecallAtPrecision", 2.0 / 3, [0.1, 0.2, 0.3, 0.9], [1, 1, 0, 0], 0),
], ids=["high_specificity", "low_specificity", "high_sensitivity", "low_sensitivity",
        "high_recall", "low_recall", "high_precision", "low_precision", "unachievable_precision"])
def test_at_unweighted(cls, value, pred, labels, expected):
    metric = getattr(ks.metrics, cls)(value)
    close(metric(np.array(labels), np.array(pred, dtype="float32")), expected, atol=1e-6)


@pytest.mark.parametrize("cls, value, pred, labels, expected", [
    ("SensitivityAtSpecificity", 0.4, SENS_PRED, [2 * v for v in FIVE_FIVE], 0.6),  # Keras uses
    ("SpecificityAtSensitivity", 0.4, SENS_PRED, [2 * v for v in FIVE_FIVE], 0.6),  # SaS here too
    ("PrecisionAtRecall", 0.6, PAR_PRED, [2 * v for v in FIVE_FIVE], 0.75),
    ("RecallAtPrecision", 2.0 / 3, RAP_PRED, [2 * v for v in RAP_TRUE], 5.0 / 6)])
def test_at_unweighted_class_id(cls, value, pred, labels, expected):
    # Keras's SensitivityAtSpecificityTest::test_unweighted_class_id builds a
    # SpecificityAtSensitivity; the port keeps that.
    cls = "SpecificityAtSensitivity" if cls == "SensitivityAtSpecificity" else cls
    y_true, y_pred = one_hot_class_2(pred, labels)
    close(getattr(ks.metrics, cls)(value, class_id=2)(y_true, y_pred), expected, atol=1e-6)


@pytest.mark.parametrize("label_dtype", [torch.bool, torch.int32, torch.float32])
@pytest.mark.parametrize("cls, value, pred, labels, weights, expected", [
    ("SensitivityAtSpecificity", 0.4, SENS_PRED, FIVE_FIVE, list(range(1, 11)), 0.675),
    ("SpecificityAtSensitivity", 0.4, SENS_PRED, FIVE_FIVE, list(range(1, 11)), 0.4),
    ("PrecisionAtRecall", 7.0 / 8, PAR_PRED, FIVE_FIVE, [2, 1, 2, 1, 2, 1, 2, 2, 1, 2], 0.7),
    ("RecallAtPrecision", 0.75, [0.1, 0.2, 0.3, 0.5, 0.6, 0.9, 0.9], [0, 1, 0, 0, 0, 1, 1],
     [1, 2, 1, 2, 1, 2, 1], 0.6)])
def test_at_weighted(cls, value, pred, labels, weights, expected, label_dtype):
    metric = getattr(ks.metrics, cls)(value)
    result = metric(torch.tensor(labels).to(label_dtype), np.array(pred, dtype="float32"),
                    sample_weight=np.array(weights))
    close(result, expected, atol=1e-6)


@pytest.mark.parametrize("cls", list(AT))
def test_at_invalid_value(cls):
    with pytest.raises(ValueError, match=rf"{AT[cls]}.*\[0, 1\]"):
        getattr(ks.metrics, cls)(-1)


@pytest.mark.parametrize("cls", list(AT))
def test_at_invalid_num_thresholds(cls):
    with pytest.raises(ValueError, match="num_thresholds must be a positive integer"):
        getattr(ks.metrics, cls)(0.4, num_thresholds=-1)


def test_handles_sas_metrics():
    """SensitivityAtSpecificityTest::test_handles_sas_metrics (keras issue 19376)."""
    model = ks.Model(torch.nn.Linear(1, 1))
    sas = ks.metrics.SpecificityAtSensitivity(0.5, name="sas")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[sas])
    history = model.fit(np.ones((5, 1), "float32"), np.ones((5, 1), "float32"), verbose=0)
    assert "sas" in history.history
