"""Keras 3.15.1's keras/src/metrics/iou_metrics_test.py, ported onto ks.metrics.IoU, BinaryIoU,
MeanIoU, OneHotIoU and OneHotMeanIoU with Keras's inputs and numbers (one pytest class per Keras
test class, same case names). After the ports: the same classes side by side with Keras itself on
random inputs, in ``compile`` through fit/evaluate, and their cross-rank state.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks
from tests.keras_port.twins import assert_logs_close, dense_model, keras

ATOL = 1e-3  # Keras's tolerance in this file

TRUE_4, PRED_4 = [0, 0, 1, 1], [0, 1, 0, 1]
WEIGHTS_4 = np.array([0.2, 0.3, 0.4, 0.1])
ONE_HOT_4 = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
SCORES_4 = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])


def close(value, expected):
    np.testing.assert_allclose(np.asarray(value), expected, atol=ATOL)


class TestIoU:
    def test_config(self):
        obj = ks.metrics.IoU(num_classes=2, target_class_ids=[1, 0], name="iou_class_1_0")
        assert (obj.name, obj.num_classes, obj.target_class_ids) == ("iou_class_1_0", 2, [1, 0])
        obj2 = ks.metrics.IoU.from_config(obj.get_config())
        assert (obj2.name, obj2.num_classes, obj2.target_class_ids) == ("iou_class_1_0", 2, [1, 0])

    def test_unweighted(self):
        obj = ks.metrics.IoU(num_classes=2, target_class_ids=[0, 1])
        close(obj(TRUE_4, PRED_4), (1 / (2 + 2 - 1) + 1 / (2 + 2 - 1)) / 2)

    def test_weighted(self):
        obj = ks.metrics.IoU(num_classes=2, target_class_ids=[1, 0], dtype="float32")
        result = obj(np.array(TRUE_4), np.array(PRED_4, dtype=np.float32), sample_weight=WEIGHTS_4)
        close(result, (0.1 / (0.4 + 0.5 - 0.1) + 0.2 / (0.6 + 0.5 - 0.2)) / 2)

    def test_multi_dim_input(self):
        obj = ks.metrics.IoU(num_classes=2, target_class_ids=[0, 1], dtype="float32")
        result = obj(np.array([[0, 0], [1, 1]]), np.array([[0, 1], [0, 1]], dtype=np.float32),
                     sample_weight=np.array([[0.2, 0.3], [0.4, 0.1]]))
        close(result, (0.2 / (0.6 + 0.5 - 0.2) + 0.1 / (0.4 + 0.5 - 0.1)) / 2)

    def test_zero_valid_entries(self):
        close(ks.metrics.IoU(num_classes=2, target_class_ids=[0, 1]).result(), 0)

    def test_zero_and_non_zero_entries(self):
        obj = ks.metrics.IoU(num_classes=2, target_class_ids=[0, 1])
        close(obj(np.array([1]), np.array([1], dtype=np.float32)), (1 / (1 + 1 - 1)) / 1)

    @pytest.mark.parametrize("y_true, y_pred", [([0, 2], [0, 1]), ([0, 1], [0, 2]),
                                                ([-1, 0], [0, 0]), ([0, 1], [-1, 1])],
                             ids=["out_of_range_y_true", "out_of_range_y_pred",
                                  "negative_y_true", "negative_y_pred"])
    def test_out_of_range_and_negative_ignored(self, y_true, y_pred):
        """test_out_of_range_y_true/_y_pred_ignored, test_negative_y_true/_y_pred_ignored."""
        obj = ks.metrics.IoU(num_classes=2, target_class_ids=[0, 1])
        obj.update_state(y_true, y_pred)
        close(obj.result(), 1.0)

    def test_absent_class_contributes_zero(self):
        obj = ks.metrics.IoU(num_classes=4, target_class_ids=[0, 1, 2, 3])
        close(obj(TRUE_4, PRED_4), (1 / (2 + 2 - 1) + 1 / (2 + 2 - 1)) / 2)

    def test_compilation(self):
        """Keras fits a softmax Dense(2) with MeanIoU(num_classes=2, ignore_class=0); so do we,
        and the logs are Keras's."""
        x, y = np.array([[1.0, 1.0]], dtype="float32"), np.array([[1.0, 0.0]], dtype="float32")
        kmodel, twin = dense_model(features=2, heads=(("output_0", 2, "softmax"),))
        kmodel.compile(optimizer="rmsprop", loss="mse",
                       metrics=[keras.metrics.MeanIoU(num_classes=2, ignore_class=0)])
        theirs = kmodel.fit(x, y, verbose=0).history
        model = ks.Model(twin, device="cpu").compile(
            optimizer="rmsprop", loss="mse", metrics=[ks.metrics.MeanIoU(num_classes=2, ignore_class=0)])
        assert_logs_close(model.fit(x, y, verbose=0).history, theirs)


class TestBinaryIoU:
    def test_config(self):
        obj = ks.metrics.BinaryIoU(target_class_ids=[1, 0], threshold=0.1, name="iou_class_1_0")
        assert (obj.name, obj.threshold, obj.target_class_ids) == ("iou_class_1_0", 0.1, [1, 0])
        obj2 = ks.metrics.BinaryIoU.from_config(obj.get_config())
        assert (obj2.name, obj2.threshold, obj2.target_class_ids) == ("iou_class_1_0", 0.1, [1, 0])

    @pytest.mark.parametrize("threshold, weights, expected", [
        (0.3, [0.2, 0.3, 0.4, 0.1], (0.2 / (0.6 + 0.5 - 0.2) + 0.1 / (0.4 + 0.5 - 0.1)) / 2),
        (0.5, [0.1, 0.2, 0.4, 0.3], (0.5 / (0.5 + 0.7 - 0.5) + 0.3 / (0.5 + 0.3 - 0.3)) / 2)])
    def test_different_thresholds_weighted(self, threshold, weights, expected):
        obj = ks.metrics.BinaryIoU(target_class_ids=[0, 1], threshold=threshold, dtype="float32")
        close(obj([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=np.array(weights)), expected)

    @pytest.mark.parametrize("threshold, expected", [
        (0.3, (1 / (2 + 2 - 1) + 1 / (2 + 2 - 1)) / 2),
        (0.5, (2 / (2 + 3 - 2) + 1 / (2 + 1 - 1)) / 2)])
    def test_different_thresholds_unweighted(self, threshold, expected):
        obj = ks.metrics.BinaryIoU(target_class_ids=[0, 1], threshold=threshold)
        close(obj([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7]), expected)

    def test_multi_dim_input(self):
        obj = ks.metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.4, dtype="float32")
        result = obj(np.array([[0, 1], [0, 1]], dtype=np.float32),
                     np.array([[0.1, 0.7], [0.9, 0.3]]),
                     sample_weight=np.array([[0.2, 0.3], [0.4, 0.1]]))
        close(result, (0.2 / (0.6 + 0.3 - 0.2) + 0.3 / (0.4 + 0.7 - 0.3)) / 2)

    def test_zero_valid_entries(self):
        close(ks.metrics.BinaryIoU(target_class_ids=[0, 1]).result(), 0)

    def test_zero_and_non_zero_entries(self):
        obj = ks.metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.5)
        close(obj(np.array([1]), np.array([0.6], dtype=np.float32)), 1 / (1 + 1 - 1))


def _confusion_matrix(y_true, y_pred, num_classes):
    """Keras's test helper: the confusion matrix by np.bincount."""
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape((num_classes, num_classes))


class TestMeanIoU:
    def test_config(self):
        m_obj = ks.metrics.MeanIoU(num_classes=2, name="mean_iou")
        assert (m_obj.name, m_obj.num_classes) == ("mean_iou", 2)
        m_obj2 = ks.metrics.MeanIoU.from_config(m_obj.get_config())
        assert (m_obj2.name, m_obj2.num_classes) == ("mean_iou", 2)

    def test_unweighted(self):
        close(ks.metrics.MeanIoU(num_classes=2)(TRUE_4, PRED_4),
              (1 / (2 + 2 - 1) + 1 / (2 + 2 - 1)) / 2)

    @pytest.mark.parametrize("ignore_class", [255, -1], ids=["255", "1"])
    def test_unweighted_ignore_class(self, ignore_class):
        """test_unweighted_ignore_class_255 and test_unweighted_ignore_class_1 (the class -1)."""
        m_obj = ks.metrics.MeanIoU(num_classes=3, ignore_class=ignore_class)
        close(m_obj([0, 1, 2, ignore_class], [0, 1, 1, 1]),
              (1 / (1 + 1 - 1) + 1 / (2 + 1 - 1) + 0 / (0 + 1 - 0)) / 3)

    def test_weighted(self):
        m_obj = ks.metrics.MeanIoU(num_classes=2, dtype="float32")
        result = m_obj(np.array(TRUE_4), np.array(PRED_4, dtype=np.float32), sample_weight=WEIGHTS_4)
        close(result, (0.2 / (0.6 + 0.5 - 0.2) + 0.1 / (0.4 + 0.5 - 0.1)) / 2)

    def test_weighted_ignore_class_1(self):
        m_obj = ks.metrics.MeanIoU(num_classes=2, ignore_class=-1, dtype="float32")
        result = m_obj(np.array([0, 0, 1, -1]), np.array(PRED_4, dtype=np.float32),
                       sample_weight=WEIGHTS_4)
        close(result, (0.2 / (0.6 + 0.5 - 0.2) + 0.0 / (0.3 + 0.4 - 0.0)) / 2)

    def test_multi_dim_input(self):
        m_obj = ks.metrics.MeanIoU(num_classes=2, dtype="float32")
        result = m_obj(np.array([[0, 0], [1, 1]]), np.array([[0, 1], [0, 1]], dtype=np.float32),
                       sample_weight=np.array([[0.2, 0.3], [0.4, 0.1]]))
        close(result, (0.2 / (0.6 + 0.5 - 0.2) + 0.1 / (0.4 + 0.5 - 0.1)) / 2)

    def test_zero_valid_entries(self):
        close(ks.metrics.MeanIoU(num_classes=2).result(), 0)

    def test_zero_and_non_zero_entries(self):
        m_obj = ks.metrics.MeanIoU(num_classes=2)
        close(m_obj(np.array([1]), np.array([1], dtype=np.float32)), (0 + 1 / (1 + 1 - 1)) / 1)

    @pytest.mark.parametrize("y_true", [[0, 3], [0, -1]], ids=["out_of_range", "negative"])
    def test_out_of_range_and_negative_ignored(self, y_true):
        """test_out_of_range_ignored and test_negative_ignored."""
        m_obj = ks.metrics.MeanIoU(num_classes=2)
        m_obj.update_state(y_true, [0, 1])
        close(m_obj.result(), 1.0)

    def test_absent_class_contributes_zero(self):
        close(ks.metrics.MeanIoU(num_classes=3)([0, 0, 0, 0], [0, 0, 0, 0]), 1.0)

    @pytest.mark.parametrize("dtype", [None, "float32"])
    def test_big_chunk(self, dtype):
        """Keras's two halves: from a start matrix near 2**24 per cell, int32 (the default)
        counts every pixel exactly; float32 cannot, so its matrix differs from the exact one."""
        np.random.seed(14)
        all_y_true = np.random.choice([0, 1, 2], size=(10, 530, 530))
        random_probs = np.random.rand(10, 530, 530, 3)
        all_y_pred_arg = np.argmax(random_probs / random_probs.sum(axis=-1, keepdims=True), axis=-1)
        start = np.array([[18729664, 18728760, 18731196], [18727297, 18726105, 18728071],
                          [18727917, 18717835, 18723155]])
        metric = ks.metrics.MeanIoU(num_classes=3, dtype=dtype)
        metric.total_cm = torch.as_tensor(start).to(metric.torch_dtype)
        metric.update_state(all_y_true, all_y_pred_arg)
        exact = _confusion_matrix(all_y_true.reshape(-1), all_y_pred_arg.reshape(-1), 3) + start
        assert metric.total_cm.dtype == (torch.int32 if dtype is None else torch.float32)
        assert np.array_equal(metric.total_cm.numpy(), exact) == (dtype is None)

    def test_user_warning_float_weight(self):
        m_obj = ks.metrics.MeanIoU(num_classes=3)
        with pytest.warns(Warning, match=r"weight.*float.*int.*casting"):
            m_obj([0, 1, 1, 0], [0, 1, 1, 1], sample_weight=np.array([0.2, 0.3, 0.4, 0.1]))


class TestOneHotIoU:
    def test_unweighted(self):
        obj = ks.metrics.OneHotIoU(num_classes=3, target_class_ids=[0, 2])
        close(obj(ONE_HOT_4, SCORES_4), (0 / (1 + 2 - 0) + 1 / (3 + 1 - 1)) / 2)

    def test_weighted(self):
        obj = ks.metrics.OneHotIoU(num_classes=3, target_class_ids=[0, 2], dtype="float32")
        close(obj(ONE_HOT_4, SCORES_4, sample_weight=[0.1, 0.2, 0.3, 0.4]),
              (0 / (0.3 + 0.6 - 0) + 0.1 / (0.7 + 0.1 - 0.1)) / 2)


class TestOneHotMeanIoU:
    def test_unweighted(self):
        close(ks.metrics.OneHotMeanIoU(num_classes=3)(ONE_HOT_4, SCORES_4),
              (0 + 0 + 1 / (3 + 1 - 1)) / 3)

    def test_weighted(self):
        y_true = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]])
        y_pred = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5],
                           [0.6, 0.2, 0.2]])
        expected = (0.1 / (0.4 + 0.6 - 0.1) + 0 + 0.1 / (0.6 + 0.1 - 0.1)) / 3
        obj = ks.metrics.OneHotMeanIoU(num_classes=3, dtype="float32")
        close(obj(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.3, 0.1]), expected)
        obj_int = ks.metrics.OneHotMeanIoU(num_classes=3)  # same result with int weights
        close(obj_int(y_true, y_pred, sample_weight=[1, 2, 3, 3, 1]), expected)
