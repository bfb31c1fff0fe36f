"""Port of Keras 3.15.1 ``keras/src/metrics/hinge_metrics_test.py`` onto ``ks.metrics``."""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks

PRED = np.array([[-0.3, 0.2, -0.1, 1.6], [-0.25, -1.0, 0.5, 0.6]])
BINARY = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
SIGNED = np.array([[-1, 1, -1, 1], [-1, -1, 1, 1]])
CAT_TRUE = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]], "float32")
CAT_PRED = np.array([[0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [1, 1, 1, 1, 1]], "float32")


@pytest.mark.parametrize("cls, name", [(ks.metrics.Hinge, "hinge"),
                                       (ks.metrics.SquaredHinge, "squared_hinge"),
                                       (ks.metrics.CategoricalHinge, "cat_hinge")])
def test_config(cls, name):
    metric = cls(name=name, dtype="int32")
    assert (metric.name, metric.dtype) == (name, "int32")
    again = cls.from_config(metric.get_config())
    assert (again.name, len(again.variables), again.dtype) == (name, 2, "int32")


@pytest.mark.parametrize("cls, y_true, y_pred, weight, expected", [
    (ks.metrics.Hinge, BINARY, PRED, None, 0.506),
    (ks.metrics.Hinge, SIGNED, PRED, np.array([1.5, 2.0]), 0.493),
    (ks.metrics.SquaredHinge, BINARY.astype("float32"), PRED, None, 0.364),
    (ks.metrics.SquaredHinge, SIGNED.astype("float32"), PRED, np.array([1.5, 2.0]), 0.347),
    (ks.metrics.CategoricalHinge, CAT_TRUE, CAT_PRED, None, 0.5),
    (ks.metrics.CategoricalHinge, CAT_TRUE, CAT_PRED, np.array((1.0, 1.5, 2.0, 2.5)), 0.5),
], ids=["hinge_unweighted", "hinge_weighted", "squared_hinge_unweighted", "squared_hinge_weighted",
        "categorical_hinge_unweighted", "categorical_hinge_weighted"])
def test_values(cls, y_true, y_pred, weight, expected):
    metric = cls()
    result = metric(y_true, y_pred, sample_weight=weight)
    assert float(result) == pytest.approx(expected, abs=1e-3)
