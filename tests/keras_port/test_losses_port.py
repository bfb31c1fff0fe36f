"""Keras 3.15.1 keras/src/losses/losses_test.py, ported onto ks.losses (first part: the
regression losses' weighting and reductions, the hinge family, SCCE's ignore_class).

Inputs and expected numbers are Keras's; the issue-23 root causes (weights (N, 1) broadcast to
(N, N), ignored rows counted in the divisor, positional order, NumPy / integer inputs) each have a
case here that fails on the code before the fix.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

Y_TRUE = np.array([[1, 9, 2], [-5, -2, 6]])
Y_PRED = np.array([[4, 8, 12], [8, 1, 3]], dtype="float32")


def close(value, expected, atol=1e-3):
    np.testing.assert_allclose(torch.as_tensor(value).float().numpy(), expected, rtol=1e-4, atol=atol)


def test_mse_config_round_trip():
    loss = ks.losses.MeanSquaredError(name="mymse")
    again = ks.losses.MeanSquaredError.from_config(loss.get_config())
    assert again.get_config() == {"name": "mymse", "reduction": "sum_over_batch_size"}


def test_mse_base_function_reduction():
    assert tuple(ks.losses.mean_squared_error(np.array([4, 8, 12]), np.array([[3], [0], [1]])).shape) == (3,)


def test_mse_all_correct_unweighted():
    y = np.array([[4, 8, 12], [8, 1, 3]])
    close(ks.losses.MeanSquaredError()(y, y), 0.0)


@pytest.mark.parametrize("weight, expected", [
    (None, 49.5), (2.3, 113.85), (np.array([[1.2], [3.4]]), 767.8 / 6), (0, 0.0)])
def test_mse_weighted(weight, expected):
    close(ks.losses.MeanSquaredError()(Y_TRUE, Y_PRED, sample_weight=weight), expected)


def test_mse_timestep_weighted():
    y_true = np.asarray([1, 9, 2, -5, -2, 6]).reshape(2, 3, 1)
    y_pred = np.asarray([4, 8, 12, 8, 1, 3]).reshape(2, 3, 1)
    weight = np.array([3, 6, 5, 0, 4, 2]).reshape((2, 3))
    close(ks.losses.MeanSquaredError()(y_true, y_pred, sample_weight=weight), 97.833336)


def test_mse_reductions():
    close(ks.losses.MeanSquaredError(reduction=None)(Y_TRUE, Y_PRED, sample_weight=2.3), [84.3333, 143.3666])
    close(ks.losses.MeanSquaredError(reduction="sum")(Y_TRUE, Y_PRED, sample_weight=2.3), 227.69998)
    loss = ks.losses.MeanSquaredError(reduction="mean_with_sample_weight")
    close(loss(Y_TRUE, Y_PRED, sample_weight=np.array([[1.2], [3.4]])),
          (110 / 3 * 1.2 + 187 / 3 * 3.4) / (1.2 + 3.4))


def test_positional_reduction_comes_first():
    loss = ks.losses.MeanSquaredError("sum")
    assert loss.reduction == "sum" and loss.name == "mean_squared_error"
    assert ks.losses.Huber(2.0, "sum").reduction == "sum"


def test_dtype_arg():
    loss = ks.losses.MeanSquaredError(dtype="bfloat16")
    assert loss.dtype == "bfloat16"
    assert loss(Y_TRUE, Y_PRED).dtype == torch.bfloat16


def test_bad_reduction_names_the_argument():
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        ks.losses.Hinge(reduction="abc")


@pytest.mark.parametrize("loss, weight, expected", [
    (ks.losses.MeanAbsoluteError(), np.array([[1.2], [3.4]]), 81.4 / 6),

])
def test_sample_weighted_per_row(loss, weight, expected):
    close(loss(Y_TRUE, Y_PRED, sample_weight=weight), expected)


def test_hinge():
    y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
    y_pred = np.array([[0.6, 0.4], [0.4, 0.6]])
    close(ks.losses.Hinge()(y_true, y_pred), 1.3)
    close(ks.losses.Hinge(reduction="sum")(y_true, y_pred), 2.6)
    close(ks.losses.Hinge(reduction=None)(y_true, y_pred), [1.1, 1.5])
    close(ks.losses.Hinge()(y_true, y_pred, sample_weight=[1, 0]), 0.55)
    close(ks.losses.Hinge(reduction=None)(y_true, y_pred, sample_weight=[1, 0]), [1.1, 0.0])


def test_scce_ignore_class_values():
    logits = np.array([[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]], dtype="float32")
    loss = ks.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=None)
    close(loss(np.array([[-1, 2]]), logits), [[0.0, 1.480129]])
    close(loss(np.array([[[-1], [2]]]), logits), [[0.0, 1.480129]])


def test_scce_ignore_class_leaves_ignored_rows_out_of_the_mean():
    logits = np.array([[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]], dtype="float32")
    loss = ks.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    close(loss(np.array([[-1, 2]]), logits), 1.480129)   # Keras: the one valid row's loss
