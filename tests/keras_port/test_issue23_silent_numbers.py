"""The silent wrong numbers issue 23 names, each against Keras 3 run on the same inputs.

Each of these gave a plausible number without an error before the fix (the old value is in the
comment), so each is checked against Keras itself, not against a constant of ours.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras


def both(make_ours, make_theirs, *args, **kwargs):
    ours = float(make_ours()(*args, **kwargs))
    theirs = float(make_theirs()(*args, **kwargs))
    return ours, theirs


def test_sparse_crossentropy_ignore_class_leaves_the_divisor():  # was 0.7401, Keras 1.4801
    y_true = np.array([[-1, 2]])
    logits = np.array([[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]], dtype="float32")
    ours, theirs = both(lambda: ks.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
                        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
                        y_true, logits)
    assert ours == pytest.approx(theirs, rel=1e-6) and theirs == pytest.approx(1.480129, rel=1e-5)


def test_a_column_of_sample_weights_weights_samples_not_a_matrix():  # was 227.700, Keras 127.967
    y_true = np.array([[1, 9, 2], [-5, -2, 6]], dtype="float32")
    y_pred = np.array([[4, 8, 12], [8, 1, 3]], dtype="float32")
    weight = np.array([[1.2], [3.4]], dtype="float32")
    ours, theirs = both(ks.losses.MeanSquaredError, keras.losses.MeanSquaredError, y_true, y_pred,
                        sample_weight=weight)
    assert ours == pytest.approx(theirs, rel=1e-6)


@pytest.mark.parametrize("make_ours, make_theirs, args", [
    # Mean with negative weights: was -4.0e12
    (ks.metrics.Mean, keras.metrics.Mean, ([1, 3, 5, 7], [-1, -1, 0, 0])),
    # rank-1 inputs are element-wise: was 0.75
    (ks.metrics.Accuracy, keras.metrics.Accuracy, ([1, 2, 3, 4], [0, 2, 3, 4], [1, 1, 0, 0])),
    # a soft label is a miss: was 1.0
    (ks.metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy, ([[0.3], [1.0]], [[0.1], [0.9]], None)),
], ids=["mean-negative-weights", "accuracy-rank-1-weighted", "binary-accuracy-soft-labels"])
def test_metric_numbers_match_keras(make_ours, make_theirs, args):
    ours, theirs = make_ours(), make_theirs()
    arrays = [None if a is None else np.asarray(a, dtype="float32") for a in args]
    if len(arrays) == 2:
        ours.update_state(arrays[0], sample_weight=arrays[1])
        theirs.update_state(arrays[0], sample_weight=arrays[1])
    else:
        ours.update_state(arrays[0], arrays[1], sample_weight=arrays[2])
        theirs.update_state(arrays[0], arrays[1], sample_weight=arrays[2])
    assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-6)


def test_positional_loss_arguments_follow_keras():  # MeanSquaredError("sum") set the name
    loss = ks.losses.MeanSquaredError("sum")
    assert loss.reduction == keras.losses.MeanSquaredError("sum").reduction == "sum"
    y = torch.ones(4, 1)
    assert float(loss(y, 3 * y)) == pytest.approx(16.0)


@pytest.mark.parametrize("name", ["Hinge", "SquaredHinge"])
@pytest.mark.parametrize("labels", [[[-1.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]], [[-1.0, 1.0, 1.0]]],
                         ids=["mixed", "binary", "plus-minus"])
def test_hinge_losses_convert_labels_as_keras(name, labels):
    """Keras turns labels to -1/1 only when all are 0/1; a mix such as -1/0/1 is kept (the loss
    turned each 0 into -1: 0.700 where Keras gives 0.833)."""
    y_true, y_pred = np.array(labels), np.array([[0.3, -0.4, 0.8]], dtype="float32")
    ours, theirs = both(getattr(ks.losses, name), getattr(keras.losses, name), y_true, y_pred)
    assert ours == pytest.approx(theirs, rel=1e-6)
    metric = getattr(ks.metrics, name)()
    metric.update_state(torch.as_tensor(y_true), torch.as_tensor(y_pred))
    assert float(metric.result()) == pytest.approx(theirs, rel=1e-6)
