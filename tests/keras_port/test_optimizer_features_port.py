"""Keras 3.15.1's cases of the optimizer features shared by every optimizer: the moving average
(``use_ema``), a function as the learning rate, static loss scaling and ``set_weights``
(``keras/src/optimizers/optimizer_test.py``, ``adam_test.py::test_ema``,
``adam_test.py::test_ema_overwrite_frequency``, ``lion_test.py::test_ema``), with Keras's inputs and
numbers; then kerasish's own guarantees around them (the averages resume exactly, compile's refusals).

Keras's private ``_model_variables_moving_average`` is the public ``moving_averages``.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras, linear_from
from helpers import InterruptAfter, Interrupted, same_weights, weights_of


def variable(values):
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float32))


def close(actual, expected, tol=1e-6):
    np.testing.assert_allclose(torch.as_tensor(actual).detach().numpy(), expected, rtol=tol, atol=tol)


# optimizer_test.py
def test_ema():
    v = variable([[3.0, 4.0], [5.0, 6.0]])
    optimizer = ks.optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.9,
                                  ema_overwrite_frequency=3)
    after = [([[2.0, 3.0], [4.0, 5.0]], [[2.0, 3.0], [4.0, 5.0]]),  # the average starts at the first step
             ([[1.0, 2.0], [3.0, 4.0]], [[1.9, 2.9], [3.9, 4.9]]),
             ([[1.71, 2.71], [3.71, 4.71]], [[1.71, 2.71], [3.71, 4.71]])]  # overwritten at step 3
    for weights, average in after:
        optimizer.apply_gradients([(torch.ones(2, 2), v)])
        close(v, weights)
        close(optimizer.moving_averages[0], average)


def test_ema_with_model_fit():
    module = torch.nn.Linear(1, 2, bias=False)
    torch.nn.init.ones_(module.weight)
    optimizer = ks.optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.9)
    model = ks.Model(module, device="cpu")
    model.compile(loss="mse", optimizer=optimizer)
    model.fit(np.ones((1, 1), "float32"), np.zeros((1, 2), "float32"), batch_size=1, epochs=2, verbose=0)
    close(optimizer.moving_averages[0].T, [[0.891, 0.891]], 1e-5)
    close(module.weight.T, [[0.891, 0.891]], 1e-5)


def test_static_loss_scaling():
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer = ks.optimizers.SGD(learning_rate=1.0, loss_scale_factor=1024.0)
    optimizer.apply_gradients([(torch.tensor([[1.0, 2.0], [3.0, 4.0]]) * 1024.0, v)])
    assert optimizer.scale_loss(1.0) == 1024.0
    close(v, [[0.0, 0.0], [0.0, 0.0]])


def test_set_weights():
    x = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer_1 = ks.optimizers.Adam()
    optimizer_1.apply_gradients(zip([torch.tensor([[1.0, 2.0], [3.0, 4.0]])], [x]))
    optimizer_2 = ks.optimizers.Adam()
    with pytest.raises(ValueError, match="You are calling"):
        optimizer_2.set_weights(optimizer_1.variables)
    optimizer_2.build([x])
    optimizer_2.set_weights(optimizer_1.variables)
    assert len(optimizer_2.variables) == len(optimizer_1.variables) == 5  # iterations, lr, 2 moments, step
    for mine, theirs in zip(optimizer_1.variables, optimizer_2.variables):
        close(theirs, torch.as_tensor(mine).numpy())
    assert not torch.equal(optimizer_1.variables[2], torch.zeros(2, 2))  # a moment, not a fresh zero


def test_callable_learning_rate():
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer = ks.optimizers.SGD(learning_rate=lambda: 0.1)
    assert optimizer.iterations == 0
    optimizer.apply_gradients([(torch.ones(2, 2), v)])
    close(v, [[0.9, 1.9], [2.9, 3.9]])
    assert optimizer.iterations == 1


# adam_test.py
def test_adam_ema():
    optimizer = ks.optimizers.Adam(learning_rate=1.0, use_ema=True, ema_momentum=0.9)
    var = variable([1.0, 2.0])
    grads = torch.tensor([0.1, 0.2])
    optimizer.apply_gradients([(grads, var)])
    v1 = var.detach().clone()
    close(optimizer.moving_averages[0], v1.numpy())
    optimizer.apply_gradients([(grads, var)])
    expected = 0.9 * v1 + 0.1 * var.detach()
    close(optimizer.moving_averages[0], expected.numpy())
    optimizer.finalize_variable_values([var])
    close(var, expected.numpy())

    module = torch.nn.Linear(5, 10, bias=False)
    torch.nn.init.ones_(module.weight)
    model = ks.Model(module, device="cpu")
    model.compile(optimizer=ks.optimizers.Adam(use_ema=True, ema_momentum=0.9), loss="mse")
    model.fit(np.ones((1, 5), "float32"), np.zeros((1, 10), "float32"), verbose=0)
    average = ks.optimizers.moving_average.moving_averages(model.optimizer, [module.weight])[0]
    close(module.weight, average.numpy())
    assert not torch.equal(module.weight, torch.ones(10, 5))


def test_adam_ema_overwrite_frequency():
    optimizer = ks.optimizers.Adam(learning_rate=1.0, use_ema=True, ema_momentum=0.9,
                                   ema_overwrite_frequency=2)
    optimizer_no_ema = ks.optimizers.Adam(learning_rate=1.0)
    var, var_no_ema = variable([1.0, 2.0]), variable([1.0, 2.0])
    grads = torch.tensor([0.1, 0.2])
    optimizer.apply_gradients([(grads, var)])
    optimizer_no_ema.apply_gradients([(grads, var_no_ema)])
    v1 = var_no_ema.detach().clone()
    close(var, v1.numpy())  # not overwritten yet
    optimizer.apply_gradients([(grads, var)])
    optimizer_no_ema.apply_gradients([(grads, var_no_ema)])
    expected = 0.9 * v1 + 0.1 * var_no_ema.detach()
    close(var, expected.numpy())  # updated, then overwritten by the average
    close(optimizer.moving_averages[0], expected.numpy())


# lion_test.py (Keras only runs it, "TODO: test correctness": here Keras's fit is the reference)
def test_lion_ema():
    dense = keras.Sequential([keras.Input((5,)), keras.layers.Dense(10)])
    module = linear_from(dense.layers[0])
    x, y = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5), np.zeros((2, 10), "float32")
    dense.compile(optimizer=keras.optimizers.Lion(use_ema=True), loss="mse")
    dense.fit(x, y, epochs=3, verbose=0)
    model = ks.Model(module, device="cpu")
    model.compile(optimizer=ks.optimizers.Lion(use_ema=True), loss="mse")
    model.fit(x, y, epochs=3, verbose=0)
    kernel, bias = dense.layers[0].get_weights()
    close(module.weight.T, kernel, 1e-5)
    close(module.bias, bias, 1e-5)


# kerasish's own
def _ema_model():
    torch.manual_seed(0)
    model = ks.Model(torch.nn.Linear(3, 2), device="cpu")
    model.compile(ks.optimizers.Adam(learning_rate=0.05, use_ema=True, ema_momentum=0.8,
                                     ema_overwrite_frequency=4), "mse")
    return model


def _ema_fit(model, callbacks):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 3)).astype("float32"), rng.normal(size=(24, 2)).astype("float32")
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=callbacks)


def test_the_moving_average_resumes_exactly(tmp_path):
    expected = _ema_model()
    _ema_fit(expected, [])
    interrupted = _ema_model()
    with pytest.raises(Interrupted):  # mid-epoch 1, after an overwrite at step 4 and 8
        _ema_fit(interrupted, [ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1),
                               InterruptAfter(9)])
    saved = torch.load(tmp_path / "b" / "backup.pt", weights_only=True)["optimizer"]["state"]
    assert all("average" in entry for entry in saved.values())
    resumed = _ema_model()
    _ema_fit(resumed, [ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)])
    assert same_weights(weights_of(resumed.module), weights_of(expected.module))


def test_compile_refuses_what_fit_does_elsewhere():
    module = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match=r"precision='mixed_float16'"):
        ks.Model(module).compile(ks.optimizers.SGD(loss_scale_factor=128.0), "mse")
    with pytest.raises(ValueError, match="use_ema=True is not supported"):
        ks.Model(module).compile(ks.optimizers.SGD(use_ema=True), "mse", gradient_accumulation_steps=2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(ema_momentum=1.5), r"`ema_momentum` must be in the range \[0, 1\]"),
    (dict(ema_overwrite_frequency=1.5), "`ema_overwrite_frequency` must be an integer >= 1 or None"),
])
def test_bad_ema_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ks.optimizers.SGD(use_ema=True, **kwargs)


def test_a_function_learning_rate_is_called_before_each_step_and_not_settable():
    rates = iter([0.5, 0.25])
    v = variable([1.0])
    optimizer = ks.optimizers.SGD(learning_rate=lambda: next(rates, 0.0))  # build reads the first
    optimizer.apply_gradients([(torch.ones(1), v)])
    close(v, [0.75])
    model = ks.Model(torch.nn.Linear(2, 1))
    model.compile(ks.optimizers.SGD(learning_rate=lambda: 0.1), "mse")
    with pytest.raises(TypeError, match="not settable"):
        model.learning_rate = 0.5
