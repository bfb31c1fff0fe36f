"""Port of Keras 3.15.1 ``keras/src/metrics/accuracy_metrics_test.py`` onto ``ks.metrics``."""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks

CONFIGS = [  # (class, kwargs, extra config keys): every test_config of the file
    (ks.metrics.Accuracy, {"name": "accuracy"}, {}),
    (ks.metrics.BinaryAccuracy, {"name": "binary_accuracy"}, {}),
    (ks.metrics.CategoricalAccuracy, {"name": "categorical_accuracy"}, {}),
    (ks.metrics.SparseCategoricalAccuracy, {"name": "sparse_categorical_accuracy"}, {}),
    (ks.metrics.TopKCategoricalAccuracy, {"k": 1, "name": "top_k_categorical_accuracy"}, {"k": 1}),
    (ks.metrics.SparseTopKCategoricalAccuracy, {"k": 1, "name": "sparse_top_k_categorical_accuracy"},
     {"k": 1}),
]


@pytest.mark.parametrize("cls, kwargs, extra", CONFIGS, ids=[c[0].__name__ for c in CONFIGS])
def test_config(cls, kwargs, extra):
    metric = cls(dtype="float32", **kwargs)
    assert (metric.name, len(metric.variables), metric.dtype) == (kwargs["name"], 2, "float32")
    config = metric.get_config()
    assert (config["name"], config["dtype"]) == (kwargs["name"], "float32")
    assert all(config[key] == value for key, value in extra.items())
    again = cls.from_config(config)
    assert (again.name, len(again.variables), again.dtype) == (kwargs["name"], 2, "float32")
    assert all(getattr(again, key) == value for key, value in extra.items())
    if cls is ks.metrics.SparseTopKCategoricalAccuracy:
        assert again.from_sorted_ids is False


def test_sparse_top_k_config_from_sorted_ids():
    metric = ks.metrics.SparseTopKCategoricalAccuracy(k=1, dtype="float32", from_sorted_ids=True)
    assert metric.get_config()["from_sorted_ids"] is True
    assert ks.metrics.SparseTopKCategoricalAccuracy.from_config(metric.get_config()).from_sorted_ids


SCORES = np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]], dtype="float32")
ONE_HOT = np.array([[0, 0, 1], [0, 1, 0]])
W = np.array([0.7, 0.3])
CASES = {
    # Accuracy
    "acc_unweighted": (ks.metrics.Accuracy, {}, [[1], [2], [3], [4]], [[0], [2], [3], [4]], None, 0.75),
    "acc_weighted": (ks.metrics.Accuracy, {}, [[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0], 0.5),
    "acc_weighted_rank_1": (ks.metrics.Accuracy, {}, [1, 2, 3, 4], [0, 2, 3, 4], [1, 1, 0, 0], 0.5),
    "acc_weighted_nd_weights": (ks.metrics.Accuracy, {}, [[1, 2], [3, 4]], [[0, 2], [3, 4]],
                                [[1, 0], [0, 1]], 0.5),
    "acc_weighted_nd_broadcast_weights": (ks.metrics.Accuracy, {}, [[1, 2], [3, 4]], [[0, 2], [3, 4]],
                                          [[1, 0]], 0.5),
    # BinaryAccuracy (test_unweighted has two parts)
    "bin_unweighted": (ks.metrics.BinaryAccuracy, {}, [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]],
                       None, 0.75),
    "bin_unweighted_broadcast": (ks.metrics.BinaryAccuracy, {}, [1, 1, 0, 0], [[0.98], [1], [0], [0.6]],
                                 None, 0.75),
    "bin_weighted": (ks.metrics.BinaryAccuracy, {}, [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]],
                     [1, 0, 0, 1], 0.5),
    "bin_weighted_rank_1": (ks.metrics.BinaryAccuracy, {}, [1, 1, 0, 0], [0.98, 1, 0, 0.6],
                            [1, 0, 0, 1], 0.5),
    "bin_weighted_nd_weights": (ks.metrics.BinaryAccuracy, {}, [[1, 1], [0, 0]], [[0.98, 1], [0, 0.6]],
                                [[1, 0], [0, 1]], 0.5),
    "bin_weighted_nd_broadcast_weights": (ks.metrics.BinaryAccuracy, {}, [[1, 1], [0, 0]],
                                          [[0.98, 1], [0, 0.6]], [[1, 0]], 1.0),
    "bin_threshold_0.3": (ks.metrics.BinaryAccuracy, {"threshold": 0.3}, [[1], [1], [0], [0]],
                          [[0.98], [0.5], [0.1], [0.2]], None, 1.0),
    "bin_threshold_0.9": (ks.metrics.BinaryAccuracy, {"threshold": 0.9}, [[1], [1], [0], [0]],
                          [[0.98], [0.5], [0.1], [0.2]], None, 0.75),
    # CategoricalAccuracy
    "cat_unweighted": (ks.metrics.CategoricalAccuracy, {}, ONE_HOT, SCORES, None, 0.5),
    "cat_weighted": (ks.metrics.CategoricalAccuracy, {}, ONE_HOT, SCORES, W, 0.3),
    # SparseCategoricalAccuracy
    "sp_unweighted": (ks.metrics.SparseCategoricalAccuracy, {}, [[2], [1]],
                      [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], None, 0.5),
    "sp_weighted": (ks.metrics.SparseCategoricalAccuracy, {}, [[2], [1]],
                    [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], W, 0.3),
    "sp_squeeze_y_true": (ks.metrics.SparseCategoricalAccuracy, {}, [[0], [1], [2]],
                          [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]], None, 1.0),
    "sp_cast_y_pred_dtype": (ks.metrics.SparseCategoricalAccuracy, {}, np.array([0, 1], np.int64),
                             np.array([[0.9, 0.1], [0.1, 0.9]], np.float32), None, 1.0),
    "sp_reshape_matches": (ks.metrics.SparseCategoricalAccuracy, {}, np.array([[0], [0]], np.int64),
                           np.array([[[0.9, 0.1, 0.0], [0.8, 0.15, 0.05]]], np.float32), None, 1.0),
    "sp_squeeze_y_true_shape": (ks.metrics.SparseCategoricalAccuracy, {}, [[0], [1], [2]],
                                np.eye(3), None, 1.0),
    "sp_cast_y_pred_to_match_y_true_dtype": (
        ks.metrics.SparseCategoricalAccuracy, {}, np.array([0, 1, 2], np.int32),
        np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.1, 0.0, 0.9]], np.float64), None, 1.0),
    "sp_reshape_matches_to_original_y_true_shape": (
        ks.metrics.SparseCategoricalAccuracy, {}, [[0], [1]], [[0.9, 0.1], [0.1, 0.9]], None, 1.0),
    "sp_matching_shapes_without_squeeze": (
        ks.metrics.SparseCategoricalAccuracy, {}, np.array([2, 1, 0], np.int32),
        np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], np.float32), None, 1.0),
    # TopKCategoricalAccuracy
    "topk_unweighted": (ks.metrics.TopKCategoricalAccuracy, {"k": 1}, ONE_HOT, SCORES, None, 0.5),
    "topk_weighted": (ks.metrics.TopKCategoricalAccuracy, {"k": 1}, ONE_HOT, SCORES, W, 0.3),
    # SparseTopKCategoricalAccuracy
    "sptopk_unweighted": (ks.metrics.SparseTopKCategoricalAccuracy, {"k": 1}, [2, 1], SCORES, None, 0.5),
    "sptopk_weighted": (ks.metrics.SparseTopKCategoricalAccuracy, {"k": 1}, [2, 1], SCORES, W, 0.3),
    "sptopk_from_sorted_ids_unweighted": (ks.metrics.SparseTopKCategoricalAccuracy,
                                          {"k": 1, "from_sorted_ids": True}, [2, 1],
                                          [[1, 0, 3], [1, 2, 3]], None, 0.5),
    "sptopk_from_sorted_ids_weighted": (ks.metrics.SparseTopKCategoricalAccuracy,
                                        {"k": 1, "from_sorted_ids": True}, [2, 1],
                                        [[1, 0, 3], [1, 2, 3]], W, 0.3),
}


@pytest.mark.parametrize("cls, kwargs, y_true, y_pred, weight, expected", CASES.values(), ids=list(CASES))
def test_values(cls, kwargs, y_true, y_pred, weight, expected):
    metric = cls(dtype="float32", **kwargs)
    metric.update_state(np.asarray(y_true), np.asarray(y_pred),
                        sample_weight=None if weight is None else np.asarray(weight))
    np.testing.assert_allclose(metric.result().numpy(), expected, atol=1e-3)


def test_binary_accuracy_soft_labels_match_keras():
    """A soft label equals neither 0 nor 1: Keras counts it as a miss (kerasish counted 0.3 as 0)."""
    metric = ks.metrics.BinaryAccuracy()
    metric.update_state(np.array([[0.3], [1.0]]), np.array([[0.1], [0.9]]))
    assert float(metric.result()) == pytest.approx(0.5)
