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


# ---------------------------------------------------------------- side by side with Keras itself

def _random_inputs(kind: str, rng: np.random.Generator, num_classes: int, batch=(6, 5)):
    """(y_true, y_pred, sample_weight) of one kind, as NumPy arrays both libraries take."""
    if kind == "sparse":  # class ids with some outside [0, num_classes), int weights
        return (rng.integers(-1, num_classes + 2, batch), rng.integers(-1, num_classes + 2, batch),
                rng.integers(0, 3, batch))
    if kind == "void":  # a 255 "void" class in the targets, float weights (float dtype)
        y_true = np.where(rng.random(batch) < 0.2, 255, rng.integers(0, num_classes, batch))
        return y_true, rng.integers(0, num_classes, batch), rng.random(batch)
    if kind == "scores":  # sparse targets, class scores as predictions, one weight per sample
        return (rng.integers(0, num_classes, batch), rng.random((*batch, num_classes)),
                rng.integers(1, 4, batch[0])[:, None].repeat(batch[1], axis=1))
    if kind == "one_hot":
        y_true = np.eye(num_classes)[rng.integers(0, num_classes, batch)]
        return y_true, rng.random((*batch, num_classes)), rng.random(batch)
    if kind == "one_hot_ids":  # one-hot targets, predictions already class ids
        y_true = np.eye(num_classes)[rng.integers(0, num_classes, batch)]
        return y_true, rng.integers(0, num_classes, batch), rng.random(batch)
    # "binary": scores on a 0.1 grid, so some equal the threshold exactly (class 1 there)
    return (rng.integers(0, 2, batch).astype("float32"),
            np.round(rng.random(batch), 1).astype("float32"), rng.integers(0, 3, batch))


SIDE_BY_SIDE = [
    ("IoU", dict(num_classes=4, target_class_ids=[0, 2, -1]), "sparse"),
    ("IoU", dict(num_classes=3, target_class_ids=[1], sparse_y_pred=False, ignore_class=0),
     "scores"),
    ("MeanIoU", dict(num_classes=3, ignore_class=255, dtype="float32"), "void"),
    ("MeanIoU", dict(num_classes=3, sparse_y_pred=False), "scores"),
    ("MeanIoU", dict(num_classes=5), "sparse"),
    ("OneHotIoU", dict(num_classes=4, target_class_ids=[1, 3], ignore_class=0, dtype="float32"),
     "one_hot"),
    ("OneHotMeanIoU", dict(num_classes=3, sparse_y_pred=True, dtype="float64"), "one_hot_ids"),
    ("BinaryIoU", dict(target_class_ids=[1], threshold=0.3), "binary"),
    ("BinaryIoU", dict(target_class_ids=[0, 1], threshold=0.5, dtype="float32"), "binary"),
]


@pytest.mark.parametrize("cls, kwargs, kind", SIDE_BY_SIDE,
                         ids=[f"{c}-{k}-{i}" for i, (c, _, k) in enumerate(SIDE_BY_SIDE)])
def test_matches_keras_on_random_inputs(cls, kwargs, kind):
    """Two weighted updates, then one unweighted after reset_state: Keras's matrix and result."""
    rng = np.random.default_rng(len(kind) + len(kwargs))
    ours, theirs = getattr(ks.metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    num_classes = kwargs.get("num_classes", 2)
    for batch in range(3):
        if batch == 2:
            ours.reset_state()
            theirs.reset_state()
        y_true, y_pred, weights = _random_inputs(kind, rng, num_classes)
        weights = None if batch == 2 else weights
        ours.update_state(y_true, y_pred, sample_weight=weights)
        theirs.update_state(y_true, y_pred, sample_weight=weights)
        np.testing.assert_allclose(ours.total_cm.numpy(), keras.ops.convert_to_numpy(theirs.total_cm),
                                   rtol=1e-6)
        np.testing.assert_allclose(ours.result().numpy(), keras.ops.convert_to_numpy(theirs.result()),
                                   rtol=1e-6, atol=1e-7)
    assert ours.result().dtype == torch.float32


def test_channels_first_axis_counts_as_keras_and_has_a_result():
    """With axis=1 Keras's matrix is counted over the class axis 1, but its result() then sums
    over axis 1 of a vector and raises; ours gives the value Keras gives for axis=-1."""
    rng = np.random.default_rng(3)
    y_true, scores = rng.integers(0, 3, (4, 6)), rng.random((4, 3, 6))
    ours = ks.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, axis=1)
    theirs = keras.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, axis=1)
    ours.update_state(y_true, scores)
    theirs.update_state(y_true, scores)
    np.testing.assert_array_equal(ours.total_cm.numpy(), keras.ops.convert_to_numpy(theirs.total_cm))
    with pytest.raises(IndexError):
        theirs.result()
    last_axis = keras.metrics.MeanIoU(num_classes=3, sparse_y_pred=False)
    last_axis.update_state(y_true, np.moveaxis(scores, 1, -1))
    close(ours.result(), keras.ops.convert_to_numpy(last_axis.result()))


@pytest.mark.parametrize("cls, kwargs", [
    ("IoU", dict(num_classes=3, target_class_ids=[2, 0], ignore_class=-1, sparse_y_pred=False)),
    ("BinaryIoU", dict(target_class_ids=[1], threshold=0.25, dtype="float32")),
    ("MeanIoU", dict(num_classes=4, ignore_class=255, axis=1)),
    ("OneHotIoU", dict(num_classes=3, target_class_ids=[1], sparse_y_pred=True)),
    ("OneHotMeanIoU", dict(num_classes=3, dtype="float64")),
])
def test_config_is_kerass(cls, kwargs):
    ours = getattr(ks.metrics, cls)(name="m", **kwargs)
    theirs = getattr(keras.metrics, cls)(name="m", **kwargs)
    assert ours.get_config() == theirs.get_config()
    assert ours.dtype == theirs.dtype
    again = getattr(ks.metrics, cls).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_default_names_and_dtype_are_kerass():
    ours = [ks.metrics.IoU(2, [0]), ks.metrics.BinaryIoU(), ks.metrics.MeanIoU(2),
            ks.metrics.OneHotIoU(2, [0]), ks.metrics.OneHotMeanIoU(2)]
    assert [m.name for m in ours] == ["io_u", "binary_io_u", "mean_io_u", "one_hot_io_u",
                                      "one_hot_mean_io_u"]
    assert {m.dtype for m in ours} == {keras.metrics.MeanIoU(2).dtype} == {"int32"}


# ------------------------------------------------------------------- compile, fit and evaluate

def test_mean_iou_in_compile_logs_kerass_values_through_fit_and_evaluate():
    """ks.metrics.MeanIoU and a keras.metrics.MeanIoU object, each in compile on the twin of a
    Keras model, log what Keras logs: the matrix accumulates over the epoch (not a batch mean)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.integers(0, 3, 32)
    fit_args = dict(batch_size=8, epochs=2, shuffle=False, verbose=0, validation_data=(x, y))
    kmodel, _ = dense_model(features=4, heads=(("output_0", 3, "softmax"),))
    kmodel.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy",
                   metrics=[keras.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, name="miou")])
    theirs = kmodel.fit(x, y, **fit_args).history
    their_eval = kmodel.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert len(set(theirs["miou"])) == 2  # the metric moves: the comparison means something
    for metric in (ks.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, name="miou"),
                   keras.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, name="miou")):
        _, twin = dense_model(features=4, heads=(("output_0", 3, "softmax"),))
        model = ks.Model(twin, device="cpu").compile(
            torch.optim.SGD(twin.parameters(), lr=0.5), "sparse_categorical_crossentropy",
            metrics=[metric])
        assert_logs_close(model.fit(x, y, **fit_args).history, theirs, rtol=1e-5, atol=1e-5)
        assert_logs_close(model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True),
                          their_eval, rtol=1e-5, atol=1e-5)


def test_a_keras_iou_object_in_compile_is_a_keras_metric_with_summed_state():
    wrapped = ks.metrics.get_metric(keras.metrics.OneHotMeanIoU(num_classes=3, name="k"))
    assert isinstance(wrapped, ks.metrics.KerasMetric) and wrapped.name == "k"
    (state,) = wrapped.summed_state()  # its confusion matrix has aggregation="sum"
    assert tuple(state.shape) == (3, 3)


def test_early_stopping_maximises_iou_in_auto_mode_as_keras():
    """Keras's IoU metrics say "up" (``_direction``); kerasish reads it from the log key."""
    for key in ("val_mean_io_u", "io_u", "val_binary_io_u", "one_hot_io_u_1", "one_hot_mean_io_u"):
        assert ks.callbacks.EarlyStopping(monitor=key).direction == "max", key


# ----------------------------------------------------------------------- state and bad input

def test_summed_state_of_two_ranks_gives_the_whole_data_sets_result():
    """Each rank's matrix, summed as the cross-rank reduction sums it (in float32), and loaded
    back: the result over all the data, in the matrix's own dtype."""
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
    whole, ranks = ks.metrics.MeanIoU(3), [ks.metrics.MeanIoU(3), ks.metrics.MeanIoU(3)]
    whole.update_state(y_true, y_pred)
    ranks[0].update_state(y_true[:20], y_pred[:20])
    ranks[1].update_state(y_true[20:], y_pred[20:])
    summed = [sum(m.summed_state()[i].reshape(-1).float() for m in ranks) for i in range(1)]
    ranks[0].load_summed_state(summed)
    assert ranks[0].total_cm.dtype == torch.int32 and ranks[0].total_cm.shape == (3, 3)
    assert torch.equal(ranks[0].total_cm, whole.total_cm)
    assert torch.equal(ranks[0].result(), whole.result())
    assert [t.shape for t in ks.metrics.MeanIoU(3).variables] == [(3, 3)]


def test_update_and_result_read_nothing_from_the_device(host_reads):
    metric = ks.metrics.OneHotMeanIoU(num_classes=3, ignore_class=1, dtype="float32")
    y_true = torch.eye(3)[torch.randint(0, 3, (16,))]
    y_pred, weights = torch.rand(16, 3), torch.rand(16)
    metric.result()
    host_reads["n"] = 0
    for _ in range(5):
        metric.update_state(y_true, y_pred, sample_weight=weights)
        metric.result()
    assert host_reads["n"] == 0


@pytest.mark.parametrize("make, match", [
    (lambda: ks.metrics.IoU(3, [3]), r"target_class_ids \[3\] out of range"),
    (lambda: ks.metrics.IoU(3, [-4]), r"target_class_ids \[-4\] out of range"),
    (lambda: ks.metrics.IoU(3, []), "non-empty list"),
    (lambda: ks.metrics.IoU(3, 1), "list or tuple"),
    (lambda: ks.metrics.IoU(3, [0.5]), "integer class ids"),
    (lambda: ks.metrics.MeanIoU(0), "num_classes"),
    (lambda: ks.metrics.MeanIoU(3, ignore_class=0.5), "ignore_class"),
    (lambda: ks.metrics.BinaryIoU(threshold="0.5"), "threshold"),
    (lambda: ks.metrics.MeanIoU(3, dtype="bool"), "dtype"),
])
def test_bad_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_batches_name_the_fix():
    metric = ks.metrics.MeanIoU(3)
    with pytest.raises(ValueError, match=r"y_true gives 4 class ids and y_pred 12.*sparse_y_pred"):
        metric.update_state([0, 1, 2, 0], np.random.rand(4, 3))
    with pytest.raises(ValueError, match=r"sample_weight has 2 values but the batch has 6"):
        metric.update_state(np.zeros((2, 3), dtype=int), np.zeros((2, 3), dtype=int),
                            sample_weight=[1, 2])
    assert int(metric.total_cm.sum()) == 0  # nothing counted by the refused batches
    ks.metrics.IoU(3, [np.int64(1)]).update_state([1], [1])  # NumPy ids, as Keras takes them


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [None, "float32"])
def test_on_cuda_the_matrix_stays_there_without_syncs(dtype):
    """On CUDA (the lent device machine; CI skips): no device->host sync per update or read,
    and the same matrix as on CPU."""
    rng = np.random.default_rng(5)
    y_true, y_pred, weights = (torch.as_tensor(a) for a in _random_inputs("scores", rng, 3))
    on_cpu = ks.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, ignore_class=2, dtype=dtype)
    on_gpu = ks.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, ignore_class=2, dtype=dtype)
    gpu = [t.cuda() for t in (y_true, y_pred, weights)]
    on_gpu.update_state(*gpu[:2], sample_weight=gpu[2])
    on_gpu.result()  # the first read copies the class ids to the device once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            on_gpu.update_state(*gpu[:2], sample_weight=gpu[2])
            on_gpu.result()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for _ in range(4):
        on_cpu.update_state(y_true, y_pred, sample_weight=weights)
    assert on_gpu.total_cm.device.type == "cuda"
    torch.testing.assert_close(on_gpu.total_cm.cpu(), on_cpu.total_cm)
    torch.testing.assert_close(on_gpu.result().cpu(), on_cpu.result())
