"""kerasish.initializers.keras_defaults puts torch layers where Keras 3 starts them: the statistics
of Keras's own initialised layers (torch backend) are the reference."""

import math
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from kerasish.initializers import keras_defaults  # noqa: E402


def _keras_kernel(layer, input_shape):
    layer.build(input_shape)
    return np.asarray(layer.kernel.numpy()), np.asarray(layer.bias.numpy())


def _glorot_limit(kernel: np.ndarray) -> float:
    receptive = math.prod(kernel.shape[:-2]) if kernel.ndim > 2 else 1
    return math.sqrt(6.0 / ((kernel.shape[-2] + kernel.shape[-1]) * receptive))


@pytest.mark.parametrize("ours, theirs, input_shape", [
    (torch.nn.Linear(256, 128), keras.layers.Dense(128), (None, 256)),
    (torch.nn.Conv2d(16, 32, 3), keras.layers.Conv2D(32, 3), (None, 8, 8, 16)),
    (torch.nn.Conv1d(24, 48, 5, groups=2), keras.layers.Conv1D(48, 5, groups=2), (None, 30, 24)),
    (torch.nn.ConvTranspose2d(16, 32, 3), keras.layers.Conv2DTranspose(32, 3), (None, 8, 8, 16)),
], ids=["dense", "conv2d", "grouped-conv1d", "conv2d-transpose"])
def test_kernels_get_keras_glorot_uniform_and_zero_biases(ours, theirs, input_shape):
    torch.manual_seed(0)
    keras_defaults(ours)
    kernel, bias = _keras_kernel(theirs, input_shape)
    limit = _glorot_limit(kernel)  # Keras's fans, from Keras's kernel layout
    weight = ours.weight.detach().numpy()
    assert weight.size == kernel.size
    assert np.abs(weight).max() <= limit and np.abs(kernel).max() <= limit
    assert np.abs(weight).max() > 0.97 * limit
    assert weight.std() == pytest.approx(kernel.std(), rel=0.06)
    assert weight.std() == pytest.approx(limit / math.sqrt(3), rel=0.06)
    assert not ours.bias.detach().numpy().any() and not bias.any()


def test_embeddings_get_keras_uniform_005():
    ours = keras_defaults(torch.nn.Embedding(500, 64)).weight.detach().numpy()
    layer = keras.layers.Embedding(500, 64)
    layer.build((None,))
    theirs = np.asarray(layer.embeddings.numpy())
    assert np.abs(ours).max() <= 0.05 and np.abs(ours).max() > 0.049
    assert ours.std() == pytest.approx(theirs.std(), rel=0.05)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_layers_get_glorot_inputs_orthogonal_recurrence_and_keras_biases(kind):
    units, features = 32, 20
    ours = keras_defaults(getattr(torch.nn, kind)(features, units, num_layers=2, bidirectional=True))
    theirs = getattr(keras.layers, kind)(units)
    theirs.build((None, 7, features))
    kernel = np.asarray(theirs.cell.kernel.numpy())              # (features, gates * units)
    recurrent = np.asarray(theirs.cell.recurrent_kernel.numpy())  # (units, gates * units)
    keras_bias = np.asarray(theirs.cell.bias.numpy()).reshape(-1, kernel.shape[1]).sum(axis=0)

    weight_ih = ours.weight_ih_l0.detach().numpy()  # torch: (gates * units, features)
    assert weight_ih.shape == kernel.T.shape
    assert np.abs(weight_ih).max() <= _glorot_limit(kernel)
    assert weight_ih.std() == pytest.approx(kernel.std(), rel=0.08)
    for name, parameter in ours.named_parameters():
        if name.startswith("weight_hh"):  # orthonormal columns here, orthonormal rows in Keras
            w = parameter.detach().numpy()
            np.testing.assert_allclose(w.T @ w, np.eye(units), atol=1e-5)
            np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(units), atol=1e-5)
        if name.startswith("bias_ih"):  # Keras's one bias is torch's bias_ih + bias_hh
            total = parameter + getattr(ours, name.replace("bias_ih", "bias_hh"))
            np.testing.assert_array_equal(total.detach().numpy(), keras_bias)
    if kind == "LSTM":
        assert keras_bias[units:2 * units].tolist() == [1.0] * units  # unit_forget_bias


def test_batch_norm_gets_keras_epsilon_and_momentum_and_updates_its_mean_as_keras():
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 4, 5, 5)).astype("float32")
    ours = keras_defaults(torch.nn.BatchNorm2d(4)).train()
    theirs = keras.layers.BatchNormalization()
    assert ours.eps == theirs.epsilon == 1e-3
    assert ours.momentum == pytest.approx(1 - theirs.momentum)
    ours(torch.tensor(x))
    theirs(np.moveaxis(x, 1, -1), training=True)  # Keras is channels-last
    np.testing.assert_allclose(ours.running_mean.numpy(), np.asarray(theirs.moving_mean.numpy()), rtol=1e-5)
    # The one difference no setting removes: torch folds in the unbiased batch variance.
    n = x.shape[0] * x.shape[2] * x.shape[3]
    torch_var = ours.running_var.numpy()
    keras_var = np.asarray(theirs.moving_variance.numpy())
    np.testing.assert_allclose((torch_var - 0.99) * (n - 1) / n, keras_var - 0.99, rtol=1e-4)


def test_layer_and_group_norm_get_keras_epsilon():
    net = keras_defaults(torch.nn.Sequential(torch.nn.LayerNorm(8), torch.nn.GroupNorm(2, 8)))
    assert net[0].eps == keras.layers.LayerNormalization().epsilon
    assert net[1].eps == keras.layers.GroupNormalization().epsilon


def test_keras_defaults_returns_the_module_and_refuses_anything_else():
    net = torch.nn.Linear(2, 2)
    assert keras_defaults(net) is net
    with pytest.raises(TypeError, match="torch.nn.Module"):
        keras_defaults(lambda x: x)
